"""The reader's choice of comparison method (``compare.Choice`` and ``compare.plan``),
and the queries module judging by it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthycity.outcomes.compare import (
    Choice,
    Method,
    Outcome,
    compare,
    compare_overlap,
    compare_two_levels,
    plan,
)
from healthycity.outcomes.queries import IndicatorInfo, Point, compare_point, compare_points
from healthycity.outcomes.stats import StatsInputError


@pytest.mark.parametrize(
    ("choice", "default_level", "method", "levels", "words"),
    [
        (None, None, Method.ONE_LEVEL, (0.95,), "using 95% confidence intervals"),
        ("default", 0.998, Method.ONE_LEVEL, (0.998,), "using 99.8% confidence intervals"),
        ("95", 0.998, Method.ONE_LEVEL, (0.95,), "using 95% confidence intervals"),
        ("99.8", None, Method.ONE_LEVEL, (0.998,), "using 99.8% confidence intervals"),
        (
            "two-levels",
            None,
            Method.TWO_LEVELS,
            (0.95, 0.998),
            "using 95% and 99.8% confidence intervals (two levels)",
        ),
        (
            " CI-Overlap ",
            0.998,
            Method.CI_OVERLAP,
            (0.95,),
            "by whether the 95% confidence intervals overlap",
        ),
    ],
)
def test_plan_golden(
    choice: str | None,
    default_level: float | None,
    method: Method,
    levels: tuple[float, ...],
    words: str,
) -> None:
    found = plan(choice, default_level)
    assert (found.method, found.levels) == (method, levels)
    assert found.describe("England") == f"Compared with England {words}"


def test_unknown_choice_is_refused_with_the_choices() -> None:
    with pytest.raises(StatsInputError, match="two-levels"):
        Choice.parse("99.9")
    assert Choice.parse("") is Choice.DEFAULT


_limit = st.floats(min_value=-50, max_value=50, allow_nan=False)


@given(
    value=_limit,
    half95=st.floats(min_value=0, max_value=10),
    extra=st.floats(min_value=0, max_value=10),
    benchmark=_limit,
    polarity=st.sampled_from(["high_is_good", "low_is_good", "no_judgement"]),
)
def test_two_levels_agree_with_each_single_level(
    value: float, half95: float, extra: float, benchmark: float, polarity: str
) -> None:
    """Two levels say what the two one-level tests say: significant at 99.8% exactly when
    the 99.8% test says so, else at 95% exactly when the 95% test does."""
    lo95, hi95 = value - half95, value + half95
    lo998, hi998 = lo95 - extra, hi95 + extra
    two = compare_two_levels(value, lo95, hi95, lo998, hi998, benchmark, polarity=polarity)
    at95 = compare(value, lo95, hi95, benchmark, polarity=polarity, level=0.95)
    at998 = compare(value, lo998, hi998, benchmark, polarity=polarity, level=0.998)
    if at998.outcome is not Outcome.SIMILAR:
        assert (two.outcome, two.level) == (at998.outcome, 0.998)
    elif at95.outcome is not Outcome.SIMILAR:
        assert (two.outcome, two.level) == (at95.outcome, 0.95)
    else:
        assert (two.outcome, two.level) == (Outcome.SIMILAR, None)


@given(
    lo=_limit,
    width=st.floats(min_value=0, max_value=20),
    b_lo=_limit,
    b_width=st.floats(min_value=0, max_value=20),
)
def test_overlapping_intervals_are_never_significant(
    lo: float, width: float, b_lo: float, b_width: float
) -> None:
    hi, b_hi = lo + width, b_lo + b_width
    result = compare_overlap(lo, hi, b_lo, b_hi, polarity="high_is_good")
    overlaps = lo <= b_hi and b_lo <= hi
    assert (result.outcome is Outcome.SIMILAR) == overlaps


def _info(level: float | None = None) -> IndicatorInfo:
    return IndicatorInfo(
        id="x",
        name="X",
        unit="%",
        value_type="proportion",
        multiplier=100,
        polarity="high_is_good",
        decimals=1,
        source="test",
        fingertips_id=None,
        definition=None,
        data_loaded_at=None,
        comparison_level=level,
    )


def _point(code: str, value: float, ci95: tuple[float, float], ci998: tuple[float, float]) -> Point:
    return Point(
        area_code=code,
        area_name=code,
        area_type="local_authority",
        period="2020",
        time_period_sortable=20200000,
        value=value,
        lower_ci95=ci95[0],
        upper_ci95=ci95[1],
        lower_ci998=ci998[0],
        upper_ci998=ci998[1],
        count=None,
        denominator=None,
        value_note=None,
        illustrative=False,
    )


# Above the benchmark at 95% but not at 99.8%; England's own interval reaches it.
AREA = _point("A", 12.0, (10.5, 13.5), (9.5, 14.5))
ENGLAND = _point("E", 10.0, (9.0, 10.6), (8.5, 11.0))


@pytest.mark.parametrize(
    ("choice", "outcome", "confidence"),
    [
        (None, "better", 0.95),
        ("99.8", "similar", 0.998),
        ("two-levels", "better (95%)", 0.95),
        ("ci-overlap", "similar", 0.95),
    ],
)
def test_queries_judge_by_the_chosen_method(
    choice: str | None, outcome: str, confidence: float
) -> None:
    judged = compare_point(_info(), AREA, ENGLAND, choice)
    assert (judged.outcome, judged.confidence) == (outcome, confidence)
    assert judged.choice == (choice or "default")
    many = compare_points(_info(), [AREA, ENGLAND], ENGLAND, choice)
    assert many == [judged, None]


def test_indicator_default_level_is_used_unless_overridden() -> None:
    assert compare_point(_info(0.998), AREA, ENGLAND).outcome == "similar"
    assert compare_point(_info(0.998), AREA, ENGLAND, "95").outcome == "better"
