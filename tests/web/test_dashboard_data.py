"""Shared data for the dashboard, API and site-build tests, and tests of the page data.

The London pack plus its illustrative demo data is built once per test session and per
engine (SQLite file, PostgreSQL schema) and only read afterwards; tests that load more
data use their own function-scoped database. ``fingertips_csv`` writes small files in
Fingertips' own columns for the "indicator not in the pack" journeys.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from healthycity.core.db import make_engine, session_factory
from healthycity.core.migrate import upgrade
from healthycity.outcomes import dashboard as d
from healthycity.outcomes import fingertips_columns as fc
from tests.conftest import _postgres_schema_url

BOROUGHS = {
    "E09000007": "Camden",
    "E09000012": "Hackney",
    "E09000022": "Lambeth",
    "E09000033": "Westminster",
}


def build_london(url: str) -> str:
    """Migrate, load the London pack and the demo data; return ``url``."""
    from healthycity.core.pack_loading import load_pack
    from healthycity.outcomes.demo import load_demo
    from healthycity.packs.reader import PACKS_DIR, read_pack

    engine = make_engine(url)
    upgrade(engine)
    load_pack(engine, read_pack(PACKS_DIR / "london"))
    load_demo(engine)
    engine.dispose()
    return url


def load_pack_only(engine: Engine) -> None:
    from healthycity.core.pack_loading import load_pack
    from healthycity.packs.reader import PACKS_DIR, read_pack

    load_pack(engine, read_pack(PACKS_DIR / "london"))


@pytest.fixture(scope="session")
def london_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("london")
    return build_london(f"sqlite:///{folder / 'london.db'}")


@pytest.fixture(scope="session")
def london_postgres() -> Iterator[str]:
    for url in _postgres_schema_url():
        yield build_london(url)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def london_url(request: pytest.FixtureRequest) -> str:
    """The demo London database on each engine (read-only)."""
    name = "london_sqlite" if request.param == "sqlite" else "london_postgres"
    url: str = request.getfixturevalue(name)
    return url


def fingertips_row(**values: Any) -> dict[str, str]:
    row = {column: "" for column in fc.COLUMNS}
    row.update({k: "" if v is None else str(v) for k, v in values.items()})
    return row


def fingertips_csv(rows: Sequence[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fc.COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def new_indicator_file(
    path: Path, indicator_id: str = "99901", name: str = "Pigeon-related injuries"
) -> Path:
    """A Fingertips file for an indicator the pack does not know: England, London and
    four boroughs over five years, proportions with counts and intervals."""
    from healthycity.outcomes.stats.proportion import proportion

    areas = [
        ("E92000001", "England", "England", 500, 10000),
        ("E12000007", "London", "Region", 90, 1500),
        *[
            (code, name_, "Local authority", 20 + 6 * i, 300)
            for i, (code, name_) in enumerate(BOROUGHS.items())
        ],
    ]
    rows = []
    for year_index, year in enumerate(range(2015, 2020)):
        for code, area_name, area_type, count, denominator in areas:
            n = count + year_index * 3
            estimate = proportion([n], [denominator], confidence=(0.95, 0.998), multiplier=100)
            rows.append(
                fingertips_row(
                    **{
                        fc.INDICATOR_ID: indicator_id,
                        fc.INDICATOR_NAME: name,
                        fc.PARENT_CODE: "E12000007" if code.startswith("E09") else "",
                        fc.PARENT_NAME: "London" if code.startswith("E09") else "",
                        fc.AREA_CODE: code,
                        fc.AREA_NAME: area_name,
                        fc.AREA_TYPE: area_type,
                        fc.SEX: "Persons",
                        fc.AGE: "All ages",
                        fc.TIME_PERIOD: str(year),
                        fc.VALUE: repr(float(estimate.value[0])),
                        fc.LOWER_95: repr(float(estimate.lower[0.95][0])),
                        fc.UPPER_95: repr(float(estimate.upper[0.95][0])),
                        fc.LOWER_998: repr(float(estimate.lower[0.998][0])),
                        fc.UPPER_998: repr(float(estimate.upper[0.998][0])),
                        fc.COUNT: n,
                        fc.DENOMINATOR: denominator,
                        fc.TIME_PERIOD_SORTABLE: year * 10000,
                    }
                )
            )
    path.write_text(fingertips_csv(rows), encoding="utf-8")
    return path


# ------------------------------------------------------------------------- tests


def test_tile_labels_are_unique_and_short() -> None:
    taken: set[str] = set()
    names = ["Barnet", "Barking and Dagenham", "Harrow", "Haringey", "Havering", "Hackney"]
    labels = [d.tile_label(n, taken) for n in names]
    assert len(set(labels)) == len(labels)
    assert all(len(label) == 3 for label in labels)


def test_words_never_rely_on_colour() -> None:
    assert d.comparison_words("worse", "England") == "Worse than England"
    assert d.comparison_words("similar", "London") == "Similar to London"
    # Two levels say the level in words, so 99.8% and 95% differ without colour too.
    assert d.comparison_words("better (99.8%)", "England") == "Better than England at 99.8%"
    assert d.comparison_words("worse (95%)", "London") == "Worse than London at 95%"
    assert d.outcome_tag("worse (95%)") != d.outcome_tag("worse (99.8%)")
    assert d.comparison_words("not compared", "England") == "Not compared"
    assert d.fmt(1234.5) == "1,234" or d.fmt(1234.5) == "1,235"
    assert d.fmt(None) == "no data"


@pytest.mark.parametrize(
    ("category", "rank"),
    [
        ("Most deprived decile (IMD2019)", 1),
        ("Second most deprived decile (IMD2019)", 2),
        ("Least deprived decile (IMD2019)", 10),
        ("Second least deprived decile (IMD2019)", 9),
        ("Fifth less deprived decile (IMD2019)", 6),
        ("Third more deprived decile (IMD2019)", 3),
        ("Decile 4", 4),
    ],
)
def test_deprivation_ranks(category: str, rank: int) -> None:
    assert d.deprivation_rank(category, 10) == rank


def test_data_version_changes_when_data_change(london_sqlite: str, tmp_path: Path) -> None:
    import shutil

    from sqlalchemy.engine import make_url

    source = make_url(london_sqlite).database
    assert source
    copy = tmp_path / "copy.db"
    engine = make_engine(london_sqlite)
    engine.dispose()
    shutil.copy(source, copy)
    engine = make_engine(f"sqlite:///{copy}")
    sessions = session_factory(engine)
    with sessions() as session:
        before = d.data_version(session)
    from healthycity.outcomes.demo import clear_demo

    clear_demo(engine)
    with sessions() as session:
        after = d.data_version(session)
    engine.dispose()
    assert before != after
