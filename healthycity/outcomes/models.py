"""Outcomes tables: the indicator catalogue, what the partnership aims for, and the data.

Why these shapes:

- ``Indicator`` carries the metadata Fingertips users rely on, so an indicator page can
  say what is measured, how and with which caveats, whether it came from the city pack,
  from Fingertips or from a local file.
- ``Observation`` is one published figure, keyed like Fingertips' own CSV: indicator,
  area, time period, sex, age and category. Empty text (not NULL) stands for "no
  category", so the unique key works the same on SQLite and PostgreSQL, where NULLs are
  never equal. Statistics are floats; the published comparison text is kept as given,
  next to this project's own judgement computed at read time.
- ``DataRelease`` records every load that changed something, so the site can say
  "last updated" and "illustrative data" without guessing.
- ``Aspiration`` (with its ``Ambition``s), ``LifeStage``, ``VisionPriority`` and
  ``Commitment`` come from the city pack; they live here because indicators and targets
  hang from them and the outcomes pages are organised around them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from healthycity.core.db import Base

# Where an indicator's definition came from.
SOURCE_PACK = "pack"
SOURCE_FINGERTIPS = "fingertips"
SOURCE_CSV = "csv"
# An indicator the demonstration generator made up for itself (its population), so the
# illustrative pages have what real data would bring; removed with the demo data.
SOURCE_DEMO = "demo"
INDICATOR_SOURCES = (SOURCE_PACK, SOURCE_FINGERTIPS, SOURCE_CSV, SOURCE_DEMO)

# Value types (issue 3 §1), as the city pack writes them; an indirectly standardised
# ratio or rate is "isr" (its multiplier tells which). Fingertips' own labels map onto
# these in healthycity.outcomes.fingertips_columns.
PROPORTION = "proportion"
CRUDE_RATE = "crude_rate"
DSR = "dsr"
ISR = "isr"
MEAN = "mean"
LIFE_EXPECTANCY = "life_expectancy"
COUNT = "count"
GAP = "gap"
OTHER = "other"
VALUE_TYPES = (
    PROPORTION,
    CRUDE_RATE,
    DSR,
    ISR,
    MEAN,
    LIFE_EXPECTANCY,
    COUNT,
    GAP,
    OTHER,
)

# Polarity: which direction is good. NULL means "not known yet" (an indicator created
# from a file without metadata); it is then compared as higher/similar/lower.
HIGH_IS_GOOD = "high_is_good"
LOW_IS_GOOD = "low_is_good"
NO_JUDGEMENT = "no_judgement"
POLARITIES = (HIGH_IS_GOOD, LOW_IS_GOOD, NO_JUDGEMENT)

# What an indicator or a target is linked to in the city pack.
LINK_ASPIRATION = "aspiration"
LINK_COMMITMENT = "commitment"
LINK_KINDS = (LINK_ASPIRATION, LINK_COMMITMENT)

# Target kinds (the pack's vocabulary) and status.
TARGET_KINDS = ("absolute", "relative_change", "absolute_change", "zero", "direction", "benchmark")
TARGET_SET = "set"
TARGET_NOT_SET = "not_set"

# Key defaults: Fingertips' own words for "everyone".
ALL_PERSONS = "Persons"
ALL_AGES = "All ages"


def utcnow() -> datetime:
    return datetime.now(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key for
# tables that may hold tens of millions of rows.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Indicator(Base):
    """A measure the partnership tracks, with the metadata a Fingertips user expects."""

    __tablename__ = "indicator"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    short_name: Mapped[str | None] = mapped_column(String(200))
    definition: Mapped[str | None] = mapped_column(Text)
    rationale: Mapped[str | None] = mapped_column(Text)
    methodology: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(100))
    value_type: Mapped[str] = mapped_column(String(30), default=OTHER)
    multiplier: Mapped[float | None] = mapped_column(Float)
    polarity: Mapped[str | None] = mapped_column(String(20))
    # The confidence level comparisons use: NULL is Fingertips' usual 95%; 0.998 where
    # the published judgements show the indicator is compared at 99.8%.
    comparison_level: Mapped[float | None] = mapped_column(Float)
    decimals: Mapped[int | None] = mapped_column(Integer)
    fingertips_id: Mapped[str | None] = mapped_column(String(32), index=True)
    numerator_definition: Mapped[str | None] = mapped_column(Text)
    numerator_source: Mapped[str | None] = mapped_column(Text)
    denominator_definition: Mapped[str | None] = mapped_column(Text)
    denominator_source: Mapped[str | None] = mapped_column(Text)
    standard_population: Mapped[str | None] = mapped_column(Text)
    confidence_interval_method: Mapped[str | None] = mapped_column(Text)
    disclosure_control: Mapped[str | None] = mapped_column(Text)
    caveats: Mapped[str | None] = mapped_column(Text)
    data_source: Mapped[str | None] = mapped_column(Text)
    frequency: Mapped[str | None] = mapped_column(String(200))
    # As published: a year, year-month or full ISO date.
    last_updated: Mapped[str | None] = mapped_column(String(10))
    # Where and for whom the indicator is published (pack: area_levels, sexes, age).
    area_levels: Mapped[list[str] | None] = mapped_column(JSON)
    sexes: Mapped[list[str] | None] = mapped_column(JSON)
    age: Mapped[str | None] = mapped_column(String(60))
    # Plausible values for generating illustrative data only (pack ``demo``).
    demo_hint: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(20), default=SOURCE_CSV)
    pack_id: Mapped[str | None] = mapped_column(String(64))
    sort_order: Mapped[int | None] = mapped_column(Integer)
    # Other published metadata (copyright, links, notes…), kept rather than dropped.
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When this indicator's observations last changed in this database.
    data_loaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    links: Mapped[list[IndicatorLink]] = relationship(
        cascade="all, delete-orphan", order_by="IndicatorLink.id", back_populates="indicator"
    )
    targets: Mapped[list[Target]] = relationship(
        cascade="all, delete-orphan", order_by="Target.id", back_populates="indicator"
    )


class IndicatorLink(Base):
    """An indicator tracks an aspiration's ambition, a vision priority or a commitment."""

    __tablename__ = "indicator_link"
    __table_args__ = (
        UniqueConstraint("indicator_id", "kind", "slug"),
        Index("ix_indicator_link_kind_slug", "kind", "slug"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[str] = mapped_column(
        ForeignKey("indicator.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    slug: Mapped[str] = mapped_column(String(100))

    indicator: Mapped[Indicator] = relationship(back_populates="links")


class Target(Base):
    """A target as its source states it, for one aspiration (ambition) or commitment.

    ``kind`` (the city pack's words): ``absolute`` (reach ``value``), ``relative_change``
    (change by ``value`` per cent of the baseline), ``absolute_change`` (by ``value`` in
    the indicator's unit), ``zero``, ``direction`` (a direction, no figure) or
    ``benchmark`` (a position such as "top quartile"). ``status`` ``not_set`` keeps a
    target whose figure the source left open ("X%"): ``value`` is NULL and pages say so.
    """

    __tablename__ = "target"
    __table_args__ = (UniqueConstraint("indicator_id", "link_kind", "link_slug", "ambition_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[str] = mapped_column(
        ForeignKey("indicator.id", ondelete="CASCADE"), index=True
    )
    link_kind: Mapped[str] = mapped_column(String(20))
    link_slug: Mapped[str] = mapped_column(String(100))
    ambition_slug: Mapped[str] = mapped_column(String(100), default="")
    statement: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(40))
    benchmark: Mapped[str | None] = mapped_column(Text)
    baseline_period: Mapped[str | None] = mapped_column(String(40))
    baseline_value: Mapped[float | None] = mapped_column(Float)
    target_period: Mapped[str | None] = mapped_column(String(40))
    target_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default=TARGET_SET)
    source: Mapped[str | None] = mapped_column(Text)

    indicator: Mapped[Indicator] = relationship(back_populates="targets")

    @property
    def is_set(self) -> bool:
        return self.status == TARGET_SET and (self.value is not None or self.kind == "direction")


class Aspiration(Base):
    """One of the city's long-term aspirations (Better Health for London's ten)."""

    __tablename__ = "aspiration"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    sources: Mapped[list[str] | None] = mapped_column(JSON)
    pack_id: Mapped[str | None] = mapped_column(String(64))

    ambitions: Mapped[list[Ambition]] = relationship(
        cascade="all, delete-orphan", order_by="Ambition.sort_order"
    )


class Ambition(Base):
    """A concrete 2020 ambition that makes an aspiration measurable."""

    __tablename__ = "ambition"
    __table_args__ = (UniqueConstraint("aspiration_slug", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    aspiration_slug: Mapped[str] = mapped_column(
        ForeignKey("aspiration.slug", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(100))
    statement: Mapped[str] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class LifeStage(Base):
    """A stage of life in the city vision: start well, live well, age well."""

    __tablename__ = "life_stage"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    pack_id: Mapped[str | None] = mapped_column(String(64))


class VisionPriority(Base):
    """One of the vision's population-health priorities, under a life stage."""

    __tablename__ = "vision_priority"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    life_stage_slug: Mapped[str | None] = mapped_column(
        ForeignKey("life_stage.slug", ondelete="SET NULL"), index=True
    )
    pack_id: Mapped[str | None] = mapped_column(String(64))

    commitments: Mapped[list[Commitment]] = relationship(
        order_by="Commitment.sort_order", viewonly=True
    )


class Commitment(Base):
    """A shared commitment of the vision; ``target_placeholder`` where its figure is "X%"."""

    __tablename__ = "commitment"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    priority_slug: Mapped[str | None] = mapped_column(
        ForeignKey("vision_priority.slug", ondelete="SET NULL"), index=True
    )
    statement: Mapped[str] = mapped_column(Text)
    target_placeholder: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    pack_id: Mapped[str | None] = mapped_column(String(64))


class DataRelease(Base):
    """One load that changed the data: where it came from, when, and whether it is real."""

    __tablename__ = "data_release"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    location: Mapped[str | None] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    indicator_ids: Mapped[list[str] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)


class Observation(Base):
    """One figure for one indicator, area, period, sex, age and category."""

    __tablename__ = "observation"
    __table_args__ = (
        UniqueConstraint(
            "indicator_id",
            "area_code",
            "period",
            "sex",
            "age",
            "category_type",
            "category",
            name="uq_observation_key",
        ),
        Index("ix_observation_indicator_sortable", "indicator_id", "time_period_sortable"),
        Index("ix_observation_area_indicator", "area_code", "indicator_id"),
        Index("ix_observation_release", "release_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    indicator_id: Mapped[str] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"))
    area_code: Mapped[str] = mapped_column(ForeignKey("area.code"))
    period: Mapped[str] = mapped_column(String(40))
    sex: Mapped[str] = mapped_column(String(40), default=ALL_PERSONS)
    age: Mapped[str] = mapped_column(String(60), default=ALL_AGES)
    category_type: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(200), default="")
    time_period_sortable: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float)
    lower_ci95: Mapped[float | None] = mapped_column(Float)
    upper_ci95: Mapped[float | None] = mapped_column(Float)
    lower_ci998: Mapped[float | None] = mapped_column(Float)
    upper_ci998: Mapped[float | None] = mapped_column(Float)
    count: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    value_note: Mapped[str | None] = mapped_column(Text)
    # As Fingertips published them (NULL when the data did not come with them).
    recent_trend: Mapped[str | None] = mapped_column(String(100))
    compared_to_england: Mapped[str | None] = mapped_column(String(100))
    compared_to_region: Mapped[str | None] = mapped_column(String(100))
    compared_to_goal: Mapped[str | None] = mapped_column(String(100))
    release_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_release.id", ondelete="SET NULL")
    )
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
