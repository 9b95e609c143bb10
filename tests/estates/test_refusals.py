"""A malformed return is refused with file, row, column and reason, and nothing is written."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core.db import read_transaction
from healthycity.estates.models import EstatesReturn
from tests.estates.conftest import cli, raw_rows

SOURCE = "eric_2016_17_site_london.csv"
HIGH = "Cost to eradicate high risk backlog (£)"


def _write(path: Path, rows: list[dict[str, str]], drop: str | None = None) -> Path:
    columns = [c for c in rows[0] if c != drop]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def _count(engine: Engine) -> int:
    with read_transaction(engine) as session:
        return session.scalar(select(func.count()).select_from(EstatesReturn)) or 0


@pytest.fixture
def seeded(engine: Engine, estates_dir: Path) -> str:
    """A database already holding one valid year, so 'nothing written' means unchanged."""
    url = engine.url.render_as_string(hide_password=False)
    assert (
        cli(url, "estates", "load", str(estates_dir / "eric_2015_16_trust_london.csv")).exit_code
        == 0
    )
    return url


def _refused(url: str, engine: Engine, estates_dir: Path, bad: Path) -> str:
    before = _count(engine)
    good = estates_dir / "eric_2016_17_trust_london.csv"
    result = cli(url, "estates", "load", str(good), str(bad))
    assert result.exit_code == 1
    assert "nothing was loaded" in result.stderr
    assert _count(engine) == before
    return str(result.stderr)


def test_text_in_a_money_column_is_refused(
    seeded: str, engine: Engine, estates_dir: Path, tmp_path: Path
) -> None:
    rows = raw_rows(estates_dir / SOURCE)
    rows[4][HIGH] = "about £2m"
    bad = _write(tmp_path / "eric_2016_17_site_london.csv", rows)
    message = _refused(seeded, engine, estates_dir, bad)
    assert f"eric_2016_17_site_london.csv, row 6, column {HIGH!r}" in message
    assert "'about £2m' is not a number" in message


def test_a_missing_key_column_is_refused(
    seeded: str, engine: Engine, estates_dir: Path, tmp_path: Path
) -> None:
    bad = _write(
        tmp_path / "eric_2016_17_site_london.csv", raw_rows(estates_dir / SOURCE), "Site Code"
    )
    message = _refused(seeded, engine, estates_dir, bad)
    assert "row 1" in message and "lacks the column(s): Site Code" in message


def test_an_empty_key_cell_is_refused(
    seeded: str, engine: Engine, estates_dir: Path, tmp_path: Path
) -> None:
    rows = raw_rows(estates_dir / SOURCE)
    rows[9]["Organisation Code"] = ""
    message = _refused(seeded, engine, estates_dir, _write(tmp_path / "eric_2016_17_s.csv", rows))
    assert "row 11, column 'Organisation Code': the key is empty" in message


def test_a_duplicate_site_is_refused(
    seeded: str, engine: Engine, estates_dir: Path, tmp_path: Path
) -> None:
    rows = raw_rows(estates_dir / SOURCE)
    rows.append(dict(rows[2]))
    message = _refused(seeded, engine, estates_dir, _write(tmp_path / "eric_2016_17_s.csv", rows))
    site = f"{rows[2]['Organisation Code']} {rows[2]['Site Code']}"
    assert (
        f"row {len(rows) + 1}, column 'Site Code': duplicate site {site} (first at row 4)"
        in message
    )


def test_an_unknown_layout_lists_the_columns_it_lacks(
    seeded: str, engine: Engine, estates_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "eric_2016_17_other.csv"
    bad.write_text("Code,Name,Value\nX,Y,1\n", encoding="utf-8")
    message = _refused(seeded, engine, estates_dir, bad)
    assert "not a layout estates load knows" in message and "needs the column(s):" in message


def test_a_file_without_a_year_needs_one(
    seeded: str, engine: Engine, estates_dir: Path, tmp_path: Path
) -> None:
    bad = _write(tmp_path / "site-data.csv", raw_rows(estates_dir / SOURCE))
    assert "give --year" in _refused(seeded, engine, estates_dir, bad)
    given = cli(seeded, "estates", "load", "--year", "2016/17", str(bad))
    assert given.exit_code == 0, given.output


def test_no_data_provided_is_missing_with_its_reason(
    seeded: str, engine: Engine, estates_dir: Path, tmp_path: Path
) -> None:
    rows = raw_rows(estates_dir / SOURCE)[:3]
    rows[0][HIGH] = "No Data Provided"
    rows[1][HIGH] = "1234.5678901234567"  # more decimals than pence: rounded, text kept
    path = _write(tmp_path / "eric_2016_17_site_x.csv", rows)
    assert cli(seeded, "estates", "load", str(path)).exit_code == 0
    with read_transaction(engine) as session:
        found = {
            r.site_code: r
            for r in session.scalars(select(EstatesReturn).where(EstatesReturn.year == "2016-17"))
        }
        first, second = found[rows[0]["Site Code"]], found[rows[1]["Site Code"]]
        assert first.backlog_high is None
        assert first.missing["backlog_high"] == "No Data Provided"
        assert str(second.backlog_high) == "1234.57"
        assert second.published[HIGH] == "1234.5678901234567"
