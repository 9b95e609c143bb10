"""Issue 12 item 6: bad input gets a clear error (file, row, column, reason), never a
traceback, and nothing is written. One test per refusal, on both engines: each loads a
good file first, then a file with one bad row, and checks the database is unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv
from healthycity.outcomes.ingest.long_format import import_long_file
from healthycity.outcomes.ingest.problems import ImportRefused
from healthycity.outcomes.ingest.validate import is_period
from tests.outcomes.test_ingest_fingertips_csv import row, snapshot, write


def good_rows() -> list[dict[str, Any]]:
    return [
        row(code="E92000001", area="England", type="England", value="14.4", lo="14.2", hi="14.6"),
        row(
            code="E09000002",
            area="Barking and Dagenham",
            type="UA",
            value="18.3",
            lo="15.1",
            hi="21.6",
            count="183",
            denominator="1000",
        ),
    ]


def refused(
    engine: Engine, tmp_path: Path, bad: dict[str, Any]
) -> tuple[str, int | None, str | None, str]:
    """Load a good file, then the good rows plus ``bad`` (row 4): refused, nothing changed."""
    import_fingertips_csv(engine, [write(tmp_path / "good.csv", good_rows())])
    before = snapshot(engine)
    path = write(
        tmp_path / "bad.csv", [*good_rows(), row(code="E09000003", area="Barnet", type="UA", **bad)]
    )
    with pytest.raises(ImportRefused) as caught:
        import_fingertips_csv(engine, [path])
    assert snapshot(engine) == before
    problem = caught.value.problems[0]
    assert len(caught.value.problems) == 1, caught.value.problems
    assert str(problem).startswith(f"bad.csv, row {problem.row}") or problem.row is None
    return problem.file, problem.row, problem.column, problem.reason


def test_negative_count(engine: Engine, tmp_path: Path) -> None:
    where = refused(engine, tmp_path, {"value": "1", "count": "-2", "denominator": "100"})
    assert where[:3] == ("bad.csv", 4, fc.COUNT) and "must not be negative" in where[3]


def test_negative_denominator(engine: Engine, tmp_path: Path) -> None:
    where = refused(engine, tmp_path, {"value": "1", "count": "2", "denominator": "-100"})
    assert where[:3] == ("bad.csv", 4, fc.DENOMINATOR) and "must not be negative" in where[3]


def test_count_above_denominator(engine: Engine, tmp_path: Path) -> None:
    where = refused(engine, tmp_path, {"value": "50", "count": "200", "denominator": "100"})
    assert where[:3] == ("bad.csv", 4, fc.COUNT) and "above the denominator" in where[3]


def test_lower_limit_above_upper(engine: Engine, tmp_path: Path) -> None:
    where = refused(engine, tmp_path, {"value": "15", "lo": "16", "hi": "14"})
    assert where[:3] == ("bad.csv", 4, fc.LOWER_95) and "is above the upper limit" in where[3]


def test_value_outside_its_own_interval(engine: Engine, tmp_path: Path) -> None:
    where = refused(engine, tmp_path, {"value": "25", "lo": "14", "hi": "16"})
    assert where[:3] == ("bad.csv", 4, fc.VALUE) and "outside its own 95% interval" in where[3]


def test_proportion_above_100_percent(engine: Engine, tmp_path: Path) -> None:
    where = refused(engine, tmp_path, {"value": "140"})
    assert where[:3] == ("bad.csv", 4, fc.VALUE) and "within 0–100%" in where[3]


def test_negative_proportion(engine: Engine, tmp_path: Path) -> None:
    where = refused(engine, tmp_path, {"value": "-3"})
    assert where[:3] == ("bad.csv", 4, fc.VALUE) and "got -3" in where[3]


@pytest.mark.parametrize("text", ["NaN", "inf", "-Infinity", "1e309"])
def test_non_finite_numbers(engine: Engine, tmp_path: Path, text: str) -> None:
    where = refused(engine, tmp_path, {"value": text})
    assert where[:3] == ("bad.csv", 4, fc.VALUE) and "must be a finite number" in where[3]


def test_header_only_file(engine: Engine, tmp_path: Path) -> None:
    import_fingertips_csv(engine, [write(tmp_path / "good.csv", good_rows())])
    before = snapshot(engine)
    with pytest.raises(ImportRefused) as caught:
        import_fingertips_csv(engine, [write(tmp_path / "empty.csv", [])])
    problem = caught.value.problems[0]
    assert (problem.file, problem.row) == ("empty.csv", None)
    assert "header but no data rows" in problem.reason
    assert snapshot(engine) == before


def test_unrecognised_period(engine: Engine, tmp_path: Path) -> None:
    where = refused(engine, tmp_path, {"value": "15", "period": "last year", "sortable": "0"})
    assert (
        where[:3] == ("bad.csv", 4, fc.TIME_PERIOD) and "not a Fingertips time period" in where[3]
    )


def test_nul_byte(engine: Engine, tmp_path: Path) -> None:
    where = refused(engine, tmp_path, {"value": "15", "note": "a\x00b"})
    assert where[:3] == ("bad.csv", 4, fc.VALUE_NOTE) and "NUL byte" in where[3]


def test_area_code_not_ons_shaped(engine: Engine, tmp_path: Path) -> None:
    import_fingertips_csv(engine, [write(tmp_path / "good.csv", good_rows())])
    before = snapshot(engine)
    path = write(
        tmp_path / "bad.csv",
        [*good_rows(), row(code="barnet; drop", area="Barnet", type="UA", value="15")],
    )
    with pytest.raises(ImportRefused) as caught:
        import_fingertips_csv(engine, [path])
    problem = caught.value.problems[0]
    assert (problem.file, problem.row, problem.column) == ("bad.csv", 4, fc.AREA_CODE)
    assert "not an ONS area code" in problem.reason
    assert snapshot(engine) == before


def test_identifier_too_long(engine: Engine, tmp_path: Path) -> None:
    where = refused(
        engine, tmp_path, {"value": "15", "category": "x" * 201, "category_type": "Ethnic groups"}
    )
    assert where[:3] == ("bad.csv", 4, fc.CATEGORY) and "over the limit of 200" in where[3]


def test_cell_over_the_size_limit(engine: Engine, tmp_path: Path) -> None:
    where = refused(engine, tmp_path, {"value": "15", "note": "n" * (10 * 1024 + 1)})
    assert where[:3] == ("bad.csv", 4, fc.VALUE_NOTE) and "over the limit of 10240" in where[3]


def test_cell_limit_is_configurable_from_the_command_line(engine: Engine, tmp_path: Path) -> None:
    from healthycity.cli import app

    rows = [*good_rows()]
    rows[0][fc.VALUE_NOTE] = "n" * 600
    path = write(tmp_path / "notes.csv", rows)
    url = engine.url.render_as_string(hide_password=False)
    before = snapshot(engine)
    result = CliRunner().invoke(
        app, ["--database", url, "load", "fingertips", str(path), "--max-cell-bytes", "500"]
    )
    assert result.exit_code == 1
    assert "notes.csv, row 2, column 'Value note': cell of 600 bytes" in result.output
    assert "Traceback" not in result.output
    assert snapshot(engine) == before
    result = CliRunner().invoke(app, ["--database", url, "load", "fingertips", str(path)])
    assert result.exit_code == 0, result.output


def test_long_format_refuses_non_finite_and_bad_codes(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(
        "area_code,period,value\nE92000001,2018,14.4\nE09000002,2018,NaN\nbad code,2018,3\n",
        encoding="utf-8",
    )
    before = snapshot(engine)
    with pytest.raises(ImportRefused) as caught:
        import_long_file(engine, path, "92443")
    found = {(p.file, p.row, p.column) for p in caught.value.problems}
    assert ("long.csv", 3, "value") in found and ("long.csv", 4, "area_code") in found
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("label", "ok"),
    [
        ("2018", True),
        ("2018/19", True),
        ("2016 - 18", True),
        ("2009-11", True),
        ("2019 Q3", True),
        ("2018/19 Q2", True),
        ("Mar 2020", True),
        ("Aug 2018 - Jul 2019", True),
        ("2015/16 - 17/18", True),
        ("last year", False),
        ("18", False),
        ("2018; DROP", False),
    ],
)
def test_period_forms(label: str, ok: bool) -> None:
    assert is_period(label) is ok
