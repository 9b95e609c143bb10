"""PHE quantile assignment against quantiles.csv (deciles, septiles, quartiles, ties)."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from healthycity.outcomes.stats import StatsInputError, StatsWarning, assign_quantiles
from tests.outcomes.stats._reference import column, read

INVERTED = ("RAG - Low is good", "True")


@pytest.mark.parametrize(
    ("group_set", "group_columns", "quantiles"),
    [("IndSexReg", ["IndSexRef", "ParentCode"], 10), ("IndSex", ["IndSexRef"], 7), ("None", [], 4)],
)
def test_reference_quantiles(group_set: str, group_columns: list[str], quantiles: int) -> None:
    data = read("quantiles.csv").filter(
        (pl.col("GroupSet") == group_set) & (pl.col("Test") != "BadPolarity")
    )
    groups = (
        data.select(pl.concat_str(group_columns, separator="|")).to_series().to_numpy()
        if group_columns
        else None
    )
    invert = (
        True if group_set == "None" else np.isin(data.get_column("Polarity").to_numpy(), INVERTED)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = assign_quantiles(
            column(data, "Value"), quantiles, invert=invert, groups=groups
        ).quantile
    expected = column(data, "QuantileInGrp")
    np.testing.assert_array_equal(result, expected)
    small_groups = group_set == "IndSexReg"
    assert any(issubclass(w.category, StatsWarning) for w in caught) == small_groups


def test_mixed_polarity_in_a_group_is_an_error() -> None:
    data = read("quantiles.csv").filter(pl.col("GroupSet") == "IndSex")
    with pytest.raises(StatsInputError, match="polarit") as info:
        assign_quantiles(
            column(data, "Value"),
            7,
            invert=np.isin(data.get_column("Polarity").to_numpy(), INVERTED),
            groups=data.get_column("IndSexRef").to_numpy(),
        )
    assert info.value.column == "invert"
    assert info.value.row is not None
    assert data.get_column("Test")[info.value.row] == "BadPolarity"
