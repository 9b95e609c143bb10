"""The outcomes commands end to end: load, compute, data export, demo."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from healthycity.cli import app as root_app
from healthycity.core.db import transaction
from healthycity.geography.models import Area
from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes import models as m
from healthycity.outcomes.cli import register

runner = CliRunner()


def cli() -> typer.Typer:
    """The root app with the outcomes commands (registered here until the lead wires them)."""
    if not any(group.name == "load" for group in root_app.registered_groups):
        register(root_app)
    return root_app


def fingertips_file(path: Path, value: str = "18.1") -> Path:
    rows = [
        ("", "E92000001", "England", "England", "14.4", "14.2", "14.6"),
        ("E92000001", "E12000007", "London region", "Region", "13.9", "13.4", "14.4"),
        ("E12000007", "E09000002", "Barking and Dagenham", "UA", value, "15.0", "21.2"),
    ]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(fc.COLUMNS)
        for parent, code, name, area_type, val, low, high in rows:
            record = dict.fromkeys(fc.COLUMNS, "")
            record.update(
                {
                    fc.INDICATOR_ID: "92443",
                    fc.INDICATOR_NAME: "Smoking prevalence (%)",
                    fc.PARENT_CODE: parent,
                    fc.AREA_CODE: code,
                    fc.AREA_NAME: name,
                    fc.AREA_TYPE: area_type,
                    fc.SEX: "Persons",
                    fc.AGE: "18+ yrs",
                    fc.TIME_PERIOD: "2018",
                    fc.VALUE: val,
                    fc.LOWER_95: low,
                    fc.UPPER_95: high,
                }
            )
            writer.writerow(record.values())
    return path


def test_the_command_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, healthycity.outcomes.cli; "
        "print(sorted(n for n in ('polars', 'numpy', 'scipy', 'sqlalchemy') if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_the_outcomes_commands() -> None:
    result = runner.invoke(cli(), ["--help"])
    assert result.exit_code == 0
    for command in ("load", "compute", "data", "demo"):
        assert command in result.output
    load = runner.invoke(cli(), ["load", "--help"])
    assert all(c in load.output for c in ("fingertips", "csv", "long"))


def test_compute_writes_phe_columns(tmp_path: Path, shared_dir: Path) -> None:
    source = shared_dir / "reference" / "pheindicatormethods" / "rate.csv"
    with source.open(encoding="utf-8") as handle:
        reference = list(csv.DictReader(handle))[8:16]
    given = tmp_path / "in.csv"
    given.write_text(
        "area,count,denominator\n"
        + "".join(f"{r['Area']},{r['Numerator']},{r['Denominator']}\n" for r in reference),
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    result = runner.invoke(
        cli(),
        [
            "compute",
            "--method",
            "rate",
            "--input",
            str(given),
            "--output",
            str(out),
            "--multiplier",
            "100000",
        ],
    )
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:3] == ["area", "count", "denominator"]
    for key in ("value", "lower95_0cl", "upper99_8cl", "confidence", "statistic", "method"):
        assert key in rows[0]
    for row, want in zip(rows, reference, strict=True):
        assert float(row["upper95_0cl"]) == pytest.approx(float(want["upper95_0cl"]), rel=1e-9)


def test_compute_error_is_one_line_with_row_and_column(tmp_path: Path) -> None:
    given = tmp_path / "in.csv"
    given.write_text("count,denominator\n5,100\nfive,100\n", encoding="utf-8")
    result = runner.invoke(
        cli(),
        [
            "compute",
            "--method",
            "proportion",
            "--input",
            str(given),
            "--output",
            str(tmp_path / "out.csv"),
        ],
    )
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:")
    assert "row 2" in lines[0] and "'count'" in lines[0]
    assert not (tmp_path / "out.csv").exists()


def test_load_fingertips_file_and_refusal(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    good = fingertips_file(tmp_path / "good.csv")
    result = runner.invoke(cli(), ["--database", database_url, "load", "fingertips", str(good)])
    assert result.exit_code == 0, result.output
    assert "3 inserted" in result.output
    bad = fingertips_file(tmp_path / "bad.csv", value="eighteen")
    refused = runner.invoke(cli(), ["--database", database_url, "load", "fingertips", str(bad)])
    assert refused.exit_code == 1
    assert "bad.csv, row 4, column 'Value': 'eighteen' is not a number" in refused.output
    assert "nothing was written" in refused.output
    with transaction(engine) as session:
        values = sorted(o.value or 0.0 for o in session.query(m.Observation))
    assert values == [13.9, 14.4, 18.1]


def test_load_csv_and_long_and_export(engine: Engine, database_url: str, tmp_path: Path) -> None:
    counts = tmp_path / "counts.csv"
    counts.write_text(
        "area_code,area_name,period,count,denominator\n"
        "E92000001,England,2018,14000,100000\nE09000002,Barking and Dagenham,2018,300,1000\n",
        encoding="utf-8",
    )
    base = ["--database", database_url]
    loaded = runner.invoke(
        cli(),
        [
            *base,
            "load",
            "csv",
            str(counts),
            "--indicator",
            "hc-smoke",
            "--method",
            "proportion",
            "--name",
            "Smokers",
        ],
    )
    assert loaded.exit_code == 0, loaded.output
    long_file = tmp_path / "long.csv"
    long_file.write_text(
        "area_code,area_name,period,value,indicator,measure,unit,significance\n"
        "E92000001,England,2018,60.1,Active adults,Percentage,Persons,Not compared\n"
        "E09000002,Barking and Dagenham,2018,NA,Active adults,Percentage,Persons,Not compared\n",
        encoding="utf-8",
    )
    long_loaded = runner.invoke(
        cli(), [*base, "load", "long", str(long_file), "--indicator", "93014"]
    )
    assert long_loaded.exit_code == 0, long_loaded.output
    exported = runner.invoke(cli(), [*base, "data", "export", "--indicator", "hc-smoke"])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    barking = next(r for r in rows if r[fc.AREA_CODE] == "E09000002")
    assert barking[fc.VALUE] == "30" and barking[fc.COMPARED_TO_ENGLAND] in ("Higher", "Worse")
    out = tmp_path / "export.json"
    as_json = runner.invoke(
        cli(),
        [*base, "data", "export", "--indicator", "93014", "--format", "json", "--output", str(out)],
    )
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(out.read_text(encoding="utf-8"))["indicator"]["name"] == "Active adults"
    unknown = runner.invoke(cli(), [*base, "data", "export", "--indicator", "nope"])
    assert unknown.exit_code == 1 and "unknown indicator" in unknown.output


def test_demo_load_and_clear(engine: Engine, database_url: str) -> None:
    with transaction(engine) as session:
        session.add(Area(code="E92000001", name="England", area_type="country"))
        session.add(
            Area(code="E12000007", name="London", area_type="region", parent_code="E92000001")
        )
        session.add(
            Area(
                code="E09000002",
                name="Barking and Dagenham",
                area_type="local_authority",
                parent_code="E12000007",
            )
        )
        session.add(
            m.Indicator(
                id="hc-demo",
                name="Demo",
                value_type=m.PROPORTION,
                multiplier=100,
                polarity=m.HIGH_IS_GOOD,
            )
        )
    base = ["--database", database_url]
    loaded = runner.invoke(cli(), [*base, "demo", "load", "--seed", "5"])
    assert loaded.exit_code == 0 and "illustrative demo data loaded" in loaded.output
    cleared = runner.invoke(cli(), [*base, "demo", "clear"])
    # 24 rows of the indicator, 138 of the demo's population (totals and age bands).
    assert cleared.exit_code == 0 and "removed 162 illustrative" in cleared.output
