"""The London pack's catalogue into the database: counts, links, targets, idempotence."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.geography.models import Area
from healthycity.outcomes import models as m
from healthycity.outcomes.catalogue import load_catalogue, period_end
from healthycity.packs import Pack, read_pack, resolve_pack
from healthycity.packs.schema import Indicators


@pytest.fixture(scope="module")
def london() -> Pack:
    return read_pack(resolve_pack("london"))


def test_loads_every_pack_indicator_with_links_and_targets(engine: Engine, london: Pack) -> None:
    with transaction(engine) as session:
        counts = load_catalogue(session, london)
    pack_indicators = london.indicators.indicators
    assert counts.tables["indicators"] == len(pack_indicators) >= 25
    assert counts.tables["aspirations"] == len(london.aspirations.aspirations) == 10
    assert counts.tables["commitments"] == len(london.vision.commitments()) == 9
    assert counts.tables["targets"] == sum(len(i.targets) for i in pack_indicators)
    assert counts.tables["indicator_links"] == sum(
        len(i.aspirations) + len(i.commitments) for i in pack_indicators
    )
    assert counts.created == sum(counts.tables.values())
    with transaction(engine) as session:
        for spec in pack_indicators:
            row = session.get(m.Indicator, spec.id)
            assert row is not None
            assert (row.name, row.value_type, row.polarity, row.source) == (
                spec.name,
                spec.value_type,
                spec.polarity,
                "pack",
            )
            assert row.multiplier == spec.multiplier
            assert {(link.kind, link.slug) for link in row.links} == {
                ("aspiration", s) for s in spec.aspirations
            } | {("commitment", s) for s in spec.commitments}
            for target, want in zip(row.targets, spec.targets, strict=True):
                assert target.status == want.status
                assert target.value == (None if want.value is None else float(want.value))
                assert (target.value is None) == (
                    want.status == "not_set"
                    or want.kind
                    in (
                        "direction",
                        "benchmark",
                        "zero",
                    )
                    and want.value is None
                )
        # Every aspiration and commitment is measured by at least one indicator.
        linked = set(session.execute(select(m.IndicatorLink.kind, m.IndicatorLink.slug)).all())
        for aspiration in session.scalars(select(m.Aspiration)):
            assert ("aspiration", aspiration.slug) in linked
        for commitment in session.scalars(select(m.Commitment)):
            assert ("commitment", commitment.slug) in linked
        placeholders = session.scalars(
            select(m.Commitment).where(m.Commitment.target_placeholder.is_(True))
        ).all()
        for commitment in placeholders:
            unset = session.scalars(
                select(m.Target).where(
                    m.Target.link_slug == commitment.slug, m.Target.status == "not_set"
                )
            ).all()
            assert unset and all(t.value is None and not t.is_set for t in unset)
        stages = session.scalars(select(m.LifeStage).order_by(m.LifeStage.sort_order)).all()
        assert [s.slug for s in stages] == ["start-well", "live-well", "age-well"]


def test_loading_twice_changes_nothing(engine: Engine, london: Pack) -> None:
    with transaction(engine) as session:
        first = load_catalogue(session, london)
    with transaction(engine) as session:
        second = load_catalogue(session, london)
    assert (second.created, second.updated, second.deleted) == (0, 0, 0)
    assert second.tables == first.tables


def test_pack_adopts_a_fingertips_indicator_and_retires_dropped_ones(
    engine: Engine, london: Pack
) -> None:
    first, *rest = london.indicators.indicators
    with transaction(engine) as session:
        session.add(Area(code="E92000001", name="England", area_type="country"))
        session.add(m.Indicator(id=first.id, name="old name", source="fingertips"))
        session.flush()
        session.add(
            m.Observation(
                indicator_id=first.id,
                area_code="E92000001",
                period="2018",
                time_period_sortable=20180000,
                value=1.0,
            )
        )
    with transaction(engine) as session:
        load_catalogue(session, london)
        adopted = session.get(m.Indicator, first.id)
        assert adopted is not None and (adopted.name, adopted.source) == (first.name, "pack")

    smaller = london.model_copy(
        update={"indicators": Indicators.model_construct(indicators=(rest[0], *rest[2:]))}
    )
    # The first indicator keeps its data (and loses its links); the second had none.
    with transaction(engine) as session:
        counts = load_catalogue(session, smaller)
        kept = session.get(m.Indicator, first.id)
        assert kept is not None and kept.source == "fingertips" and kept.links == []
        assert session.get(m.Indicator, rest[1].id) is None
        assert counts.tables["indicators"] == len(london.indicators.indicators) - 1
        assert session.execute(select(func.count()).select_from(m.Observation)).scalar() == 1


@pytest.mark.parametrize(
    ("period", "end"),
    [
        ("2020", date(2020, 12, 31)),
        ("2018/19", date(2019, 3, 31)),
        ("2016 - 18", date(2018, 12, 31)),
        ("2023-03", date(2023, 3, 31)),
        ("2019-06-30", date(2019, 6, 30)),
        ("sometime", None),
        (None, None),
    ],
)
def test_period_end(period: str | None, end: date | None) -> None:
    assert period_end(period) == end


def test_target_values_are_floats_from_exact_decimals(engine: Engine, london: Pack) -> None:
    with transaction(engine) as session:
        load_catalogue(session, london)
        for spec in london.indicators.indicators:
            for target in spec.targets:
                if isinstance(target.value, Decimal):
                    row = session.scalars(
                        select(m.Target).where(
                            m.Target.indicator_id == spec.id,
                            m.Target.statement == target.statement,
                        )
                    ).one()
                    assert row.value == float(target.value)
