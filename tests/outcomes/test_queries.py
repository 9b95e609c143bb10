"""The read functions the dashboard calls, on both engines, over generated data.

Judgements are checked against the plain Fingertips rule written out here (benchmark
outside the area's 95% interval: better or worse by polarity), not against the code's
own output.
"""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.geography.models import Area
from healthycity.outcomes import models as m
from healthycity.outcomes.demo import POPULATION_ID, load_demo
from healthycity.outcomes.queries import (
    Breakdown,
    area_profile,
    areas_within,
    breakdowns,
    data_status,
    headline_breakdown,
    indicator_summaries,
    latest_values,
    time_series,
)

BOROUGHS = {
    "E09000001": "E54000029",
    "E09000025": "E54000029",
    "E09000027": "E54000031",
    "E09000029": "E54000031",
}


@pytest.fixture
def world(engine: Engine) -> Engine:
    with transaction(engine) as session:
        session.add(Area(code="E92000001", name="England", area_type="country"))
        session.add(
            Area(code="E12000007", name="London", area_type="region", parent_code="E92000001")
        )
        for code in sorted(set(BOROUGHS.values())):
            session.add(
                Area(code=code, name=f"Sub {code}", area_type="sub_region", parent_code="E12000007")
            )
        for code, parent in BOROUGHS.items():
            session.add(
                Area(
                    code=code,
                    name=f"Borough {code}",
                    area_type="local_authority",
                    parent_code=parent,
                )
            )
        obesity = m.Indicator(
            id="90323",
            name="Year 6 obesity",
            value_type=m.PROPORTION,
            multiplier=100,
            polarity=m.LOW_IS_GOOD,
            frequency="annual (academic year)",
            age="10-11 yrs",
            sort_order=1,
            demo_hint={"city": 23.2, "country_low": 13.0, "country_high": 30.0},
        )
        obesity.links.append(m.IndicatorLink(kind="aspiration", slug="healthy-start"))
        obesity.targets.extend(
            [
                m.Target(
                    link_kind="aspiration",
                    link_slug="healthy-start",
                    statement="Down 10% by 2020",
                    kind="relative_change",
                    direction="decrease",
                    value=10.0,
                    target_period="2020",
                    status="set",
                ),
                m.Target(
                    link_kind="commitment",
                    link_slug="cut-child-obesity",
                    statement="Down X%",
                    kind="relative_change",
                    direction="decrease",
                    status="not_set",
                ),
            ]
        )
        hle = m.Indicator(
            id="90362",
            name="Healthy life expectancy",
            value_type=m.LIFE_EXPECTANCY,
            multiplier=1,
            polarity=m.HIGH_IS_GOOD,
            sexes=["Male", "Female"],
            sort_order=2,
            frequency="annual (rolling three-year periods)",
            demo_hint={"city": 63.5, "country_low": 55.0, "country_high": 72.0},
        )
        hle.links.append(m.IndicatorLink(kind="aspiration", slug="healthy-start"))
        session.add_all([obesity, hle])
    assert load_demo(engine, seed=11).loaded
    with transaction(engine) as session:
        session.add(m.Indicator(id="hc-empty", name="No data yet"))
    return engine


def fingertips_rule(
    value: float, lower: float, upper: float, benchmark: float, polarity: str
) -> str:
    if lower <= benchmark <= upper:
        return "similar"
    higher = value > benchmark
    if polarity == m.NO_JUDGEMENT:
        return "higher" if higher else "lower"
    return "better" if higher == (polarity == m.HIGH_IS_GOOD) else "worse"


def test_breakdowns_and_the_headline(world: Engine) -> None:
    with transaction(world) as session:
        assert headline_breakdown(session, "90323") == Breakdown("Persons", "10-11 yrs")
        assert {b.sex for b in breakdowns(session, "90362")} == {"Male", "Female"}
        assert headline_breakdown(session, "90362") in breakdowns(session, "90362")
        assert headline_breakdown(session, "hc-empty") is None
        assert [a.code for a in areas_within(session, "E12000007", "local_authority")] == sorted(
            BOROUGHS
        )


def test_latest_values_compare_every_area_with_the_benchmark(world: Engine) -> None:
    with transaction(world) as session:
        table = latest_values(session, "90323", area_codes=[*BOROUGHS, "E12000007"])
        assert table is not None and table.period == "2018/19" and table.illustrative
        assert table.benchmark is not None and table.benchmark.area_code == "E92000001"
        assert {r.point.area_code for r in table.rows} == {*BOROUGHS, "E12000007"}
        england = table.benchmark.value
        assert england is not None
        for row in table.rows:
            p, judged = row.point, row.comparison
            assert p.value is not None and p.lower_ci95 is not None and p.upper_ci95 is not None
            assert judged is not None and judged.benchmark_code == "E92000001"
            assert judged.outcome == fingertips_rule(
                p.value, p.lower_ci95, p.upper_ci95, england, m.LOW_IS_GOOD
            )
            assert judged.confidence == 0.95 and "95%" in judged.method
        everything = latest_values(session, "90323", benchmark="E12000007")
        assert everything is not None and len(everything.rows) == 1 + 1 + 2 + 4
        london = next(r for r in everything.rows if r.point.area_code == "E12000007")
        assert london.comparison is None  # the benchmark is not compared with itself
        earlier = latest_values(session, "90323", period="2014/15")
        assert earlier is not None and earlier.period == "2014/15"
        assert latest_values(session, "nope") is None


def test_time_series_are_ordered_and_complete(world: Engine) -> None:
    with transaction(world) as session:
        series = time_series(session, "90323", ["E12000007", "E09000001", "E99999999"])
        london = series["E12000007"]
        assert [p.time_period_sortable for p in london] == sorted(
            p.time_period_sortable for p in london
        )
        assert len(london) == 8 and london[-1].period == "2018/19"
        assert series["E99999999"] == []
        female = time_series(
            session, "90362", ["E12000007"], breakdown=Breakdown("Female", "All ages")
        )["E12000007"]
        assert len(female) == 8 and {p.breakdown.sex for p in female} == {"Female"}


def test_indicator_summaries_for_an_aspiration(world: Engine) -> None:
    with transaction(world) as session:
        summaries = indicator_summaries(session, link_kind="aspiration", slug="healthy-start")
        assert [s.indicator.id for s in summaries] == ["90323", "90362"]
        obesity = summaries[0]
        assert obesity.city is not None and obesity.country is not None
        assert obesity.period == "2018/19"
        assert obesity.comparison is not None and obesity.comparison.outcome in (
            "better",
            "similar",
            "worse",
        )
        assert obesity.trend is not None and obesity.trend.points == 5
        assert obesity.boroughs is not None and obesity.boroughs.count == 4
        spread = obesity.boroughs
        assert spread.better + spread.similar + spread.worse + spread.not_compared == 4
        assert spread.minimum is not None and spread.maximum is not None
        assert spread.minimum <= (spread.median or 0) <= spread.maximum
        statuses = {t.link_slug: t for t in obesity.targets}
        assert statuses["cut-child-obesity"].status == "not set"
        down = statuses["healthy-start"]
        assert down.status in ("achieved", "on track", "off track")
        first_london = time_series(session, "90323", ["E12000007"])["E12000007"][0].value
        assert first_london is not None
        assert down.target_value == pytest.approx(first_london * 0.9)
        everything = indicator_summaries(session)
        assert {s.indicator.id for s in everything} == {
            "90323",
            "90362",
            "hc-empty",
            POPULATION_ID,  # the demo's own population indicator
        }
        empty = next(s for s in everything if s.indicator.id == "hc-empty")
        assert empty.city is None and empty.period is None and empty.targets == []


def test_area_profile_spine(world: Engine) -> None:
    with transaction(world) as session:
        spine = area_profile(session, "E09000025")
        assert [s.indicator.id for s in spine] == ["90323", "90362"]
        obesity = spine[0]
        assert obesity.area.area_code == "E09000025" and obesity.period == "2018/19"
        assert obesity.benchmark is not None and obesity.benchmark.area_code == "E92000001"
        assert obesity.peers.count == 4 and obesity.peer_type == "local_authority"
        q = obesity.peers
        assert q.minimum is not None and q.q1 is not None and q.q3 is not None
        assert q.maximum is not None and q.minimum <= q.q1 <= q.q3 <= q.maximum
        assert q.minimum <= (obesity.area.value or 0) <= q.maximum
        assert area_profile(session, "E00000000") == []


def test_data_status(world: Engine) -> None:
    with transaction(world) as session:
        status = data_status(session)
        assert status.illustrative and status.real_observations == 0
        assert status.illustrative_observations > 0 and status.releases == 1
        assert status.last_updated is not None
