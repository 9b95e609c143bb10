"""``compute --method funnel|quantiles`` (issue 12 item 4), checked against PHE's golden
data in ../shared/reference/pheindicatormethods where it exists."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from healthycity.outcomes.compute import compute_table
from healthycity.outcomes.stats.errors import StatsInputError


def reference(shared_dir: Path, name: str) -> Path:
    return shared_dir / "reference" / "pheindicatormethods" / name


def test_funnel_proportion_significance_matches_phe(shared_dir: Path) -> None:
    data = pl.read_csv(reference(shared_dir, "funnel_proportion_inputs_significance.csv"))
    out = compute_table(data.drop("significance"), "funnel", multiplier=100)
    assert out.get_column("significance").to_list() == data.get_column("significance").to_list()
    baseline = out.get_column("baseline")[0]
    assert baseline == pytest.approx(80.642448, abs=1e-6)
    lower = out.get_column("lower_3s_limit").to_numpy()
    upper = out.get_column("upper_3s_limit").to_numpy()
    value = out.get_column("value").to_numpy()
    high = out.get_column("significance").str.starts_with("High (0.001)").to_numpy()
    assert ((value > upper) == high).all()  # outside the 99.8% limits is "High (0.001)"
    assert (lower <= upper).all()
    assert set(out.columns) >= {"lower_2s_limit", "upper_2s_limit", "statistic", "method"}


def test_funnel_ratio_significance_matches_phe(shared_dir: Path) -> None:
    data = pl.read_csv(reference(shared_dir, "funnel_ratio_inputs_significance.csv"))
    out = compute_table(data.drop("significance"), "funnel", statistic="ratio")
    assert out.get_column("significance").to_list() == data.get_column("significance").to_list()


def test_quantiles_match_phe(shared_dir: Path) -> None:
    data = pl.read_csv(reference(shared_dir, "quantiles.csv"), infer_schema_length=None)
    sample = data.filter(
        (pl.col("GroupSet") == "IndSexReg") & (pl.col("QuantileNm") == "Decile")
    ).filter(
        pl.col("Value").is_not_null()
        & (pl.col("Test") == "Gooddata")
        & (pl.col("RowsInGrp").cast(pl.Int64) >= 10)
    )
    sample = sample.filter(pl.col("IndSexRef") == sample.get_column("IndSexRef")[0])
    polarity = sample.get_column("Polarity")[0]
    out = compute_table(
        sample.rename({"Value": "value"}),
        "quantiles",
        group_by=["ParentCode"],
        nquantiles=10,
        invert="Low is good" in polarity,
    )
    assert (
        out.get_column("quantile").cast(pl.Int64).to_list()
        == sample.get_column("QuantileInGrp").cast(pl.Int64).to_list()
    )


def test_funnel_errors_name_row_and_column() -> None:
    frame = pl.DataFrame({"numerator": ["3", "x"], "denominator": ["10", "10"]})
    with pytest.raises(StatsInputError, match=r"data row 2.*'numerator'"):
        compute_table(frame, "funnel")


def test_compute_command_offers_funnel_and_quantiles(tmp_path: Path) -> None:
    from healthycity.cli import app

    source = tmp_path / "in.csv"
    source.write_text("area,numerator,denominator\nA,50,100\nB,90,100\nC,10,100\n")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        app,
        ["compute", "--method", "funnel", "--input", str(source), "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["significance"] for r in rows] == ["Not significant", "High (0.001)", "Low (0.001)"]
    result = CliRunner().invoke(
        app,
        [
            "compute",
            "--method",
            "quantiles",
            "--input",
            str(out),
            "--output",
            str(out),
            "--nquantiles",
            "3",
            "--no-invert",
        ],
    )
    assert result.exit_code == 0, result.output
    assert [r["quantile"] for r in csv.DictReader(out.open())] == ["2.0", "3.0", "1.0"]
