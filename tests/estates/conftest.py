"""Estates fixtures: the shared ERIC files, loaded through the command line.

The files come from ``../shared/data/estates`` (the `shared_dir` fixture); the package
itself never reads there, it is only ever given paths.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from healthycity.cli import app as root_app

YEARS = ("2013-14", "2014-15", "2015-16", "2016-17")
LOOKUP = "london_org_subregion_lookup.csv"
LOCATIONS = "nhs_choices_2014_hospital_sites_london_trusts.csv"
MARKERS = {"Not Applicable", "No Data Provided", ""}
runner = CliRunner()


def cli(url: str, *args: str) -> Any:
    """Run ``healthycity --database URL ARGS…`` and return the result."""
    return runner.invoke(root_app, ["--database", url, *args])


@pytest.fixture(scope="session")
def estates_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "estates"


def london_files(folder: Path) -> list[Path]:
    """Every London ERIC file of the four years, the lookup and the NHS Choices sites."""
    return [*sorted(folder.glob("eric_*_london.csv")), folder / LOOKUP, folder / LOCATIONS]


def load_all(url: str, folder: Path) -> Any:
    result = cli(url, "estates", "load", *map(str, london_files(folder)))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def loaded(engine: Engine, estates_dir: Path) -> Iterator[str]:
    """A migrated database (each engine) holding all four London years; yields its URL."""
    url = engine.url.render_as_string(hide_password=False)
    load_all(url, estates_dir)
    yield url


def summary(url: str, year: str) -> dict[str, Any]:
    result = cli(url, "estates", "summary", "--year", year)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout, parse_float=Decimal)
    return data


def raw_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def raw_sum(rows: list[dict[str, str]], *columns: str) -> Decimal:
    """Σ of the first of ``columns`` each row has, markers and blanks left out."""
    total = Decimal(0)
    for row in rows:
        name = next(c for c in columns if c in row)
        if row[name].strip() not in MARKERS:
            total += Decimal(row[name].strip())
    return total
