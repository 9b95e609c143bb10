"""Wilson proportions against proportion.csv and proportion_grouped_results.csv."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthycity.outcomes.stats import StatsInputError, proportion
from tests.outcomes.stats._reference import assert_close, column, read

LIMITS = ("lower95_0cl", "upper95_0cl", "lower99_8cl", "upper99_8cl")


@pytest.mark.parametrize("multiplier", [1, 100])
@pytest.mark.parametrize(
    ("confidence", "levels"),
    [(0.95, ["95_0"]), (0.998, ["99_8"]), (99.8, ["99_8"]), ((0.95, 0.998), ["95_0", "99_8"])],
)
def test_reference_values(multiplier: int, confidence: object, levels: list[str]) -> None:
    data = read("proportion.csv").filter(pl.col("multiplier") == multiplier)
    est = proportion(
        column(data, "Numerator"),
        column(data, "Denominator"),
        confidence=confidence,  # type: ignore[arg-type]
        multiplier=multiplier,
    )
    assert_close(est.value, column(data, "value"))
    for name, values in est.columns().items():
        if name != "value":
            assert_close(values, column(data, name))
    assert est.method == "Wilson"
    assert est.statistic == data.get_column("statistic")[0]
    assert [name for name in est.columns() if name != "value"] == [
        f"{side}{lv}cl" for lv in levels for side in ("lower", "upper")
    ]


def test_missing_inputs_give_missing_results() -> None:
    data = read("proportion.csv").tail(3)
    est = proportion(column(data, "Numerator"), column(data, "Denominator"), confidence=(95, 99.8))
    assert np.isnan(est.value).all()
    for values in est.columns().values():
        assert np.isnan(values).all()


def test_grouped_reference_values() -> None:
    expected = read("proportion_grouped_results.csv")
    data = read("proportion.csv").head(16)
    sums = data.group_by("Area", maintain_order=True).agg(pl.col("Numerator", "Denominator").sum())
    est = proportion(column(sums, "Numerator"), column(sums, "Denominator"))
    head = expected.head(8)
    assert_close(column(sums, "Numerator"), column(head, "Numerator"))
    assert_close(est.value, column(head, "value"))
    assert_close(est.lower[0.95], column(head, "lowercl"))
    assert_close(est.upper[0.95], column(head, "uppercl"))


@pytest.mark.parametrize(
    ("count", "denominator", "row", "column_name", "words"),
    [
        ([1, -2, 3], [10, 10, 10], 1, "count", "must not be negative"),
        ([1, 2, 11], [10, 10, 10], 2, "count", "greater than its denominator"),
        ([1, 2, 3], [10, 0, 10], 1, "denominator", "greater than 0"),
        ([1, 2, 3], [10, 10, -4], 2, "denominator", "greater than 0"),
    ],
)
def test_errors_name_row_and_column(
    count: list[float], denominator: list[float], row: int, column_name: str, words: str
) -> None:
    with pytest.raises(StatsInputError) as info:
        proportion(count, denominator)
    assert info.value.row == row
    assert info.value.column == column_name
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_multiplier_and_lengths() -> None:
    with pytest.raises(StatsInputError, match="positive"):
        proportion([1], [2], multiplier=0)
    with pytest.raises(StatsInputError, match="rows"):
        proportion([1, 2], [2])
