"""Issue 12 on the pages: real published data shown as it is.

Judgements as published are labelled so on maps, bars, spine charts, tables, the home
page and the aspiration pages; a roll-up says "computed from the boroughs (N of M)";
the indicator page lists where the publisher judged differently, says which kind of
figures it shows, which trend test it used and why a target cannot be judged; the
funnel plot's limits are checked against an independent calculation. Storage tests
run on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from scipy.stats import chi2, norm
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.outcomes import dashboard as d
from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.common import AreaRef, Geography
from healthycity.outcomes.dashboard.funnel import funnel_chart
from healthycity.outcomes.dashboard.words import PUBLISHED_METHOD
from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv
from healthycity.outcomes.ingest.long_format import import_long_file
from healthycity.outcomes.stats.proportion import wilson_limits
from tests.outcomes.test_ingest_fingertips_csv import row, write
from tests.outcomes.test_published import _counts_rows, boroughs, london_pack

LONDON = "E12000007"
TRAFFORD = ("data", "fingertips", "trafford_dashboard")
SMOKING = "92443"


def trafford_id(path: Path) -> str:
    """The pack's Fingertips ID for the smoking file; a readable local ID for the rest."""
    return SMOKING if path.stem == "smoking_adults" else "trafford-" + path.stem.replace("_", "-")


def page_of(engine: Engine, indicator_id: str, **choice: str) -> d.IndicatorPage:
    with transaction(engine) as session:
        return d.indicator_page(
            session, d.PageCache(), indicator_id, d.IndicatorQuery.parse(**choice)
        )


# --------------------------------------------------------------------------- acceptance


def test_every_trafford_file_loads_and_its_page_says_what_it_shows(
    engine: Engine, shared_dir: Path
) -> None:
    london_pack(engine)
    files = sorted(Path(shared_dir, *TRAFFORD).glob("*.csv"))
    assert len(files) == 10
    for path in files:
        result = import_long_file(engine, path, trafford_id(path))
        assert result.changed, path.name
    cache = d.PageCache()
    with transaction(engine) as session:
        for path in files:
            page = d.indicator_page(session, cache, trafford_id(path), d.IndicatorQuery.parse())
            assert page.has_data and page.data_kind == "published", path.name
            assert not page.illustrative, path.name
            # no London row and no counts: London is unavailable and the page says why
            assert page.city_missing.startswith("no figure for London: "), path.name
            assert "No figure for London" in page.headline, path.name
            assert page.trend_method == "Not tested: London has no figure in any period"
            assert page.funnel_note.startswith("No funnel plot: "), path.name
            assert page.chart("funnel") is None
            assert {r.source for r in page.rows} == {"published"}, path.name
        status = q.data_status(session)
        assert status.real_indicators == 10
        assert status.real_text == f"10 of {status.indicators} indicators show published figures"


def test_smoking_map_shows_32_published_judgements_and_why_london_is_missing(
    engine: Engine, shared_dir: Path
) -> None:
    london_pack(engine)
    import_long_file(engine, Path(shared_dir, *TRAFFORD, "smoking_adults.csv"), SMOKING)
    page = page_of(engine, SMOKING)
    area_map = page.chart("map")
    assert area_map is not None
    columns = area_map.table.columns
    compared = [
        dict(zip(columns, r, strict=True))
        for r in area_map.table.rows
        if r[columns.index("comparison")] != "Not compared"
    ]
    assert len(compared) == 32
    for found in compared:
        assert found["comparison"].endswith(" than England (as published)") or found[
            "comparison"
        ] == ("Similar to England (as published)")
        assert found["comparison_method"] == PUBLISHED_METHOD
    assert len(area_map.table.rows) == 33  # the City of London: no value in 2018
    assert "Judgements as published" in area_map.description
    bars = page.chart("compare")
    assert bars is not None
    assert all(r[-2].endswith("(as published)") for r in bars.table.rows)
    assert "as published" in str(bars.spec)  # the legend title says how areas were judged
    # London: no row, no counts, so no figure; the target says why it cannot be judged
    assert page.city_missing == (
        "no figure for London: the data have no London row, and the boroughs' rows "
        "have no counts and denominators to compute one from"
    )
    judged = [t for t in page.targets if t.status != "not set"]
    assert [t.status for t in judged] == ["not enough data"]
    assert judged[0].method == page.city_missing
    assert page.funnel_note == (
        "No funnel plot: it needs every area's count and denominator, and 0 of the 32 "
        "areas with a value have them."
    )
    assert page.table.columns[-1] == "source"


def test_home_and_aspiration_summaries_say_as_published(engine: Engine, shared_dir: Path) -> None:
    london_pack(engine)
    import_long_file(engine, Path(shared_dir, *TRAFFORD, "smoking_adults.csv"), SMOKING)
    cache = d.PageCache()
    with transaction(engine) as session:
        home = d.home(session, cache)
        habits = next(c for c in home.aspirations if "unhealthy habits" in c.title)
        assert habits.status.areas_only == 1 and habits.status.areas_as_published == 1
        assert "1 with figures for its areas only (1 judged as published)" in (
            habits.status.describe("England")
        )
        assert home.real_text.startswith("1 of ")
        slug = habits.href.rsplit("/", 1)[-1]
        theme = d.aspiration(session, cache, slug)
    line = next(x for x in theme.lines if x.id == SMOKING)
    assert not line.has_data and line.missing_text.startswith("no figure for London")
    assert line.borough_counts["as published"] == 32
    record = next(r for r in theme.table.records() if r["indicator_id"] == SMOKING)
    assert record["areas_judged_as_published"] == 32
    assert record["city_value_note"] == line.missing_text
    assert record["data"] == "published"


# --------------------------------------------------------------------------- computed rows


def test_computed_london_is_labelled_on_pages_and_twins(engine: Engine, tmp_path: Path) -> None:
    london_pack(engine)
    codes = boroughs(engine)
    import_fingertips_csv(engine, [write(tmp_path / "counts.csv", _counts_rows(False, codes))])
    page = page_of(engine, SMOKING)
    by_code = {r.code: r for r in page.rows}
    assert by_code[LONDON].source == "computed from the boroughs (33 of 33)"
    assert by_code["E92000001"].source == "published"
    subs = [r for r in page.rows if r.area_type == "sub_region"]
    assert len(subs) == 5
    assert all(r.source.startswith("computed from the boroughs (") for r in subs)
    assert "computed from the boroughs (33 of 33)" in page.headline
    record = next(r for r in page.table.records() if r["area_code"] == LONDON)
    assert record["source"] == "computed from the boroughs (33 of 33)"
    assert record["value_note"].startswith(q.COMPUTED_NOTE)
    assert page.city_missing == ""
    cache = d.PageCache()
    with transaction(engine) as session:
        london = d.area_page(session, cache, LONDON, d.IndicatorQuery.parse())
        home = d.home(session, cache)
    line = next(x for x in london.lines if x.indicator_id == SMOKING)
    assert line.note == "computed from the boroughs (33 of 33)"
    assert london.table.records()[0]["value_note"] == line.note
    habits = next(c for c in home.aspirations if "unhealthy habits" in c.title)
    assert habits.status.with_data == 1 and habits.status.as_published == 0


def test_disagreements_are_on_the_indicator_page(engine: Engine, tmp_path: Path) -> None:
    rows = [
        row(code="E92000001", area="England", type="England", value="14.4", lo="14.3", hi="14.5"),
        row(
            code="E09000002",
            area="Barking",
            type="UA",
            value="15",
            lo="13",
            hi="17",
            england="Worse",
        ),
        row(
            code="E09000003",
            area="Barnet",
            type="UA",
            value="10",
            lo="9",
            hi="11",
            england="Better",
        ),
        row(code="E09000004", area="Bexley", type="UA", value="12", england="Better"),
    ]
    import_fingertips_csv(engine, [write(tmp_path / "d.csv", rows)])
    page = page_of(engine, SMOKING)
    assert [(x.area_code, x.ours, x.published) for x in page.disagreements] == [
        ("E09000002", "similar", "Worse")
    ]
    by_code = {r.code: r for r in page.rows}
    # an interval: our own judgement, named by our method
    assert by_code["E09000002"].comparison_text == "Similar to England"
    # no interval: the publisher's, labelled
    assert by_code["E09000004"].comparison_text == "Better than England (as published)"
    methods = {r["area_code"]: r["comparison_method"] for r in page.table.records()}
    assert methods["E09000004"] == PUBLISHED_METHOD
    assert methods["E09000002"] != PUBLISHED_METHOD


# --------------------------------------------------------------------------- trends


def _yearly_counts(codes: list[str]) -> list[dict[str, str]]:
    """Five years of counts for England and every borough (London left to the roll-up)."""
    rows = []
    for year in range(2014, 2019):
        step = year - 2014
        shared = {"period": str(year), "sortable": f"{year}0000"}
        rows.append(
            row(
                code="E92000001",
                area="England",
                type="England",
                value=repr(16.0 - 0.4 * step),
                count=str(16000 - 400 * step),
                denominator="100000",
                **shared,
            )
        )
        for index, code in enumerate(codes):
            count, denominator = 200 - 12 * step + index, 1000 + 10 * index
            low, high = wilson_limits([count], [denominator], 0.95)
            rows.append(
                row(
                    code=code,
                    area=code,
                    type="UA",
                    value=repr(100 * count / denominator),
                    lo=repr(float(100 * low[0])),
                    hi=repr(float(100 * high[0])),
                    count=str(count),
                    denominator=str(denominator),
                    **shared,
                )
            )
    return rows


def test_trend_on_computed_london_says_its_test(engine: Engine, tmp_path: Path) -> None:
    london_pack(engine)
    codes = boroughs(engine)
    import_fingertips_csv(engine, [write(tmp_path / "years.csv", _yearly_counts(codes))])
    page = page_of(engine, SMOKING)
    assert page.trend_method.startswith("Tested by chi-squared test for trend in proportions")
    assert page.trend_text == "Decreasing and getting better"
    judged = [t for t in page.targets if t.status != "not set"]
    assert judged and all(t.status != "not enough data" for t in judged), judged
    with transaction(engine) as session:
        theme = d.aspiration(session, d.PageCache(), "unhealthy-habits")
    line = next(x for x in theme.lines if x.id == SMOKING)
    assert line.has_data and line.value_note == "computed from the boroughs (33 of 33)"
    assert line.trend_method == page.trend_method


# --------------------------------------------------------------------------- funnel plots


def test_proportion_funnel_limits_match_an_independent_calculation(
    engine: Engine, tmp_path: Path
) -> None:
    london_pack(engine)
    codes = boroughs(engine)
    import_fingertips_csv(engine, [write(tmp_path / "counts.csv", _counts_rows(False, codes))])
    for benchmark, centre_name in (("england", "England"), ("london", "London")):
        page = page_of(engine, SMOKING, benchmark=benchmark)
        funnel = page.chart("funnel")
        assert funnel is not None and page.funnel_note == ""
        records = funnel.table.records()
        assert len(records) == 33
        if centre_name == "England":
            centre = 14.4
        else:  # London computed from the boroughs: their pooled proportion
            total_c = sum(100 + 7 * i for i in range(len(codes)))
            total_n = sum(1000 + 13 * i for i in range(len(codes)))
            centre = 100 * total_c / total_n
        base = centre / 100
        for record in records:
            assert record["centre"] == centre_name
            assert record["centre_value"] == pytest.approx(centre, rel=1e-12)
            n = record["denominator"]
            for level, low_key, high_key in (
                (0.95, "lower_95", "upper_95"),
                (0.998, "lower_99_8", "upper_99_8"),
            ):
                z = norm.ppf(1 - (1 - level) / 2)
                half = z * math.sqrt(base * (1 - base) / n)
                assert record[low_key] == pytest.approx(100 * (base - half), rel=1e-9)
                assert record[high_key] == pytest.approx(100 * (base + half), rel=1e-9)
            value = record["value"]
            expected = (
                "above the 99.8% limit"
                if value > record["upper_99_8"]
                else "above the 95% limit"
                if value > record["upper_95"]
                else "below the 99.8% limit"
                if value < record["lower_99_8"]
                else "below the 95% limit"
                if value < record["lower_95"]
                else "within the 95% limits"
            )
            assert record["position"] == expected
        assert f"control limits around {centre_name}" in funnel.description
        spec = str(funnel.spec)
        assert "95% limits" in spec and "99.8% limits" in spec


def _geography(count: int) -> Geography:
    country = AreaRef("E92000001", "England", "country", None, None, None, "England")
    city = AreaRef(LONDON, "London", "region", "E92000001", None, None, "London")
    parts = [
        AreaRef(f"E09{i:06d}", f"Borough {i}", "local_authority", LONDON, None, None, f"B{i}")
        for i in range(1, count + 1)
    ]
    areas = {a.code: a for a in [country, city, *parts]}
    return Geography(country, city, [], parts, areas)


def _point(code: str, value: float, count: float | None, denominator: float | None) -> q.Point:
    return q.Point(
        code, code, "local_authority", "2018", 20180000, value,
        None, None, None, None, count, denominator, None, False,
    )  # fmt: skip


def test_rate_funnel_positions_follow_exact_poisson_limits() -> None:
    info = q.IndicatorInfo(
        "r1", "A crude rate", "per 100,000", m.CRUDE_RATE, 100_000.0,
        m.LOW_IS_GOOD, 1, "csv", None, None, None,
    )  # fmt: skip
    geo = _geography(8)
    counts = [5, 40, 120, 80, 300, 12, 60, 95]
    populations = [20_000, 150_000, 200_000, 400_000, 900_000, 10_000, 300_000, 250_000]
    points = {
        a.code: q.AreaValue(_point(a.code, c / n * 100_000, c, n), None)
        for a, c, n in zip(geo.boroughs, counts, populations, strict=True)
    }
    england = 30.0  # per 100,000
    points["E92000001"] = q.AreaValue(
        q.Point(
            "E92000001",
            "England",
            "country",
            "2018",
            20180000,
            england,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            False,
        ),  # fmt: skip
        None,
    )
    chart, note = funnel_chart(geo, info, geo.boroughs, points, "england")
    assert chart is not None and note == ""
    base = england / 100_000
    for record, c, n in zip(chart.table.records(), counts, populations, strict=True):
        expected_count = base * n
        place = "within the 95% limits"
        for level, word in ((0.95, "95%"), (0.998, "99.8%")):
            tail = (1 - level) / 2
            low = chi2.ppf(tail, 2 * c) / 2 if c else 0.0
            high = chi2.ppf(1 - tail, 2 * (c + 1)) / 2
            if expected_count < low:
                place = f"above the {word} limit"
            elif expected_count > high:
                place = f"below the {word} limit"
        assert record["position"] == place, (c, n)
        assert record["centre_value"] == england
    assert {r["position"] for r in chart.table.records()} != {"within the 95% limits"}


def test_funnel_says_why_not_for_other_measures_and_partial_counts() -> None:
    geo = _geography(4)
    points = {
        a.code: q.AreaValue(_point(a.code, 10.0 + i, 10 + i, 100 if i else None), None)
        for i, a in enumerate(geo.boroughs)
    }
    proportion = q.IndicatorInfo(
        "p1", "P", "%", m.PROPORTION, 100.0, None, 1, "csv", None, None, None
    )
    chart, note = funnel_chart(geo, proportion, geo.boroughs, points, "england")
    assert chart is None
    assert note.endswith("and 3 of the 4 areas with a value have them.")
    mean = q.IndicatorInfo("m1", "M", "", m.MEAN, None, None, 1, "csv", None, None, None)
    chart, note = funnel_chart(geo, mean, geo.boroughs, points, "england")
    assert chart is None and note.endswith("this indicator is a mean.")
