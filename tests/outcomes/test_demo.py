"""Demonstration data: deterministic, plausible, consistent, and always marked."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.geography.models import Area
from healthycity.outcomes import demo
from healthycity.outcomes import models as m
from healthycity.outcomes.dashboard import deprivation_rank
from healthycity.outcomes.demo import (
    CITY_DECILES,
    COUNTRY_DECILES,
    DECILES,
    NOTE,
    POPULATION_BANDS,
    POPULATION_ID,
    clear_demo,
    generate,
    load_demo,
    periods_for,
)
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
    assert sorted(ids) == ["40501", "90323", "90362", POPULATION_ID, "hc-gap", "hc-new-hiv"]
    by_area = first.filter(pl.col("category_type") == "")
    rows = dict(by_area.group_by("indicator_id").len().iter_rows())
    everywhere = 1 + 1 + 2 + 4  # England, London, 2 sub-regions, 4 boroughs
    assert rows["90323"] == everywhere * 8
    assert rows["90362"] == everywhere * 8 * 2  # two sexes
    assert rows["hc-new-hiv"] == 8  # London only
    assert rows["hc-gap"] == (1 + 2) * 8
    obesity = by_area.filter(pl.col("indicator_id") == "90323")
    assert sorted(obesity.get_column("period").unique()) == periods_for("annual (academic year)")
    assert set(obesity.get_column("age")) == {"10-11 yrs"}
    assert set(first.get_column("value_note").str.starts_with(NOTE)) == {True}


def test_counts_add_up_and_values_come_from_the_statistics(world: Engine) -> None:
    with transaction(world) as session:
        frame, _ = generate(session, seed=1)
    assert frame is not None
    frame = frame.filter(pl.col("category_type") == "")
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


# ------------------------------------------------- deprivation deciles and population


def _rows(engine: Engine, *where: Any) -> list[m.Observation]:
    with transaction(engine) as session:
        found = list(session.scalars(select(m.Observation).where(*where)))
        session.expunge_all()
    return found


def test_deciles_for_fingertips_measures_with_a_gradient(world: Engine) -> None:
    load_demo(world, seed=5)
    deciles = _rows(world, m.Observation.category_type != "")
    kinds = {(o.indicator_id, o.area_code, o.category_type) for o in deciles}
    assert kinds == {
        (i, code, kind)
        for i in ("40501", "90323", "90362")  # not the gap, the count or the population
        for code, kind in (("E12000007", CITY_DECILES), ("E92000001", COUNTRY_DECILES))
    }
    per_series: dict[tuple[str, str, str], set[str]] = {}
    for o in deciles:
        per_series.setdefault((o.indicator_id, o.area_code, o.sex), set()).add(o.category)
        assert o.illustrative and o.value_note == NOTE
        assert o.lower_ci95 is not None and o.lower_ci95 <= o.value <= o.upper_ci95  # type: ignore[operator]
    # Every decile, every period, every sex the indicator has (life expectancy: two).
    assert all(groups == set(DECILES) for groups in per_series.values())
    assert {s for (i, _, s) in per_series if i == "90362"} == {"Male", "Female"}
    assert len([o for o in deciles if o.indicator_id == "90323"]) == 2 * 10 * 8
    # The pages rank Fingertips' names 1 (most deprived) .. 10 (least): so do the data.
    assert [deprivation_rank(c, 10) for c in DECILES] == list(range(1, 11))
    newest = {
        i: max(o.time_period_sortable for o in deciles if o.indicator_id == i)
        for i in ("40501", "90323", "90362")
    }

    def value(indicator: str, category: str, sex: str = "Persons") -> float:
        (row,) = [
            o
            for o in deciles
            if (o.indicator_id, o.area_code, o.category, o.sex, o.time_period_sortable)
            == (indicator, "E12000007", category, sex, newest[indicator])
        ]
        assert row.value is not None
        return row.value

    most, least = DECILES[0], DECILES[-1]
    assert value("90323", most) > 1.5 * value("90323", least)  # obesity: worse when deprived
    assert value("40501", most) > 1.5 * value("40501", least)  # early deaths likewise
    assert value("90362", least, "Female") - value("90362", most, "Female") > 4  # years


def test_deciles_leave_the_area_figures_unchanged(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deciles draw from a stream of their own: turning them off changes no area row."""
    with transaction(world) as session:
        with_deciles, _ = generate(session, seed=9)
        monkeypatch.setattr(demo, "by_deprivation", lambda indicator: False)
        without, _ = generate(session, seed=9)
    assert with_deciles is not None and without is not None
    assert without.filter(pl.col("category_type") != "").height == 0
    assert with_deciles.filter(pl.col("category_type") == "").equals(without)


def test_population_by_age_and_sex_adds_up(world: Engine) -> None:
    load_demo(world, seed=5)
    with transaction(world) as session:
        indicator = session.get(m.Indicator, POPULATION_ID)
        assert indicator is not None
        assert indicator.source == m.SOURCE_DEMO and "population" in indicator.name.lower()
        assert indicator.value_type == m.COUNT and "Illustrative" in (indicator.definition or "")
    rows = _rows(world, m.Observation.indicator_id == POPULATION_ID)
    latest = max(o.time_period_sortable for o in rows)
    for code in [*BOROUGHS, "E54000029", "E12000007"]:
        mine = [o for o in rows if o.area_code == code]
        bands = [o for o in mine if o.sex in ("Male", "Female")]
        assert {o.time_period_sortable for o in bands} == {latest}
        assert sorted((o.sex, o.age) for o in bands) == sorted(
            (s, a) for s in ("Male", "Female") for a in POPULATION_BANDS
        )
        totals = {o.time_period_sortable: o.value for o in mine if o.sex == "Persons"}
        assert len(totals) == 8 and totals[latest] == sum(o.value or 0 for o in bands)
    london = {o.age + o.sex: o.value for o in rows if o.area_code == "E12000007"}
    boroughs = [o for o in rows if o.area_code in BOROUGHS and o.time_period_sortable == latest]
    assert london["90+ yrsFemale"] == sum(
        o.value or 0 for o in boroughs if (o.age, o.sex) == ("90+ yrs", "Female")
    )
    assert london["90+ yrsFemale"] > london["90+ yrsMale"]  # women outlive men


def test_deciles_and_population_load_idempotently_and_clear(world: Engine) -> None:
    first = load_demo(world, seed=5)
    count = len(_rows(world, m.Observation.category_type != ""))
    people = len(_rows(world, m.Observation.indicator_id == POPULATION_ID))
    assert count and people
    again = load_demo(world, seed=5)
    assert again.rows == first.rows and again.release_id is None
    assert "nothing changed" in again.message
    assert len(_rows(world, m.Observation.category_type != "")) == count
    assert len(_rows(world, m.Observation.indicator_id == POPULATION_ID)) == people
    clear_demo(world)
    with transaction(world) as session:
        assert session.get(m.Indicator, POPULATION_ID) is None
        assert session.get(m.Indicator, "90323") is not None  # the catalogue's stay
