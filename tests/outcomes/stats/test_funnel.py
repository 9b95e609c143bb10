"""Funnel-plot limits, significance and chart points against the funnel_*.csv files."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthycity.outcomes.stats import (
    StatsInputError,
    proportion_funnel_limits,
    proportion_funnel_significance,
    rate_funnel_limits,
    rate_funnel_points,
    rate_funnel_significance,
    ratio_funnel_limits,
    ratio_funnel_significance,
)
from tests.outcomes.stats._reference import FUNNEL_RTOL, assert_close, column, read


@pytest.mark.parametrize(
    ("name", "keep"),
    [
        ("funnel_proportion_limits.csv", None),
        ("funnel_proportion_limits_axis_variation.csv", 31000),
    ],
)
def test_proportion_limits(name: str, keep: int | None) -> None:
    inputs = read("funnel_proportion_inputs_significance.csv")
    if keep:
        inputs = inputs.filter(pl.col("denominator") < keep)
    expected = read(name)
    limits = proportion_funnel_limits(column(inputs, "numerator"), column(inputs, "denominator"))
    np.testing.assert_array_equal(limits.x, column(expected, "Population"))
    # The reference is printed to 6-8 decimals; the closed form agrees to that.
    assert_close(limits.lower[0.95], column(expected, "Lower2s0025limit"), rtol=0, atol=1e-6)
    assert_close(limits.upper[0.95], column(expected, "Upper2s0025limit"), rtol=0, atol=1e-6)
    assert_close(limits.lower[0.998], column(expected, "Lower3s0001limit"), rtol=0, atol=1e-6)
    assert_close(limits.upper[0.998], column(expected, "Upper3s0001limit"), rtol=0, atol=1e-6)
    assert limits.baseline == pytest.approx(column(expected, "Baseline")[0], abs=1e-6)
    assert limits.method == "Wilson" and limits.statistic == "proportion"


def test_proportion_significance() -> None:
    data = read("funnel_proportion_inputs_significance.csv")
    result = proportion_funnel_significance(column(data, "numerator"), column(data, "denominator"))
    assert result.labels.tolist() == data.get_column("significance").to_list()
    assert result.method == "Wilson" and result.confidence == (0.95, 0.998)


def test_ratio_limits() -> None:
    inputs = read("funnel_ratio_inputs_significance.csv")
    expected = read("funnel_ratio_limits.csv")
    for ratio_type in ("count", "isr"):
        limits = ratio_funnel_limits(
            column(inputs, "obs"), column(inputs, "expected"), ratio_type=ratio_type, multiplier=100
        )
        np.testing.assert_array_equal(limits.x, column(expected, "Observed_events"))
        for level, tag in ((0.95, "2s"), (0.998, "3s")):
            label = "95_0" if level == 0.95 else "99_8"
            for side, values in (("lower", limits.lower), ("upper", limits.upper)):
                assert_close(
                    values[level], column(expected, f"{side}_{tag}_{ratio_type}"), rtol=FUNNEL_RTOL
                )
                assert_close(
                    limits.extra[f"{side}_{label}_exp_events"],
                    column(expected, f"{side}_{tag}_exp_events"),
                    rtol=FUNNEL_RTOL,
                )


def test_ratio_significance() -> None:
    data = read("funnel_ratio_inputs_significance.csv")
    result = ratio_funnel_significance(column(data, "obs"), column(data, "expected"))
    assert result.labels.tolist() == data.get_column("significance").to_list()


def _points() -> pl.DataFrame:
    return read("funnel_rate_points_input.csv")


def _largest_replaced(value: float) -> np.ndarray:
    events = column(_points(), "ev")
    events[np.argmax(events)] = value
    return events


def _rate_cases() -> list[tuple[str, dict[str, object]]]:
    points = _points()
    rate = column(points, "rate")
    events = column(points, "ev")
    population = 1e5 * events / rate
    zero_events, zero_rate = events.copy(), rate.copy()
    largest = np.argmax(events)
    zero_events[largest], zero_rate[largest] = 0.0, 0.0
    keep = population > population.max() / 2
    return [
        ("funnel_rate_limits_dsr.csv", {"events": events, "rate": rate, "rate_type": "dsr"}),
        (
            "funnel_rate_limits_crude_lt10.csv",
            {"events": _largest_replaced(5), "rate": rate, "rate_type": "crude"},
        ),
        (
            "funnel_rate_limits_crude_zero_with_denominator.csv",
            {
                "events": zero_events[keep],
                "rate": zero_rate[keep],
                "rate_type": "crude",
                "denominator": population[keep],
            },
        ),
    ]


@pytest.mark.parametrize("case", [0, 1, 2])
def test_rate_limits(case: int) -> None:
    name, kwargs = _rate_cases()[case]
    expected = read(name)
    limits = rate_funnel_limits(years_of_data=3, multiplier=1e5, **kwargs)  # type: ignore[arg-type]
    np.testing.assert_array_equal(limits.x, column(expected, "Events"))
    assert limits.baseline == pytest.approx(column(expected, "baseline")[0], rel=1e-9)
    assert limits.statistic == expected.get_column("statistic")[0]
    for level, tag in ((0.95, "2s"), (0.998, "3s")):
        label = "95_0" if level == 0.95 else "99_8"
        for side, values in (("lower", limits.lower), ("upper", limits.upper)):
            assert_close(values[level], column(expected, f"{side}_{tag}_limit"), rtol=FUNNEL_RTOL)
            assert_close(
                limits.extra[f"{side}_{label}_population_1_year"],
                column(expected, f"{side}_{tag}_population_1_year"),
                rtol=FUNNEL_RTOL,
            )


@pytest.mark.parametrize("rate_type", ["dsr", "crude"])
@pytest.mark.parametrize("multiplier", [100000, 100])
@pytest.mark.parametrize("zeros", ["with", "without"])
def test_rate_significance(rate_type: str, multiplier: int, zeros: str) -> None:
    data = read("funnel_rate_inputs_significance.csv")
    if zeros == "without":
        data = data.filter(pl.col("count") > 0)
    rate_column = "rate_dsr" if rate_type == "dsr" else f"rate_crude_per_{multiplier}"
    result = rate_funnel_significance(
        column(data, "count"),
        np.nan_to_num(column(data, rate_column), nan=0.0),
        rate_type=rate_type,
        multiplier=multiplier,
        denominator=column(data, "pop"),
    )
    expected = data.get_column(f"{rate_type}_per_{multiplier}_{zeros}_0").to_list()
    assert result.labels.tolist() == expected


def test_rate_points() -> None:
    points = _points()
    rate = column(points, "rate")
    points_dsr = rate_funnel_points(
        _largest_replaced(5), rate, rate_type="dsr", years_of_data=3, multiplier=1e5
    )
    chart, derived = points_dsr.rate, points_dsr.population
    assert_close(chart, column(points, "rate_chart"))
    assert_close(derived, column(points, "denominator_derived"), rtol=FUNNEL_RTOL)
    crude = rate_funnel_points(
        column(points, "ev"), rate, rate_type="crude", years_of_data=3, multiplier=1e5
    )
    chart, derived = crude.rate, crude.population
    assert_close(chart, column(points, "rate_chart_crude"))
    assert_close(derived, column(points, "denominator_derived_crude"), rtol=FUNNEL_RTOL)
    with_denominator = rate_funnel_points(
        _largest_replaced(0),
        rate,
        rate_type="crude",
        years_of_data=5,
        multiplier=1e5,
        denominator=column(points, "pop"),
    )
    chart, derived = with_denominator.rate, with_denominator.population
    assert_close(chart, column(points, "rate_chart_crude_with_denom"))
    assert_close(derived, column(points, "denominator_derived_crude_with_denom"), rtol=FUNNEL_RTOL)


def test_funnel_input_errors() -> None:
    with pytest.raises(StatsInputError) as info:
        proportion_funnel_limits([1, np.nan], [10, 10])
    assert (info.value.row, info.value.column) == (1, "numerator")
    with pytest.raises(StatsInputError) as info:
        ratio_funnel_significance([1, 2], [1, -1])
    assert (info.value.row, info.value.column) == (1, "expected")
    with pytest.raises(StatsInputError):
        rate_funnel_limits([5], [0], rate_type="crude", years_of_data=1)
