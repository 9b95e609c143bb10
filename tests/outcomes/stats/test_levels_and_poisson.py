"""Confidence levels, z values, and the raw Byar's and Wilson limits (byars_wilson_limits.csv)."""

from __future__ import annotations

import numpy as np
import pytest

from healthycity.outcomes.stats import StatsInputError, parse_levels
from healthycity.outcomes.stats._levels import label, levels_text, lower_column, z_value
from healthycity.outcomes.stats.poisson import byar_limits, exact_limits
from healthycity.outcomes.stats.proportion import wilson_limits
from tests.outcomes.stats._reference import assert_close, column, read


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (0.95, (0.95,)),
        (95, (0.95,)),
        (99.8, (0.998,)),
        (0.998, (0.998,)),
        ([0.95, 0.998], (0.95, 0.998)),
        ((95, 99.8, 0.95), (0.95, 0.998)),
        ([99], (0.99,)),
    ],
)
def test_levels_accept_fractions_and_percentages(
    given: object, expected: tuple[float, ...]
) -> None:
    assert parse_levels(given) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, 1, 100, -5, 150, float("nan"), [], "x", True])
def test_levels_refuse_nonsense(bad: object) -> None:
    with pytest.raises(StatsInputError) as info:
        parse_levels(bad)  # type: ignore[arg-type]
    assert info.value.column == "confidence"


def test_labels_and_z() -> None:
    assert label(0.95) == "95_0" and label(0.998) == "99_8" and label(0.99) == "99_0"
    assert lower_column(0.998) == "lower99_8cl"
    assert levels_text((0.95, 0.998)) == "95%, 99.8%"
    assert z_value(0.95) == pytest.approx(1.959963984540054, rel=1e-15)
    assert z_value(0.998) == pytest.approx(3.090232306167813, rel=1e-15)


def test_byar_and_wilson_reference_limits() -> None:
    data = read("byars_wilson_limits.csv")
    for row in data.iter_rows(named=True):
        level = 0.998 if row["confidence"] == "99.8%" else 0.95
        x = np.array([row["x"]], dtype=float)
        if row["method"] == "Byars":
            lower, upper = byar_limits(x, level)
        else:
            lower, upper = wilson_limits(x, np.array([row["n"]], dtype=float), level)
        expected_lower = np.nan if row["lowercl"] is None else row["lowercl"]
        assert_close(lower, [expected_lower])
        assert_close(upper, [row["uppercl"]])
    assert len(column(data, "x")) == 13


def test_exact_limits_of_zero_and_missing() -> None:
    lower, upper = exact_limits(np.array([0.0, np.nan, 1.0]), 0.95)
    assert lower[0] == 0.0 and np.isnan(lower[1]) and np.isnan(upper[1])
    assert upper[0] == pytest.approx(-np.log(0.025), rel=1e-12)
    assert lower[2] == pytest.approx(-np.log(0.975), rel=1e-12)
