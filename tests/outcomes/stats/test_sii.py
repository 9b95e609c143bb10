"""SII and RII against sii.csv: exact point estimates, simulated limits within 5%."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import polars as pl
import pytest

from healthycity.outcomes.stats import SIIResult, StatsInputError, StatsWarning, sii
from tests.outcomes.stats._reference import SIMULATION_RTOL, assert_close, column, read

#: RecordNo of each block's first row -> arguments (see the reference README's table).
BLOCKS: dict[int, dict[str, Any]] = {
    1: {"value_type": "other", "confidence": 0.95},
    21: {"value_type": "other", "confidence": 0.99},
    41: {"value_type": "other", "confidence": 0.95},
    61: {"value_type": "other", "confidence": 0.95},
    71: {"value_type": "rate", "confidence": 0.95},
    91: {"value_type": "proportion", "confidence": 0.95},
    111: {"value_type": "proportion", "confidence": 0.95, "multiplier": 100},
    131: {"value_type": "proportion", "confidence": 0.95, "multiplier": -100},
    226: {"value_type": "other", "confidence": (0.95, 0.99)},
    246: {"value_type": "other", "confidence": 0.95},
    266: {"value_type": "rate", "confidence": 0.95},
    286: {"value_type": "proportion", "confidence": 0.95},
    306: {"value_type": "rate", "confidence": 0.95, "transform": True},
    326: {"value_type": "proportion", "confidence": 0.95, "transform": True},
    346: {"value_type": "proportion", "confidence": 0.95, "transform": True, "multiplier": -1},
    366: {"value_type": "rate", "confidence": (0.95, 0.98), "transform": True},
    386: {"value_type": "rate", "confidence": 0.95, "transform": True, "multiplier": -1},
    406: {"value_type": "rate", "confidence": 0.98, "transform": True},
    426: {"value_type": "rate", "confidence": 0.95, "transform": True},
    446: {"value_type": "proportion", "confidence": 0.95, "transform": True},
    466: {"value_type": "proportion", "confidence": 0.98, "transform": True},
    486: {"value_type": "proportion", "confidence": (0.95, 0.98), "transform": True},
}


def _block(start: int, rows: int) -> pl.DataFrame:
    data = read("sii.csv")
    return data.filter((pl.col("RecordNo") >= start) & (pl.col("RecordNo") < start + rows))


def _compare(result: SIIResult, block: pl.DataFrame) -> None:
    first = block.filter(pl.col("sii").is_not_null())
    assert_close(result.sii, column(first, "sii"))
    if first.get_column("rii").null_count() == 0:
        assert_close(result.rii, column(first, "rii"))
    if first.get_column("Intercept").null_count() == 0:
        assert_close(result.intercept, column(first, "Intercept"))
    for index, level in enumerate(result.confidence, start=1):
        for stat, lower, upper in (
            ("sii", result.sii_lower, result.sii_upper),
            ("rii", result.rii_lower, result.rii_upper),
        ):
            for side, values in (("lowercl", lower), ("uppercl", upper)):
                expected = first.get_column(f"{stat}_{side}_{index}")
                if expected.null_count() == 0:
                    assert_close(values[level], expected.to_numpy(), rtol=SIMULATION_RTOL)


@pytest.mark.parametrize("mode", ["limits", "se"])
@pytest.mark.parametrize("start", list(BLOCKS))
def test_reference_blocks(start: int, mode: str) -> None:
    block = _block(start, 10 if start == 61 else 20)
    uncertainty: dict[str, Any] = (
        {"se": column(block, "StandardError")}
        if mode == "se"
        else {"lower_cl": column(block, "LowerCL"), "upper_cl": column(block, "UpperCL")}
    )
    result = sii(
        column(block, "Value"),
        column(block, "Population"),
        column(block, "Quantile"),
        groups=block.get_column("Area").to_numpy(),
        seed=2019,
        **uncertainty,
        **BLOCKS[start],
    )
    _compare(result, block)
    assert result.groups.tolist() == ["area1", "area2"]
    assert "simulation" in result.method and result.repetitions == 100_000


@pytest.mark.parametrize("start", [91, 111, 131])
def test_proportions_from_counts(start: int) -> None:
    block = _block(start, 20)
    result = sii(
        None,
        column(block, "Population"),
        column(block, "Quantile"),
        count=column(block, "Count"),
        groups=block.get_column("Area").to_numpy(),
        seed=7,
        **BLOCKS[start],
    )
    _compare(result, block)


def test_same_seed_same_limits() -> None:
    block = _block(1, 20)
    args = (column(block, "Value"), column(block, "Population"), column(block, "Quantile"))
    kwargs: dict[str, Any] = {
        "groups": block.get_column("Area").to_numpy(),
        "se": column(block, "StandardError"),
        "repetitions": 2000,
    }
    first, again = sii(*args, seed=11, **kwargs), sii(*args, seed=11, **kwargs)
    other = sii(*args, seed=12, **kwargs)
    assert np.array_equal(first.sii_lower[0.95], again.sii_lower[0.95])
    assert not np.array_equal(first.sii_lower[0.95], other.sii_lower[0.95])


@pytest.mark.parametrize(
    ("start", "value_type", "uncertainty", "column_name", "row"),
    [
        (151, "other", "se", "population", 1),
        (161, "other", "se", "se", 2),
        (171, "proportion", "limits", "lower_cl", 6),
        (181, "other", "limits", "value", None),
        (191, "other", "limits", "se", 0),
    ],
)
def test_error_cases(
    start: int, value_type: str, uncertainty: str, column_name: str, row: int | None
) -> None:
    block = _block(start, 10)
    extra: dict[str, Any] = (
        {"se": column(block, "StandardError")}
        if uncertainty == "se"
        else {"lower_cl": column(block, "LowerCL"), "upper_cl": column(block, "UpperCL")}
    )
    with pytest.raises(StatsInputError) as info:
        sii(
            column(block, "Value"),
            column(block, "Population"),
            column(block, "Quantile"),
            value_type=value_type,
            repetitions=1000,
            **extra,
        )
    assert info.value.column == column_name
    assert info.value.row == row


def test_missing_data_in_a_group_warns_and_leaves_it_out() -> None:
    block = _block(201, 10)
    with pytest.warns(StatsWarning, match="not calculated"):
        result = sii(
            column(block, "Value"),
            column(block, "Population"),
            column(block, "Quantile"),
            se=column(block, "StandardError"),
            repetitions=1000,
        )
    assert np.isnan(result.sii).all()
    assert result.notes[0] is not None


def test_more_than_ten_quantiles_warns_but_calculates() -> None:
    block = _block(211, 15)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sii(
            column(block, "Value"),
            column(block, "Population"),
            column(block, "Quantile"),
            se=column(block, "StandardError"),
            repetitions=1000,
        )
    assert any("15 quantiles" in str(w.message) for w in caught)
    assert np.isfinite(result.sii).all()


def test_incomplete_quantiles_warn() -> None:
    block = _block(1, 20)
    keep = np.arange(20) != 4
    with pytest.warns(StatsWarning, match="9 of 10"):
        result = sii(
            column(block, "Value")[keep],
            column(block, "Population")[keep],
            column(block, "Quantile")[keep],
            groups=block.get_column("Area").to_numpy()[keep],
            se=column(block, "StandardError")[keep],
            repetitions=1000,
        )
    assert np.isnan(result.sii[0]) and np.isfinite(result.sii[1])
