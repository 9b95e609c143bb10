"""Indirectly standardised rates and ratios against isr_results.csv."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import pytest

from healthycity.outcomes.stats import Estimate, StatsInputError, isr_rate, isr_ratio
from tests.outcomes.stats._reference import assert_close, column, read

CASES: list[tuple[Callable[..., Estimate], dict[str, float], slice]] = [
    (isr_rate, {"multiplier": 100_000}, slice(0, 3)),
    (isr_rate, {"multiplier": 1_000}, slice(3, 6)),
    (isr_ratio, {"reference_value": 1}, slice(6, 9)),
    (isr_ratio, {"reference_value": 100}, slice(9, 12)),
]


def _check(est: Estimate, expected: pl.DataFrame, levels: tuple[str, ...]) -> None:
    for name in ("observed", "expected"):
        assert_close(est.extra[name], column(expected, name))
    if expected.get_column("ref_rate").null_count() == 0:
        assert_close(est.extra["ref_rate"], column(expected, "ref_rate"))
    assert_close(est.value, column(expected, "value"))
    for level in levels:
        for side in ("lower", "upper"):
            assert_close(est.columns()[f"{side}{level}cl"], column(expected, f"{side}{level}cl"))
    assert est.row_methods().tolist() == expected.get_column("method").to_list()
    assert est.statistic == expected.get_column("statistic")[0]


@pytest.mark.parametrize(("function", "kwargs", "rows"), CASES)
def test_reference_as_columns(function: object, kwargs: dict[str, float], rows: slice) -> None:
    data = read("isr_input_multiarea_with_ref.csv")
    est = function(  # type: ignore[operator]
        column(data, "count"),
        column(data, "pop"),
        column(data, "refcount"),
        column(data, "refpop"),
        groups=data.get_column("area").to_numpy(),
        confidence=(0.95, 0.998),
        **kwargs,
    )
    _check(est, read("isr_results.csv")[rows], ("95_0", "99_8"))


@pytest.mark.parametrize(("function", "kwargs", "rows"), CASES)
def test_observed_totals_and_reference_with_a_missing_count(
    function: object, kwargs: dict[str, float], rows: slice
) -> None:
    """Totals instead of band counts; the reference's 10-14 count given as missing."""
    local = read("isr_input_multiarea_with_ref.csv")
    reference = read("isr_input_reference.csv")
    ref_count = column(reference, "refcount")
    ref_count[2] = np.nan
    areas = local.get_column("area").unique(maintain_order=True).len()
    est = function(  # type: ignore[operator]
        None,
        column(local, "pop"),
        np.tile(ref_count, areas),
        np.tile(column(reference, "refpop"), areas),
        groups=local.get_column("area").to_numpy(),
        observed=column(read("isr_input_observed_totals.csv"), "total_count"),
        confidence=(0.95, 0.998),
        **kwargs,
    )
    _check(est, read("isr_results.csv")[rows], ("95_0", "99_8"))


@pytest.mark.parametrize(
    ("function", "kwargs", "rows"),
    [(isr_rate, {}, slice(12, 14)), (isr_ratio, {"reference_value": 100}, slice(14, 16))],
)
def test_zero_population_band(function: object, kwargs: dict[str, float], rows: slice) -> None:
    data = read("dsr_isr_input_zero_pop.csv")
    reference = read("isr_input_reference.csv")
    est = function(  # type: ignore[operator]
        column(data, "count"),
        column(data, "pop"),
        np.tile(column(reference, "refcount"), 2),
        np.tile(column(reference, "refpop"), 2),
        groups=data.get_column("area").to_numpy(),
        **kwargs,
    )
    _check(est, read("isr_results.csv")[rows], ("95_0",))


@pytest.mark.parametrize(
    ("name", "row", "column_name"),
    [
        ("dsr_isr_error_negative_count.csv", 5, "count"),
        ("dsr_isr_error_negative_pop.csv", 1, "population"),
    ],
)
def test_error_case_files(name: str, row: int, column_name: str) -> None:
    data = read(name)
    reference = read("isr_input_reference.csv")
    with pytest.raises(StatsInputError) as info:
        isr_ratio(
            column(data, "count"),
            column(data, "pop"),
            column(reference, "refcount"),
            column(reference, "refpop"),
        )
    assert (info.value.row, info.value.column) == (row, column_name)


def test_population_missing_where_there_is_a_count() -> None:
    with pytest.raises(StatsInputError) as info:
        isr_ratio([3, 4], [100, np.nan], [1, 1], [10, 10])
    assert (info.value.row, info.value.column) == (1, "population")
