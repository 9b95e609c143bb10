"""Directly standardised rates against dsr_results.csv, including the error-case files."""

from __future__ import annotations

import numpy as np
import pytest

from healthycity.outcomes.stats import ESP2013_WEIGHTS, StatsInputError, dsr
from tests.outcomes.stats._reference import assert_close, column, read

LIMITS = ("lower95_0cl", "upper95_0cl", "lower99_8cl", "upper99_8cl")


def test_esp2013_weights_match_the_package_dataset() -> None:
    assert list(ESP2013_WEIGHTS) == column(read("esp2013.csv"), "esp2013").tolist()
    assert sum(ESP2013_WEIGHTS) == 100_000


@pytest.mark.parametrize(("multiplier", "rows"), [(10_000, slice(0, 3)), (100_000, slice(4, 7))])
def test_multiarea_with_esp2013_by_row_order(multiplier: int, rows: slice) -> None:
    data = read("dsr_isr_input_multiarea.csv")
    expected = read("dsr_results.csv")[rows]
    est = dsr(
        column(data, "count"),
        column(data, "pop"),
        groups=data.get_column("area").to_numpy(),
        confidence=(0.95, 0.998),
        multiplier=multiplier,
    )
    for name, values in {**est.columns(), **est.extra}.items():
        assert_close(values, column(expected, name))
    assert est.statistic == expected.get_column("statistic")[0]
    assert est.notes is not None
    assert est.notes.tolist() == [None, None, "dsr NA for total count < 10"]
    assert est.method == "Dobson"


@pytest.mark.parametrize(("multiplier", "row"), [(10_000, 3), (100_000, 7)])
def test_own_standard_population_esp1976(multiplier: int, row: int) -> None:
    """Only the 95% limits: the reference's 99.8% columns for this row are known wrong."""
    data = read("dsr_input_esp1976.csv")
    expected = read("dsr_results.csv")[row]
    est = dsr(
        column(data, "count"),
        column(data, "pop"),
        standard_population=column(data, "esp1976"),
        multiplier=multiplier,
        confidence=0.95,
    )
    for name in ("total_count", "total_pop"):
        assert_close(est.extra[name], column(expected, name))
    for name in ("value", "lower95_0cl", "upper95_0cl"):
        assert_close(est.columns()[name], column(expected, name))


def test_non_independent_events() -> None:
    data = read("dsr_input_nonindependent.csv")
    expected = read("dsr_results.csv")[8:12]
    persons = np.column_stack([column(data, f"f{i}") for i in range(1, 5)])
    est = dsr(
        column(data, "count"),
        column(data, "pop"),
        groups=data.get_column("area").to_numpy(),
        confidence=(0.95, 0.998),
        persons_by_events=persons,
    )
    for name, values in {**est.columns(), **est.extra}.items():
        assert_close(values, column(expected, name))
    assert est.method == expected.get_column("method")[0]


def test_non_independent_counts_must_agree_with_the_people_table() -> None:
    with pytest.raises(StatsInputError) as info:
        dsr([5, 3], [100, 100], standard_population=[1, 1], persons_by_events=[[5, 0], [1, 0]])
    assert info.value.row == 1 and info.value.column == "count"


@pytest.mark.parametrize(
    ("name", "row", "column_name"),
    [
        ("dsr_isr_error_negative_count.csv", 5, "count"),
        ("dsr_isr_error_negative_pop.csv", 1, "population"),
        ("dsr_error_negative_stdpop.csv", 5, "standard_population"),
    ],
)
def test_error_case_files(name: str, row: int, column_name: str) -> None:
    data = read(name)
    with pytest.raises(StatsInputError) as info:
        dsr(column(data, "count"), column(data, "pop"), standard_population=column(data, "stdpop"))
    assert info.value.row == row
    assert info.value.column == column_name
    assert "negative" in str(info.value) or "greater than 0" in str(info.value)


def test_esp2013_default_needs_19_bands_per_group() -> None:
    with pytest.raises(StatsInputError, match="19"):
        dsr([10] * 18, [100] * 18)


def test_missing_population_is_an_error_missing_count_is_zero() -> None:
    counts = np.full(19, 5.0)
    pops = np.full(19, 1000.0)
    counts[3] = np.nan
    with_gap = dsr(counts, pops)
    counts[3] = 0.0
    assert_close(with_gap.value, dsr(counts, pops).value)
    pops[4] = np.nan
    with pytest.raises(StatsInputError) as info:
        dsr(counts, pops)
    assert info.value.row == 4 and info.value.column == "population"
