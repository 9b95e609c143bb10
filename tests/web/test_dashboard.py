"""The outcomes pages over real HTTP on SQLite and PostgreSQL: every page type, its
twins, its words, its refusals, and the journeys of issue 4 that need no browser."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from healthycity.web.app import create_app
from tests.conftest import LiveServer, settings_for
from tests.web import test_dashboard_data as shared_data
from tests.web.test_dashboard_data import (
    BOROUGHS,
    fingertips_csv,
    fingertips_row,
    load_pack_only,
    new_indicator_file,
)

# Session fixtures shared with the other dashboard tests (built once per engine).
london_postgres = shared_data.london_postgres
london_sqlite = shared_data.london_sqlite
london_url = shared_data.london_url

PAGES = {
    "home": "/",
    "aspiration": "/aspirations/healthy-start",
    "commitment": "/commitments/cut-child-obesity",
    "indicator": "/indicators/90323",
    "borough": "/areas/E09000007",
    "sub-region": "/areas/E54000027",
    "inequalities": "/inequalities",
    "search": "/search?q=obesity",
    "api docs": "/api/v1/docs",
}


@pytest.fixture(scope="module")
def site(london_url: str) -> Iterator[LiveServer]:
    app = create_app(settings_for(london_url))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


def _get(server: LiveServer, path: str) -> httpx.Response:
    return httpx.get(server.url + path, timeout=30)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_type_has_a_title_one_h1_and_the_banner(site: LiveServer, name: str) -> None:
    response = _get(site, PAGES[name])
    assert response.status_code == 200, response.text[:500]
    html = response.text
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title and title.group(1).strip().endswith(" – healthycity")
    assert html.count("<h1") == 1
    assert "Illustrative data" in html
    assert 'id="maincontent"' in html


@pytest.mark.parametrize(
    "name", ["home", "aspiration", "commitment", "indicator", "borough", "sub-region"]
)
def test_comparisons_are_shown_in_words(site: LiveServer, name: str) -> None:
    text = _text(_get(site, PAGES[name]).text)
    assert re.search(r"(Better than|Similar to|Worse than|better|similar|worse)", text)
    if name != "home":
        assert re.search(r"(Better than|Similar to|Worse than) (England|London)", text)


def test_home_lists_ten_aspirations_and_nine_priorities(site: LiveServer) -> None:
    html = _get(site, "/").text
    assert len(set(re.findall(r'href="/aspirations/([a-z0-9-]+)"', html))) == 10
    assert len(re.findall(r'class="nhsuk-u-visually-hidden">Priority </span>', html)) == 9
    assert "Data last updated" in html
    for life_stage in ("Start well", "Live well", "Age well"):
        assert life_stage in html
    body = _get(site, "/index.json").json()
    assert body["illustrative"] is True
    assert len(body["summaries"]) == 19


def test_indicator_page_has_map_bars_trend_table_and_metadata(site: LiveServer) -> None:
    html = _get(site, "/indicators/90323?area=E09000007").text
    for heading in ("Map", "Compare areas", "Trend over time", "Data table", "Definition"):
        assert f">{heading}</h2>" in html or f">{heading} and metadata</h2>" in html
    assert html.count('role="img"') >= 3
    assert "Camden went from" in html  # the trend's text alternative names the chosen area
    assert "Show the data in this chart" in html
    assert "chart-map.csv" in html and "chart-trend.csv" in html
    assert "Methodology" in html and "Polarity" in html


def test_benchmark_choice_changes_the_comparison(site: LiveServer) -> None:
    london = _text(_get(site, "/indicators/90323?benchmark=london").text)
    assert re.search(r"(Better than|Similar to|Worse than) London", london)
    sub = _text(_get(site, "/indicators/hc-asthma-action-plans?benchmark=sub-region").text)
    assert re.search(r"(Better than|Similar to|Worse than) North West London", sub)
    assert _get(site, "/indicators/90323?benchmark=sub-region").status_code == 400
    area = _text(_get(site, "/areas/E09000007?benchmark=sub-region").text)
    assert "compares with North Central London" in area


def test_breakdown_by_sex(site: LiveServer) -> None:
    html = _get(site, "/indicators/90362").text
    assert "By sex and age" in html
    assert "Female, All ages" in html and "Male, All ages" in html
    links = re.findall(r'href="(/indicators/90362\?sex=[^"]+)"', html)
    assert len(links) == 1
    other = _get(site, links[0].replace("&amp;", "&"))
    assert other.status_code == 200
    chosen = _get(site, "/indicators/90362?breakdown=Male%7CAll+ages").text
    assert "Indicator 90362 · Male, All ages" in chosen


def test_twins_of_every_page(site: LiveServer) -> None:
    for path in ("/aspirations/healthy-start", "/areas/E09000007", "/inequalities", "/search"):
        data = _get(site, f"{path}.json")
        table = _get(site, f"{path}.csv")
        assert data.status_code == 200 and data.headers["content-type"] == "application/json"
        assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
        assert len(list(csv.reader(io.StringIO(table.text)))) > 1
    indicator = _get(site, "/indicators/90323.csv")
    header = next(csv.reader(io.StringIO(indicator.text)))
    assert header[:3] == ["Indicator ID", "Indicator Name", "Parent Code"]
    assert "Compared to England value or percentiles" in header
    body = _get(site, "/indicators/90323.json").json()
    assert set(body["charts"]) >= {"map", "compare", "trend"}


def test_every_chart_has_its_data_for_download(site: LiveServer) -> None:
    for path, charts in (
        ("/indicators/90323", ("map", "compare", "trend")),
        ("/areas/E09000007", ("spine",)),
        ("/aspirations/healthy-start", ("heat-map",)),
        ("/inequalities", ("gaps",)),
    ):
        for chart in charts:
            response = _get(site, f"{path}/chart-{chart}.csv")
            assert response.status_code == 200, (path, chart)
            assert len(response.text.splitlines()) > 2
    spec = _get(site, "/indicators/90323/chart-trend.vl.json").json()
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite")


def _judged(site: LiveServer, path: str) -> dict[str, str]:
    """Area code → the comparison in words, from a page's JSON twin."""
    body = _get(site, path).json()
    return {a["area_code"]: a["comparison"] for a in body["areas"]}


def _word(text: str) -> str:
    return text.split(" ")[0]


def test_comparison_method_changes_the_judgements(site: LiveServer) -> None:
    default = _judged(site, "/indicators/90323.json")
    strict = _judged(site, "/indicators/90323.json?comparison=99.8")
    two = _judged(site, "/indicators/90323.json?comparison=two-levels")
    assert set(default) == set(strict) == set(two)
    # 99.8% intervals are wider: fewer differences, and some 95% ones become similar.
    changed = [c for c in default if default[c] != strict[c]]
    assert changed and all(strict[c].startswith("Similar") for c in changed)
    for code, words in two.items():
        # Two levels say better/worse exactly where 95% does, "at 99.8%" where 99.8% does.
        assert _word(words) == _word(default[code])
        if words.startswith(("Better", "Worse")):
            strong = not strict[code].startswith("Similar")
            assert words.endswith(" at 99.8%" if strong else " at 95%"), (code, words)
    assert any(w.endswith("at 99.8%") for w in two.values())
    assert any(w.endswith("at 95%") for w in two.values())
    # CI overlap against London's interval: never significant where one level says similar,
    # and London's wider interval turns some differences into "similar".
    one = _judged(site, "/indicators/92443.json?benchmark=london")
    overlap = _judged(site, "/indicators/92443.json?benchmark=london&comparison=ci-overlap")
    assert all(overlap[c].startswith("Similar") for c in one if one[c].startswith("Similar"))
    assert any(one[c] != overlap[c] for c in one)
    assert overlap["E09000002"] == "Similar to London" != one["E09000002"]


def test_comparison_method_is_said_in_the_page_twins_and_charts(site: LiveServer) -> None:
    query = "comparison=two-levels"
    html = _get(site, f"/indicators/90323?{query}").text
    assert '<option value="two-levels" selected>' in html
    assert 'id="choose-comparison"' in html and "Comparison method" in html
    words = "Compared with England using 95% and 99.8% confidence intervals (two levels)"
    assert html.count(words) >= 3  # the map's and bars' text alternatives and the table
    assert f"chart-map.csv?{query}" in html and f"90323.csv?{query}" in html
    body = _get(site, f"/indicators/90323.json?{query}").json()
    assert body["comparison"] == "two-levels" and body["comparison_method"] == words
    assert {a["comparison_method"] for a in body["areas"] if a["area_code"] != "E92000001"} == {
        words
    }
    rows = list(csv.DictReader(io.StringIO(_get(site, f"/indicators/90323.csv?{query}").text)))
    assert {r["Comparison method"] for r in rows} == {
        "Compared with each benchmark using 95% and 99.8% confidence intervals (two levels)"
    }
    england = {r["Compared to England value or percentiles"] for r in rows}
    assert {"Better 99.8%", "Worse 95%", "Similar"} <= england
    default_rows = list(csv.DictReader(io.StringIO(_get(site, "/indicators/90323.csv").text)))
    assert {r["Comparison method"] for r in default_rows} == {
        "Compared with each benchmark using 95% confidence intervals"
    }
    for chart in ("map", "compare"):
        table = list(
            csv.DictReader(
                io.StringIO(_get(site, f"/indicators/90323/chart-{chart}.csv?{query}").text)
            )
        )
        assert {r["comparison_method"] for r in table} == {words}
        spec = _get(site, f"/indicators/90323/chart-{chart}.vl.json?{query}").json()
        text = str(spec)
        assert "better (99.8%)" in text and "better (95%)" in text and words in text
    area = _get(site, "/areas/E09000007.json?comparison=99.8").json()
    assert area["comparison_method"] == "Compared with England using 99.8% confidence intervals"
    spine = _get(site, "/areas/E09000007/chart-spine.csv?comparison=99.8").text
    assert "using 99.8% confidence intervals" in spine


@pytest.mark.parametrize(
    "path",
    [
        "/indicators/90323?comparison=99.9",
        "/indicators/90323.json?comparison=bogus",
        "/indicators/90323.csv?comparison=bogus",
        "/indicators/90323/chart-map.csv?comparison=bogus",
        "/areas/E09000007?comparison=bogus",
        # London has no interval for this indicator, so there is nothing to overlap with.
        "/indicators/hc-new-hiv-infections?benchmark=london&comparison=ci-overlap",
    ],
)
def test_a_comparison_method_the_page_cannot_offer_is_a_400(site: LiveServer, path: str) -> None:
    response = _get(site, path)
    assert response.status_code == 400
    assert "comparison method" in response.text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/indicators/no-such-indicator", 404),
        ("/indicators/no-such-indicator.json", 404),
        ("/areas/E99999999", 404),
        ("/aspirations/no-such-aspiration", 404),
        ("/commitments/no-such-commitment.csv", 404),
        ("/indicators/90323?benchmark=mars", 400),
        ("/indicators/90323?area=XX", 404),
        ("/indicators/90323?period=1066", 400),
        ("/indicators/90323?sex=Dragons", 400),
        ("/indicators/90323?breakdown=nobar", 400),
        ("/indicators/90323/chart-nope.csv", 404),
        ("/areas/E09000007?benchmark=%00", 400),
        ("/search?q=" + "x" * 300, 400),
        ("/indicators/%00", 404),
        ("/areas/%00x", 404),
        ("/aspirations/%00", 404),
        ("/commitments/a%0Ab", 404),
    ],
)
def test_bad_parameters_are_refused_not_errors(site: LiveServer, path: str, status: int) -> None:
    response = _get(site, path)
    assert response.status_code == status
    if not path.split("?")[0].endswith((".json", ".csv")):
        assert "– healthycity</title>" in response.text


def test_search_finds_indicators_and_areas(site: LiveServer) -> None:
    by_code = _get(site, "/search?q=E09000007").text
    assert 'href="/areas/E09000007"' in by_code
    by_id = _get(site, "/search?q=90323").text
    assert 'href="/indicators/90323"' in by_id
    by_words = _get(site, "/search?q=year+6+obesity").text
    assert 'href="/indicators/90323"' in by_words
    nothing = _get(site, "/search?q=zzzzqqq").text
    assert "No indicators match" in nothing
    assert "&lt;script&gt;" in _get(site, "/search?q=%3Cscript%3E").text


def test_inequalities_show_best_worst_and_gap(site: LiveServer) -> None:
    html = _get(site, "/inequalities").text
    assert "Best or highest" in html and "Worst or lowest" in html
    rows = list(csv.DictReader(io.StringIO(_get(site, "/inequalities.csv").text)))
    assert len(rows) >= 20
    assert all(row["best_or_highest"] != row["worst_or_lowest"] for row in rows)


def test_inequalities_show_a_numeric_sii_from_the_demo_deciles(site: LiveServer) -> None:
    """The demo's deprivation deciles give a real SII, the same figure in the page, its
    CSV and JSON twins and the chart's CSV."""
    text = _text(_get(site, "/inequalities").text)
    assert "The slope index of inequality" in text and "least deprived" in text
    assert re.search(
        r"-\d+\.\d \(95% interval -[\d.]+ to -[\d.]+\) [\d.]+ percentage points lower at the "
        r"least deprived end",
        text,
    )
    assert "10 deprivation groups" in text and "groups are incomplete" not in text
    rows = {
        r["indicator_id"]: r
        for r in csv.DictReader(io.StringIO(_get(site, "/inequalities.csv").text))
    }
    obesity = rows["90323"]  # Year 6 obesity: worse among the most deprived
    sii, low, high = (float(obesity[k]) for k in ("sii", "sii_lower_95", "sii_upper_95"))
    assert low < sii < high < 0 and obesity["sii_groups"] == "10"
    # A text cell starting with "-" is written with a leading "'" so that a spreadsheet
    # does not take it for a formula (twins.csv_safe); the numbers are in their own columns.
    assert (
        f"'{sii:.1f} (95% interval {low:.1f} to {high:.1f})" == obesity["slope_index_of_inequality"]
    )
    assert float(rows["90362"]["sii"]) > 0  # healthy life expectancy: longer when less deprived
    assert rows["hc-homicides"]["sii"] == ""  # no deciles: no SII, and no error either
    assert "hc-demo-population" not in rows  # a population is not an inequality
    chart = list(csv.DictReader(io.StringIO(_get(site, "/inequalities/chart-sii.csv").text)))
    groups = [r for r in chart if r["indicator_id"] == "90323"]
    assert [int(r["deprivation_rank"]) for r in groups] == list(range(1, 11))
    assert {float(r["sii"]) for r in groups} == {sii}
    # The fitted line rises by the SII from the most to the least deprived end.
    first, last = groups[0], groups[-1]
    slope = (float(last["fitted_value"]) - float(first["fitted_value"])) / (
        float(last["population_midpoint"]) - float(first["population_midpoint"])
    )
    assert slope == pytest.approx(sii, rel=1e-6)
    data = _get(site, "/inequalities.json").json()
    (line,) = [x for x in data["indicators"] if x["indicator_id"] == "90323"]
    assert line["sii"] == sii
    assert "sii" in data["charts"] and data["charts"]["sii"]["description"].startswith("Charts of")


def test_area_page_has_the_demo_population_pyramid(site: LiveServer) -> None:
    html = _get(site, "/areas/E09000007").text
    assert "Population by age and sex" in html
    assert re.search(
        r'role="img" aria-label="Population pyramid of Camden, \d{4}: [\d,]+ people', html
    )
    rows = list(csv.DictReader(io.StringIO(_get(site, "/areas/E09000007/chart-pyramid.csv").text)))
    assert len(rows) == 38 and {r["sex"] for r in rows} == {"Male", "Female"}
    assert all(float(r["people"]) > 0 for r in rows)


# ---------------------------------------------------------------- journeys with new data


def _serve(engine: Engine) -> LiveServer:
    url = engine.url.render_as_string(hide_password=False)
    return LiveServer(create_app(settings_for(url)))  # type: ignore[arg-type]


def test_an_indicator_not_in_the_pack_gets_every_page(engine: Engine, tmp_path: Path) -> None:
    from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv

    load_pack_only(engine)
    import_fingertips_csv(engine, [new_indicator_file(tmp_path / "new.csv")])
    with _serve(engine) as server:
        page = _get(server, "/indicators/99901")
        table = _get(server, "/indicators/99901.csv")
        data = _get(server, "/indicators/99901.json")
        tile_map = _get(server, "/indicators/99901/chart-map.csv")
        found = _get(server, "/search?q=pigeon")
        home = _get(server, "/")
    assert page.status_code == 200
    html = page.text
    assert "Pigeon-related injuries" in html
    assert html.count('role="img"') >= 3
    assert "Illustrative data" not in html
    map_rows = list(csv.DictReader(io.StringIO(tile_map.text)))
    assert {r["area_code"] for r in map_rows} == set(BOROUGHS)
    rows = list(csv.DictReader(io.StringIO(table.text)))
    # Rows the file gave, plus the sub-regions rolled up from its boroughs (issue 12),
    # each saying how it was obtained.
    computed = [r for r in rows if r["Value note"].startswith("Computed from the boroughs")]
    given = [r for r in rows if r not in computed]
    assert {r["Area Code"] for r in given} == {"E92000001", "E12000007", *BOROUGHS}
    assert len(given) == 30
    assert all(r["Area Code"].startswith("E54") for r in computed)
    assert set(data.json()["charts"]) == {"map", "compare", "funnel", "trend"}
    assert 'href="/indicators/99901"' in found.text
    assert home.status_code == 200


def test_csv_twin_round_trips_through_the_importer(engine: Engine, tmp_path: Path) -> None:
    """Download the CSV twin, load it with the Fingertips importer into a fresh database,
    download again: the same file, and the same figures."""
    from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv

    load_pack_only(engine)
    import_fingertips_csv(engine, [new_indicator_file(tmp_path / "new.csv")])
    with _serve(engine) as server:
        first = _get(server, "/indicators/99901.csv").text
    twin = tmp_path / "twin.csv"
    twin.write_text(first, encoding="utf-8")
    again = import_fingertips_csv(engine, [twin])
    assert not again.changed, "re-importing the twin into the same database changed it"

    from healthycity.core.db import make_engine
    from healthycity.core.migrate import upgrade

    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    other = make_engine(other_url)
    upgrade(other)
    load_pack_only(other)
    import_fingertips_csv(other, [twin])
    with _serve(other) as server:
        second = _get(server, "/indicators/99901.csv").text
    other.dispose()
    assert second == first


def test_demo_csv_twin_reimports_unchanged(london_sqlite: str, tmp_path: Path) -> None:
    import shutil

    from sqlalchemy.engine import make_url

    from healthycity.core.db import make_engine
    from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv

    source = make_url(london_sqlite).database
    assert source
    copy = tmp_path / "copy.db"
    shutil.copy(source, copy)
    engine = make_engine(f"sqlite:///{copy}")
    with _serve(engine) as server:
        text = _get(server, "/indicators/90323.csv").text
    twin = tmp_path / "90323.csv"
    twin.write_text(text, encoding="utf-8")
    result = import_fingertips_csv(engine, [twin], illustrative=True)
    engine.dispose()
    assert not result.changed


def test_boundaries_replace_the_tile_map(engine: Engine, shared_dir: Path) -> None:
    from healthycity.outcomes.boundaries import load_boundaries
    from healthycity.outcomes.demo import load_demo

    load_pack_only(engine)
    load_demo(engine)
    with _serve(engine) as server:
        before = _get(server, "/indicators/90323").text
    assert "Tile map of 33 areas" in before
    files = shared_dir / "data" / "boundaries"
    first = load_boundaries(engine, files / "london_lad_may2024_bsc.geojson")
    assert first.stored == 33 and first.key == "LAD24CD"
    again = load_boundaries(engine, files / "london_lad_may2024_bsc.geojson")
    assert again.stored == 0 and again.unchanged == 33
    topo = load_boundaries(engine, files / "london_boroughs_simplified_topo.json")
    assert topo.key == "gss_code" and topo.stored + topo.unchanged == 33
    subs = load_boundaries(engine, files / "london_icb_apr2023_bsc.geojson")
    assert subs.stored == 5
    with _serve(engine) as server:
        after = _get(server, "/indicators/90323").text
    assert "Map of 33 areas" in after and "Boundaries loaded from a file" in after


def test_population_pyramid_and_sii_appear_when_the_data_allow(
    engine: Engine, tmp_path: Path
) -> None:
    from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv

    load_pack_only(engine)
    rows = []
    for sex, base in (("Male", 9000), ("Female", 9400)):
        for start in range(0, 90, 5):
            rows.append(
                fingertips_row(
                    **{
                        "Indicator ID": "92708",
                        "Indicator Name": "Population: resident population",
                        "Area Code": "E09000007",
                        "Area Name": "Camden",
                        "Area Type": "Local authority",
                        "Sex": sex,
                        "Age": f"{start}-{start + 4} yrs",
                        "Time period": "2019",
                        "Value": base - start * 80,
                        "Count": base - start * 80,
                        "Time period Sortable": 20190000,
                    }
                )
            )
    deciles = [
        "Most deprived decile (IMD2019)",
        "Second most deprived decile (IMD2019)",
        "Third more deprived decile (IMD2019)",
        "Fourth more deprived decile (IMD2019)",
        "Fifth more deprived decile (IMD2019)",
        "Fifth less deprived decile (IMD2019)",
        "Fourth less deprived decile (IMD2019)",
        "Third less deprived decile (IMD2019)",
        "Second least deprived decile (IMD2019)",
        "Least deprived decile (IMD2019)",
    ]
    for code, name, shift in (
        ("E12000007", "London", 0.0),
        *[(c, n, i * 0.5) for i, (c, n) in enumerate(BOROUGHS.items())],
    ):
        base_row = {
            "Indicator ID": "93999",
            "Indicator Name": "Life expectancy at birth (illustrative test)",
            "Area Code": code,
            "Area Name": name,
            "Area Type": "Region" if code.startswith("E12") else "Local authority",
            "Sex": "Persons",
            "Age": "All ages",
            "Time period": "2017 - 19",
            "Time period Sortable": 20170000,
        }
        rows.append(
            fingertips_row(
                **base_row,
                **{
                    "Value": 81 + shift,
                    "Lower CI 95.0 limit": 80.5 + shift,
                    "Upper CI 95.0 limit": 81.5 + shift,
                },
            )
        )
        if code == "E12000007":
            for rank, category in enumerate(deciles):
                value = 77 + rank * 0.8
                rows.append(
                    fingertips_row(
                        **base_row,
                        **{
                            "Category Type": "County & UA deprivation deciles in England (IMD2019)",
                            "Category": category,
                            "Value": value,
                            "Lower CI 95.0 limit": value - 0.4,
                            "Upper CI 95.0 limit": value + 0.4,
                            "Denominator": 80000,
                        },
                    )
                )
    path = tmp_path / "extra.csv"
    path.write_text(fingertips_csv(rows), encoding="utf-8")
    import_fingertips_csv(engine, [path])
    with _serve(engine) as server:
        camden = _get(server, "/areas/E09000007").text
        gaps = _get(server, "/inequalities").text
        pyramid = _get(server, "/areas/E09000007/chart-pyramid.csv")
    assert "Population by age and sex" in camden and "Population pyramid of Camden" in camden
    assert pyramid.status_code == 200 and "Female" in pyramid.text
    text = _text(gaps)
    assert re.search(r"-?\d+\.\d \(95% interval -?[\d.]+ to -?[\d.]+\)", text), text[-2000:]
    assert "10 deprivation groups" in text


def test_bulk_area_profile_equals_the_queries_module(london_url: str) -> None:
    """The page's three-query profile must say exactly what queries.area_profile says."""
    from healthycity.core.db import make_engine, session_factory
    from healthycity.outcomes import dashboard as d
    from healthycity.outcomes import queries as q

    engine = make_engine(london_url)
    cache = d.PageCache()
    with session_factory(engine)() as session:
        version = d.data_version(session)
        for code in ("E09000007", "E09000001", "E54000027", "E12000007"):
            for benchmark in ("E92000001", "E12000007"):
                mine = d.area_profile(session, cache, version, code, benchmark)
                theirs = q.area_profile(session, code, benchmark=benchmark)
                assert mine == theirs, (code, benchmark)
    engine.dispose()
