"""Crude rates against rate.csv and rate_grouped_results.csv; the ci options."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthycity.outcomes.stats import StatsInputError, crude_rate
from healthycity.outcomes.stats.poisson import byar_limits, exact_limits
from tests.outcomes.stats._reference import assert_close, column, read


@pytest.mark.parametrize("multiplier", [100, 100000])
@pytest.mark.parametrize("confidence", [0.95, 99.8, (0.95, 0.998)])
def test_reference_values(multiplier: int, confidence: object) -> None:
    data = read("rate.csv").filter(pl.col("multiplier") == multiplier)
    est = crude_rate(
        column(data, "Numerator"),
        column(data, "Denominator"),
        confidence=confidence,  # type: ignore[arg-type]
        multiplier=multiplier,
    )
    for name, values in est.columns().items():
        assert_close(values, column(data, name))
    assert est.statistic == data.get_column("statistic")[0]
    assert est.row_methods().tolist() == data.get_column("method").to_list()


def test_grouped_reference_values() -> None:
    expected = read("rate_grouped_results.csv")
    data = read("rate.csv").head(16)
    sums = data.group_by("Area", maintain_order=True).agg(pl.col("Numerator", "Denominator").sum())
    est = crude_rate(column(sums, "Numerator"), column(sums, "Denominator"))
    head = expected.head(8)
    assert_close(est.value, column(head, "value"))
    assert_close(est.lower[0.95], column(head, "lowercl"))
    assert_close(est.upper[0.95], column(head, "uppercl"))
    assert est.row_methods().tolist() == head.get_column("method").to_list()


def test_count_above_denominator_is_allowed_for_rates() -> None:
    est = crude_rate([250], [220])
    assert est.value[0] == pytest.approx(113636.36363636365, rel=1e-12)


def test_ci_options() -> None:
    counts = np.array([0.0, 1.0, 5.0, 9.0, 10.0, 65.0, 1045.0])
    n = np.full(len(counts), 1000.0)
    auto = crude_rate(counts, n, ci="auto", multiplier=1)
    exact = crude_rate(counts, n, ci="exact", multiplier=1)
    byar = crude_rate(counts, n, ci="byar", multiplier=1)
    e_low, e_high = exact_limits(counts, 0.95)
    b_low, b_high = byar_limits(counts, 0.95)
    small = counts < 10
    assert_close(auto.lower[0.95][small], e_low[small] / 1000)
    assert_close(auto.upper[0.95][~small], b_high[~small] / 1000)
    assert_close(exact.upper[0.95], e_high / 1000)
    assert_close(byar.upper[0.95], b_high / 1000)
    assert_close(byar.lower[0.95][1:], b_low[1:] / 1000)
    assert byar.lower[0.95][0] == 0
    assert auto.method == "Exact below 10 events, Byar's from 10"
    assert set(byar.row_methods().tolist()) == {"Byars"}
    assert set(exact.row_methods().tolist()) == {"Exact"}


def test_byar_throughout_floors_a_negative_lower_limit_at_zero() -> None:
    est = crude_rate([1.0], [100.0], ci="byar", confidence=0.998)
    assert est.lower[0.998][0] == 0.0


def test_non_integer_small_counts_use_exact_limits() -> None:
    est = crude_rate([2.5, 3.0], [100.0, 100.0], multiplier=1)
    low, high = exact_limits(np.array([2.5, 3.0]), 0.95)
    assert_close(est.lower[0.95], low / 100)
    assert_close(est.upper[0.95], high / 100)


@pytest.mark.parametrize(
    ("kwargs", "column_name"),
    [
        ({"count": [-1], "denominator": [10]}, "count"),
        ({"count": [1], "denominator": [0]}, "denominator"),
        ({"count": [1], "denominator": [10], "ci": "wald"}, "ci"),
    ],
)
def test_errors(kwargs: dict[str, object], column_name: str) -> None:
    with pytest.raises(StatsInputError) as info:
        crude_rate(**kwargs)  # type: ignore[arg-type]
    assert info.value.column == column_name
