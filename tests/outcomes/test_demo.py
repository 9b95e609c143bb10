"""Demonstration data: deterministic, plausible, consistent, and always marked."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.geography.models import Area
from healthycity.outcomes import models as m
from healthycity.outcomes.demo import NOTE, clear_demo, generate, load_demo, periods_for
from healthycity.outcomes.stats.proportion import proportion

BOROUGHS = {
    "E09000001": "E54000029",
    "E09000025": "E54000029",
    "E09000027": "E54000031",
    "E09000029": "E54000031",
}


def geography(engine: Engine) -> None:
    """England > London > two sub-regions > four boroughs, as the pack loads them."""
    with transaction(engine) as session:
        session.add(Area(code="E92000001", name="England", area_type="country"))
        session.add(
            Area(code="E12000007", name="London", area_type="region", parent_code="E92000001")
        )
        for code in sorted(set(BOROUGHS.values())):
            session.add(Area(code=code, name=code, area_type="sub_region", parent_code="E12000007"))
        for code, parent in BOROUGHS.items():
            session.add(Area(code=code, name=code, area_type="local_authority", parent_code=parent))


def indicators(engine: Engine) -> None:
    with transaction(engine) as session:
        session.add_all(
            [
                m.Indicator(
                    id="90323",
                    name="Year 6 obesity",
                    value_type=m.PROPORTION,
                    multiplier=100,
                    polarity=m.LOW_IS_GOOD,
                    frequency="annual (academic year)",
                    age="10-11 yrs",
                    demo_hint={"city": 23.2, "country_low": 13.0, "country_high": 30.0},
                ),
                m.Indicator(
                    id="40501",
                    name="Under 75 mortality, all causes",
                    value_type=m.DSR,
                    multiplier=100000,
                    polarity=m.LOW_IS_GOOD,
                    age="<75 yrs",
                    frequency="annual (calendar year)",
                ),
                m.Indicator(
                    id="90362",
                    name="Healthy life expectancy",
                    value_type=m.LIFE_EXPECTANCY,
                    multiplier=1,
                    polarity=m.HIGH_IS_GOOD,
                    sexes=["Male", "Female"],
                    frequency="annual (rolling three-year periods)",
                    demo_hint={"city": 63.5, "country_low": 55.0, "country_high": 72.0},
                ),
                m.Indicator(
                    id="hc-new-hiv",
                    name="New HIV infections",
                    value_type=m.COUNT,
                    multiplier=1,
                    polarity=m.LOW_IS_GOOD,
                    area_levels=["region"],
                ),
                m.Indicator(
                    id="hc-gap",
                    name="A gap",
                    value_type=m.GAP,
                    multiplier=1,
                    polarity=m.LOW_IS_GOOD,
                    area_levels=["region", "sub_region"],
                ),
            ]
        )


@pytest.fixture
def world(engine: Engine) -> Engine:
    geography(engine)
    indicators(engine)
    return engine


def test_generated_data_are_deterministic_and_cover_levels_sexes_periods(world: Engine) -> None:
    with transaction(world) as session:
        first, ids = generate(session, seed=7)
        second, _ = generate(session, seed=7)
        other, _ = generate(session, seed=8)
    assert first is not None and second is not None and other is not None
    assert first.equals(second) and not first.equals(other)
    assert sorted(ids) == ["40501", "90323", "90362", "hc-gap", "hc-new-hiv"]
    rows = dict(first.group_by("indicator_id").len().iter_rows())
    everywhere = 1 + 1 + 2 + 4  # England, London, 2 sub-regions, 4 boroughs
    assert rows["90323"] == everywhere * 8
    assert rows["90362"] == everywhere * 8 * 2  # two sexes
    assert rows["hc-new-hiv"] == 8  # London only
    assert rows["hc-gap"] == (1 + 2) * 8
    obesity = first.filter(pl.col("indicator_id") == "90323")
    assert sorted(obesity.get_column("period").unique()) == periods_for("annual (academic year)")
    assert set(obesity.get_column("age")) == {"10-11 yrs"}
    assert set(first.get_column("value_note").str.starts_with(NOTE)) == {True}


def test_counts_add_up_and_values_come_from_the_statistics(world: Engine) -> None:
    with transaction(world) as session:
        frame, _ = generate(session, seed=1)
    assert frame is not None
    obesity = frame.filter(pl.col("indicator_id") == "90323").sort("area_code", "period")
    by_area = {code: group for (code,), group in obesity.group_by(["area_code"])}
    boroughs = sum(by_area[c].sort("period").get_column("count").to_numpy() for c in BOROUGHS)
    london = by_area["E12000007"].sort("period").get_column("count").to_numpy()
    np.testing.assert_array_equal(london, boroughs)
    counts = obesity.get_column("count").to_numpy()
    dens = obesity.get_column("denominator").to_numpy()
    expected = proportion(counts, dens, confidence=(0.95, 0.998), multiplier=100)
    np.testing.assert_allclose(obesity.get_column("value").to_numpy(), expected.value, rtol=1e-6)
    np.testing.assert_allclose(
        obesity.get_column("upper_ci998").to_numpy(), expected.upper[0.998], rtol=1e-6
    )
    for name in ("40501", "90362"):
        rows = frame.filter(pl.col("indicator_id") == name).drop_nulls("value")
        assert rows.height > 0
        inside = (pl.col("lower_ci95") <= pl.col("value")) & (
            pl.col("value") <= pl.col("upper_ci95")
        )
        assert rows.select(inside.all()).item()
    hle = frame.filter(pl.col("indicator_id") == "90362", pl.col("area_code") == "E12000007")
    assert 55 < hle.get_column("value").mean() < 72  # type: ignore[operator]
    # Some boroughs better than London, some worse: their intervals exclude it both ways.
    latest = obesity.filter(pl.col("period") == obesity.get_column("period").max())
    london_value = latest.filter(pl.col("area_code") == "E12000007").get_column("value").item()
    local = latest.filter(pl.col("area_code").is_in(list(BOROUGHS)))
    above = local.filter(pl.col("lower_ci95") > london_value).height
    below = local.filter(pl.col("upper_ci95") < london_value).height
    assert above >= 1 and below >= 1


def test_load_marks_everything_illustrative_and_is_idempotent(world: Engine) -> None:
    first = load_demo(world, seed=3)
    assert first.loaded and first.release_id is not None and first.rows > 0
    second = load_demo(world, seed=3)
    assert second.loaded and second.release_id is None and "nothing changed" in second.message
    with transaction(world) as session:
        flags = set(session.scalars(select(m.Observation.illustrative)))
        assert flags == {True}
        release = session.scalars(select(m.DataRelease)).one()
        assert release.illustrative and release.source == "demo"
        assert session.execute(select(func.count()).select_from(m.Observation)).scalar() == (
            first.rows
        )
    assert clear_demo(world) == first.rows
    with transaction(world) as session:
        assert session.scalars(select(m.Observation)).all() == []
        assert session.scalars(select(m.DataRelease)).all() == []


def test_not_loaded_when_real_data_exist_and_never_over_them(world: Engine) -> None:
    with transaction(world) as session:
        session.add(
            m.Observation(
                indicator_id="90323",
                area_code="E12000007",
                period="2018/19",
                time_period_sortable=20180000,
                value=20.0,
            )
        )
    refused = load_demo(world)
    assert not refused.loaded and "real data" in refused.message
    forced = load_demo(world, force=True)
    assert forced.loaded and "90323" not in forced.indicators
    with transaction(world) as session:
        real = session.scalars(
            select(m.Observation).where(m.Observation.indicator_id == "90323")
        ).all()
        assert [(o.value, o.illustrative) for o in real] == [(20.0, False)]


def test_needs_the_city_geography(engine: Engine) -> None:
    indicators(engine)
    result = load_demo(engine)
    assert not result.loaded and "pack load" in result.message


def test_periods_follow_the_frequency() -> None:
    assert periods_for("annual (calendar year)", 3) == ["2017", "2018", "2019"]
    assert periods_for("annual (financial year)", 2) == ["2017/18", "2018/19"]
    assert periods_for("annual (rolling three-year periods)", 2) == ["2016 - 18", "2017 - 19"]
    assert periods_for("quarterly", 5) == [
        "2017/18 Q4",
        "2018/19 Q1",
        "2018/19 Q2",
        "2018/19 Q3",
        "2018/19 Q4",
    ]
