"""Means with t intervals against mean_input.csv / mean_results.csv."""

from __future__ import annotations

import numpy as np
import pytest

from healthycity.outcomes.stats import StatsInputError, mean
from tests.outcomes.stats._reference import assert_close, column, read


def test_grouped_and_ungrouped_reference_values() -> None:
    data = read("mean_input.csv")
    expected = read("mean_results.csv")
    grouped = mean(
        column(data, "values"), groups=data.get_column("area").to_numpy(), confidence=(95, 99.8)
    )
    pooled = mean(column(data, "values"), confidence=(0.95, 0.998))
    assert grouped.groups is not None and grouped.groups.tolist() == ["Area1", "Area2"]
    for est, rows in ((grouped, slice(0, 2)), (pooled, slice(2, 3))):
        part = expected[rows]
        for name, values in {**est.columns(), **est.extra}.items():
            assert_close(values, column(part, name))
        assert est.method == "Student's t-distribution"
        assert est.statistic == "mean"


def test_one_value_has_no_interval_and_missing_values_are_errors() -> None:
    est = mean([5.0])
    assert est.value[0] == 5.0 and np.isnan(est.lower[0.95][0])
    with pytest.raises(StatsInputError) as info:
        mean([1.0, float("nan")])
    assert info.value.row == 1 and info.value.column == "value"
