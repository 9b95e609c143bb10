"""compute_table / compute_csv: golden values through the table interface, and errors
that name the data row (1-based, header not counted) and the column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from healthycity.outcomes.compute import compute_csv, compute_table
from healthycity.outcomes.stats import StatsInputError
from tests.outcomes.stats._reference import (
    SIMULATION_RTOL,
    assert_close,
    column,
    read,
)


def _same(result: pl.DataFrame, expected: pl.DataFrame, *names: str, rtol: float = 1e-9) -> None:
    for name in names:
        assert_close(column(result, name), column(expected, name), rtol=rtol)


def test_proportion_rows_pass_through_with_results() -> None:
    data = read("proportion.csv")
    table = data.select("Area", count="Numerator", denominator="Denominator").head(8)
    result = compute_table(table, "proportion", confidence=[0.95, 0.998], multiplier=1)
    assert result.columns == [
        "Area", "count", "denominator", "value", "lower95_0cl", "upper95_0cl",
        "lower99_8cl", "upper99_8cl", "confidence", "statistic", "method",
    ]  # fmt: skip
    _same(result, data.head(8), "value", "lower95_0cl", "upper95_0cl", "lower99_8cl", "upper99_8cl")
    assert set(result.get_column("confidence")) == {"95%, 99.8%"}
    assert set(result.get_column("method")) == {"Wilson"}


def test_proportion_grouped_sums_and_missing_groups() -> None:
    data = read("proportion.csv")  # rows 1-8 and 9-16 repeat the same counts
    table = data.select("Area", count="Numerator", denominator="Denominator")
    result = compute_table(table, "proportion", confidence=0.95, group_by=["Area"])
    expected = read("proportion_grouped_results.csv")
    assert result.get_column("Area").to_list() == expected.get_column("Area").to_list()
    assert_close(column(result, "count")[:8], column(expected, "Numerator")[:8])
    assert_close(column(result, "value"), column(expected, "value"))
    assert_close(column(result, "lower95_0cl"), column(expected, "lowercl"))
    assert_close(column(result, "upper95_0cl"), column(expected, "uppercl"))
    assert "lower99_8cl" not in result.columns


def test_rate_grouped() -> None:
    data = read("rate.csv")
    table = data.select("Area", count="Numerator", denominator="Denominator")
    result = compute_table(table, "rate", confidence=95, group_by="Area")
    expected = read("rate_grouped_results.csv")
    assert_close(column(result, "value"), column(expected, "value"))
    assert_close(column(result, "lower95_0cl"), column(expected, "lowercl"))
    assert result.get_column("method").to_list() == expected.get_column("method").to_list()


def test_mean_grouped_and_pooled() -> None:
    data = read("mean_input.csv").rename({"values": "value"})
    expected = read("mean_results.csv")
    grouped = compute_table(data, "mean", group_by=["area"])
    pooled = compute_table(data, "mean")
    names = ("value_sum", "value_count", "stdev", "value", "lower95_0cl", "upper99_8cl")
    _same(grouped, expected.head(2), *names)
    _same(pooled, expected.tail(1), *names)


def test_dsr_by_age_band_label_and_by_order() -> None:
    data = read("dsr_isr_input_multiarea.csv").rename({"pop": "denominator", "ageband": "age_band"})
    expected = read("dsr_results.csv")[4:7]
    for table in (data, data.drop("age_band")):
        result = compute_table(table, "dsr", group_by=["area"])
        _same(result, expected, "total_count", "total_pop", "lower95_0cl", "upper99_8cl")
        assert (
            result.get_column("statistic").to_list() == expected.get_column("statistic").to_list()
        )


def test_dsr_own_standard_and_non_independent_events() -> None:
    old = read("dsr_input_esp1976.csv").rename(
        {"pop": "denominator", "esp1976": "standard_population"}
    )
    result = compute_table(old, "dsr", confidence=0.95, multiplier=10_000)
    _same(result, read("dsr_results.csv")[3], "value", "lower95_0cl", "upper95_0cl")
    nonind = read("dsr_input_nonindependent.csv").rename({"pop": "denominator"})
    result = compute_table(nonind, "dsr", group_by=["area"], independent_events=False)
    _same(result, read("dsr_results.csv")[8:12], "value", "lower95_0cl", "upper99_8cl")


def test_isr_reference_columns_and_reference_by_order() -> None:
    data = read("isr_input_multiarea_with_ref.csv").rename(
        {"pop": "denominator", "refcount": "ref_count", "refpop": "ref_denominator"}
    )
    rate = compute_table(data, "isr", group_by=["area"], kind="rate")
    _same(
        rate,
        read("isr_results.csv")[0:3],
        "observed",
        "expected",
        "ref_rate",
        "value",
        "upper99_8cl",
    )
    reference = read("isr_input_reference.csv")
    zero = read("dsr_isr_input_zero_pop.csv").rename({"pop": "denominator"})
    ratio = compute_table(
        zero,
        "isr",
        confidence=0.95,
        multiplier=100,
        group_by=["area"],
        reference_count=reference.get_column("refcount").to_list(),
        reference_population=reference.get_column("refpop").to_list(),
    )
    _same(ratio, read("isr_results.csv")[14:16], "expected", "value", "lower95_0cl", "upper95_0cl")
    assert "ref_rate" not in ratio.columns


def test_isr_observed_totals_column() -> None:
    data = read("isr_input_multiarea_with_ref.csv").rename(
        {"pop": "denominator", "refcount": "ref_count", "refpop": "ref_denominator"}
    )
    totals = read("isr_input_observed_totals.csv").rename({"total_count": "observed"})
    table = data.drop("count").join(totals, on="area", how="left", maintain_order="left")
    result = compute_table(
        table, "isr", group_by=["area"], observed_column="observed", multiplier=100
    )
    _same(result, read("isr_results.csv")[9:12], "value", "lower95_0cl", "upper99_8cl")


def test_life_expectancy_rows_pass_through() -> None:
    data = read("life_expectancy_wide_ci.csv").rename(
        {"pops": "population", "startage": "age_band"}
    )
    result = compute_table(data, "life-expectancy", confidence=(0.95, 0.998), group_by=["area"])
    assert result.columns[:4] == data.columns[:4]
    assert_close(column(result, "value"), column(data, "value"), rtol=1e-8)
    assert_close(column(result, "lower95_0cl"), column(data, "lower95_0cl"), rtol=2e-7, atol=1e-6)
    assert result.get_column("note").null_count() < result.height


def test_life_expectancy_band_labels() -> None:
    data = read("life_expectancy_single_area.csv")
    labels = ["<1", "1-4"] + [f"{a}-{a + 4}" for a in range(5, 90, 5)] + ["90+"]
    table = data.select(deaths="deaths", population="pops").with_columns(age_band=pl.Series(labels))
    result = compute_table(table, "life-expectancy", confidence=0.95)
    assert_close(column(result, "value"), column(data, "value"), rtol=1e-9)


def test_sii_grouped() -> None:
    block = read("sii.csv").filter(pl.col("RecordNo") <= 20)
    table = block.select(
        "Area",
        quantile="Quantile",
        population="Population",
        value="Value",
        lower_cl="LowerCL",
        upper_cl="UpperCL",
    )
    result = compute_table(table, "sii", confidence=0.95, group_by=["Area"], seed=5)
    first = block.filter(pl.col("sii").is_not_null())
    assert_close(column(result, "sii"), column(first, "sii"))
    assert_close(column(result, "rii"), column(first, "rii"))
    assert_close(
        column(result, "sii_lower95_0cl"), column(first, "sii_lowercl_1"), rtol=SIMULATION_RTOL
    )
    assert_close(
        column(result, "rii_upper95_0cl"), column(first, "rii_uppercl_1"), rtol=SIMULATION_RTOL
    )
    assert set(result.get_column("statistic")) == {"sii"}


@pytest.mark.parametrize(
    ("file", "rename", "method", "row", "column_name"),
    [
        (
            "dsr_isr_error_negative_count.csv",
            {"pop": "denominator", "Age Band": "age_band"},
            "dsr",
            6,
            "count",
        ),
        (
            "dsr_isr_error_negative_pop.csv",
            {"pop": "denominator", "Age Band": "age_band"},
            "dsr",
            2,
            "denominator",
        ),
        (
            "dsr_error_negative_stdpop.csv",
            {"pop": "denominator", "stdpop": "standard_population"},
            "dsr",
            6,
            "standard_population",
        ),
    ],
)
def test_error_files_name_the_data_row_and_column(
    file: str, rename: dict[str, str], method: str, row: int, column_name: str
) -> None:
    table = read(file).rename(rename)
    with pytest.raises(StatsInputError) as info:
        compute_table(table, method)
    message = str(info.value)
    assert message.startswith(
        f"data row {row} (1-based, header not counted), column '{column_name}'"
    )
    assert info.value.row == row - 1 and info.value.column == column_name


def test_error_messages_for_common_mistakes() -> None:
    table = pl.DataFrame({"count": ["1", "2", "lots"], "denominator": [10, 10, 10]})
    with pytest.raises(
        StatsInputError, match=r"data row 3 .*column 'count': 'lots' is not a number"
    ):
        compute_table(table, "proportion")
    table = pl.DataFrame({"count": [1, 20], "denominator": [10, 10]})
    with pytest.raises(
        StatsInputError, match=r"data row 2 .*column 'count'.*greater than its denominator"
    ):
        compute_table(table, "proportion")
    with pytest.raises(StatsInputError, match="needs column"):
        compute_table(table.drop("denominator"), "rate")
    with pytest.raises(StatsInputError, match="unknown method"):
        compute_table(table, "median")
    with pytest.raises(StatsInputError, match="auto, exact or byar"):
        compute_table(table, "rate", ci="wald")
    bands = pl.DataFrame({"count": [1] * 2, "denominator": [10] * 2, "age_band": ["0-4", "3-7"]})
    with pytest.raises(StatsInputError, match=r"data row 2 .*column 'age_band'.*no ESP2013 band"):
        compute_table(bands, "dsr")


def test_compute_csv_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("area,count,denominator\nA,65,100\nB,NA,100\nC,1045,5000\n")
    out = tmp_path / "out.csv"
    rows = compute_csv(source, out, method="proportion", confidence=[0.95, 0.998], multiplier=100)
    assert rows == 3
    result = pl.read_csv(out)
    assert result.get_column("area").to_list() == ["A", "B", "C"]
    assert result.get_column("value")[0] == pytest.approx(65.0)
    assert result.get_column("lower95_0cl")[0] == pytest.approx(55.25444329688797, rel=1e-12)
    assert result.get_column("value")[1] is None
    assert np.isclose(result.get_column("upper99_8cl")[2], 22.731562902525818, rtol=1e-12)


def test_compute_csv_reports_the_csv_row(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("area,count,denominator\nA,65,100\nB,-3,100\n")
    with pytest.raises(
        StatsInputError, match=r"^data row 2 \(1-based, header not counted\), column 'count'"
    ):
        compute_csv(source, tmp_path / "out.csv", method="rate")
