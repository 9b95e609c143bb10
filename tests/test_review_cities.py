"""Global city comparisons as sourced data: the pack file's format, its refusals (file,
line, column and reason; nothing written), idempotent loading on both engines, and the
London pack's file rebuilt from the shared OECD series by its script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.pack_loading import load_pack
from healthycity.packs import PackInvalid, read_pack, validate_pack
from healthycity.packs.reader import PACKS_DIR
from healthycity.packs.schema.global_cities import GLOBAL_CITIES_FILE, read_global_cities
from healthycity.reports.cities import measures
from healthycity.reports.models import GlobalCityFigure

REPO = Path(__file__).resolve().parents[1]
HEADER = (
    "city,country,measure,measure_name,value,unit,year,geography,standardisation,"
    "collection,source_title,source_url,retrieved,caveat"
)
GOOD = (
    'Paris,France,infant-mortality,Infant mortality,3.8,"per 1,000 live births",2019,'
    "national,crude,measured,OECD infant mortality,https://data.oecd.org/x,2023-01,"
)
SHIPPED_CITIES = {
    "London",
    "New York",
    "Paris",
    "Tokyo",
    "Sydney",
    "Toronto",
    "Madrid",
    "Johannesburg",
    "São Paulo",
    "Hong Kong",
}


def _problems(*rows: str) -> list[str]:
    figures, problems = read_global_cities("\n".join([HEADER, *rows]) + "\n")
    assert (figures is None) == bool(problems)
    return [str(p) for p in problems]


def test_a_good_row_reads_as_an_exact_figure() -> None:
    figures, problems = read_global_cities(f"{HEADER}\n{GOOD}\n")
    assert problems == [] and figures is not None
    (paris,) = figures
    assert str(paris.value) == "3.8" and paris.year == 2019 and paris.geography == "national"


def test_unsourced_figures_are_refused_with_line_column_and_reason() -> None:
    no_title = GOOD.replace("OECD infant mortality,", ",")
    problems = _problems(GOOD.replace("Paris", "Tokyo"), no_title)
    assert problems == [
        f"{GLOBAL_CITIES_FILE}: line 3, column source_title: a figure needs its source: "
        "the title of the document or table"
    ]
    no_url = GOOD.replace("https://data.oecd.org/x", "")
    assert _problems(no_url) == [
        f"{GLOBAL_CITIES_FILE}: line 2, column source_url: a figure needs its source: "
        "the web address it was taken from"
    ]
    no_year = GOOD.replace(",2019,", ",,")
    assert _problems(no_year) == [
        f"{GLOBAL_CITIES_FILE}: line 2, column year: a figure needs the year it describes"
    ]


def test_other_refusals_name_the_row_and_the_reason() -> None:
    problems = _problems(
        GOOD.replace("national", "planet"),
        GOOD.replace("https://data.oecd.org/x", "data.oecd.org/x").replace("Paris", "Rome"),
        GOOD.replace("3.8", "-1").replace("Paris", "Oslo"),
        GOOD.replace(",3.8,", ",,").replace("Paris", "Lima"),
        GOOD.replace("2023-01", "2999-01").replace("Paris", "Kyiv"),
    )
    assert problems[0].startswith(f"{GLOBAL_CITIES_FILE}: line 2, column geography: ")
    assert "line 3, column source_url: the source's address must be a web address" in problems[1]
    assert "line 4, column value: " in problems[2] and "greater than or equal to 0" in problems[2]
    assert "line 5: a row without a value records a gap: say in the caveat why" in problems[3]
    assert "line 6, column retrieved: the retrieval date is in the future" in problems[4]
    assert len(problems) == 5


def test_one_figure_per_city_measure_and_year_and_one_unit_per_measure() -> None:
    problems = _problems(GOOD, GOOD, GOOD.replace("Paris", "Rome").replace('"per 1,000', '"per'))
    assert problems == [
        f"{GLOBAL_CITIES_FILE}: line 3, column measure: Paris already has a figure for "
        "infant-mortality in 2019 (first at line 2)",
        f"{GLOBAL_CITIES_FILE}: line 4, column unit: measure 'infant-mortality' is named "
        "'Infant mortality' in 'per 1,000 live births' at line 2; one measure has one name "
        "and one unit",
    ]


def test_a_missing_or_unknown_column_is_refused() -> None:
    _figures, problems = read_global_cities("city,country,measure\nLondon,UK,x\n")
    reasons = [p.reason for p in problems]
    assert "missing column 'source_url'" in reasons and "missing column 'year'" in reasons


def test_the_london_pack_ships_the_ten_cities_each_sourced() -> None:
    pack = read_pack(PACKS_DIR / "london")
    assert {f.city for f in pack.global_cities} == SHIPPED_CITIES
    for figure in pack.global_cities:
        assert figure.source_url.startswith("https://") and figure.source_title
        assert figure.year == 2019 or (figure.caveat and str(figure.year) in figure.caveat)
        assert figure.geography == "national"  # every shipped figure is a country's
        if figure.value is None:
            assert figure.caveat and figure.caveat.startswith("No comparable figure")
    hong_kong = [f for f in pack.global_cities if f.city == "Hong Kong"]
    assert hong_kong and all(f.value is None for f in hong_kong)


def test_the_shipped_file_is_what_the_script_builds_from_the_shared_data(
    shared_dir: Path,
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_global_cities.py"),
            "--check",
            "--shared",
            str(shared_dir),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def _count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(GlobalCityFigure)) or 0)


def test_a_bad_file_refuses_the_pack_and_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    shutil.copytree(PACKS_DIR / "london", folder)
    text = (folder / GLOBAL_CITIES_FILE).read_text(encoding="utf-8").splitlines()
    text[5] = text[5].replace("https://data.oecd.org", "")
    (folder / GLOBAL_CITIES_FILE).write_text("\n".join(text) + "\n", encoding="utf-8")
    problems = [str(p) for p in validate_pack(folder)]
    assert problems == [
        f"{GLOBAL_CITIES_FILE}: line 6, column source_url: the source's address must be a "
        "web address (https://…) (got '/healthstat/life-expectancy-at-birth.htm')"
    ]
    with pytest.raises(PackInvalid):
        read_pack(folder)
    assert _count(engine) == 0


def test_loading_twice_changes_nothing_and_a_removed_figure_goes(
    engine: Engine, tmp_path: Path
) -> None:
    pack = read_pack(PACKS_DIR / "london")
    first = load_pack(engine, pack)
    assert first.created > 0 and _count(engine) == len(pack.global_cities) == 30
    with Session(engine) as session:
        before = {
            (r.city, r.measure, r.year): (r.value, r.caveat, r.source_url)
            for r in session.scalars(select(GlobalCityFigure))
        }
    second = load_pack(engine, pack)
    assert (second.created, second.deleted) == (0, 0)
    with Session(engine) as session:
        after = {
            (r.city, r.measure, r.year): (r.value, r.caveat, r.source_url)
            for r in session.scalars(select(GlobalCityFigure))
        }
        found = measures(session, "London")
    assert after == before
    assert [m.slug for m in found] == [
        "infant-mortality",
        "life-expectancy-at-birth",
        "suicide-rate",
    ]
    suicide = found[-1]
    assert suicide.values[0].city == "London" and suicide.home is suicide.values[0]
    assert dict(suicide.gaps)["Johannesburg"].startswith("No comparable figure: 0.6")
    folder = tmp_path / "pack"
    shutil.copytree(PACKS_DIR / "london", folder)
    lines = (folder / GLOBAL_CITIES_FILE).read_text(encoding="utf-8").splitlines()
    (folder / GLOBAL_CITIES_FILE).write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    third = load_pack(engine, read_pack(folder))
    assert third.deleted == 1 and _count(engine) == 29
