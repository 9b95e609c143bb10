"""The reports module's tables: other cities' figures, and the review's own words.

- ``GlobalCityFigure`` holds the pack's ``global_cities.csv`` as loaded: reference data
  owned by the pack (like the indicator catalogue), replaced row by row on each load.
  Its key is (city, measure, year), so loading the same file twice changes nothing.
- ``ReviewText`` holds the partnership's foreword and commentary for a year's review:
  the only words in the review not generated from the data. Every save is a new
  version (a row), so what was published stays readable; the table is audited, so the
  trail says who wrote each version.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import DateTime, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from healthycity.core.audit import Audited
from healthycity.core.db import Base
from healthycity.core.models import utcnow

FOREWORD = "foreword"
COMMENTARY = "commentary"
TEXT_KINDS = {FOREWORD: "Foreword", COMMENTARY: "Commentary"}


class GlobalCityFigure(Base):
    """One figure for one city, as the pack's ``global_cities.csv`` gives it."""

    __tablename__ = "global_city_figure"

    city: Mapped[str] = mapped_column(String(120), primary_key=True)
    measure: Mapped[str] = mapped_column(String(80), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    country: Mapped[str] = mapped_column(String(120))
    measure_name: Mapped[str] = mapped_column(String(200))
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))  # None: a recorded gap
    unit: Mapped[str] = mapped_column(String(120))
    geography: Mapped[str] = mapped_column(String(20))
    standardisation: Mapped[str] = mapped_column(String(20))
    collection: Mapped[str] = mapped_column(String(20))
    source_title: Mapped[str] = mapped_column(String(300))
    source_url: Mapped[str] = mapped_column(String(500))
    retrieved: Mapped[str] = mapped_column(String(10))
    caveat: Mapped[str | None] = mapped_column(Text)
    pack_id: Mapped[str] = mapped_column(String(64))


class ReviewText(Audited, Base):
    """One version of the foreword or commentary of one year's review."""

    __tablename__ = "review_text"
    __audit_type__ = "review_text"
    __table_args__ = (UniqueConstraint("year", "kind", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    written_by: Mapped[str] = mapped_column(String(254))
    written_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
