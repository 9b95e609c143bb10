"""Fingertips-style comparisons: one level, two levels, CI overlap, polarity, quintiles."""

from __future__ import annotations

import math

import pytest

from healthycity.outcomes.compare import (
    Comparison,
    Method,
    Outcome,
    Polarity,
    compare,
    compare_many,
    compare_overlap,
    compare_two_levels,
    quintiles,
)
from healthycity.outcomes.stats import StatsInputError


@pytest.mark.parametrize(
    ("lower", "upper", "polarity", "outcome"),
    [
        (11.0, 13.0, "high_is_good", Outcome.BETTER),
        (11.0, 13.0, "low_is_good", Outcome.WORSE),
        (11.0, 13.0, "no_judgement", Outcome.HIGHER),
        (7.0, 9.0, "high_is_good", Outcome.WORSE),
        (7.0, 9.0, "low_is_good", Outcome.BETTER),
        (7.0, 9.0, "no_judgement", Outcome.LOWER),
        (9.0, 11.0, "high_is_good", Outcome.SIMILAR),
        (10.0, 12.0, "high_is_good", Outcome.SIMILAR),
    ],
)
def test_one_level(lower: float, upper: float, polarity: str, outcome: Outcome) -> None:
    result = compare((lower + upper) / 2, lower, upper, 10.0, polarity=polarity)
    assert result.outcome is outcome
    assert result.method is Method.ONE_LEVEL
    assert result.level == (None if outcome is Outcome.SIMILAR else 0.95)
    assert result.label == outcome.value


def test_two_levels() -> None:
    strong = compare_two_levels(20, 15, 25, 12, 28, 10, polarity="high_is_good")
    assert (strong.outcome, strong.level, strong.label) == (Outcome.BETTER, 0.998, "better (99.8%)")
    assert strong.fingertips_label == "Better 99.8%"
    weak = compare_two_levels(13, 11, 15, 9, 17, 10, polarity="high_is_good")
    assert (weak.outcome, weak.level, weak.label) == (Outcome.BETTER, 0.95, "better (95%)")
    worse = compare_two_levels(5, 2, 8, 1, 9.5, 10, polarity="RAG - High is good")
    assert worse.label == "worse (99.8%)"
    same = compare_two_levels(10.5, 9, 12, 8, 13, 10, polarity="low_is_good")
    assert same.outcome is Outcome.SIMILAR and same.level is None and same.label == "similar"


def test_ci_overlap() -> None:
    assert compare_overlap(10, 12, 11, 13, polarity="high_is_good").outcome is Outcome.SIMILAR
    apart = compare_overlap(14, 16, 11, 13, polarity="low_is_good")
    assert apart.outcome is Outcome.WORSE and apart.method is Method.CI_OVERLAP
    assert compare_overlap(5, 6, 11, 13, polarity="no_judgement").outcome is Outcome.LOWER


def test_missing_data_is_not_compared() -> None:
    for result in (
        compare(None, 1, 2, 3, polarity="high_is_good"),
        compare(1.5, None, 2, 3, polarity="high_is_good"),
        compare(1.5, 1, 2, math.nan, polarity="high_is_good"),
        compare_two_levels(1, 0, 2, None, 3, 5, polarity="high_is_good"),
    ):
        assert result.outcome is Outcome.NOT_COMPARED
        assert result.label == "not compared" and result.fingertips_label == "Not compared"


def test_vectorised_matches_one_by_one() -> None:
    values = [20.0, 10.0, 3.0, math.nan]
    lower = [15.0, 8.0, 1.0, 1.0]
    upper = [25.0, 12.0, 5.0, 2.0]
    many = compare_many(values, {95: lower}, {95: upper}, 10.0, polarity="low_is_good")
    single = tuple(
        compare(v, lo, hi, 10.0, polarity="low_is_good")
        for v, lo, hi in zip(values, lower, upper, strict=True)
    )
    assert many == single
    assert all(isinstance(c, Comparison) for c in many)


def test_polarity_names_and_errors() -> None:
    assert Polarity.parse("RAG - Low is good") is Polarity.LOW_IS_GOOD
    assert Polarity.parse("BOB - Blue orange blue") is Polarity.NO_JUDGEMENT
    with pytest.raises(StatsInputError):
        Polarity.parse("sideways")
    with pytest.raises(StatsInputError):
        compare_many(
            [1], {0.95: [0]}, {0.95: [2]}, 1, polarity="high_is_good", method=Method.TWO_LEVELS
        )


def test_quintiles_among_peers() -> None:
    values = [float(v) for v in range(1, 11)]
    good_high = quintiles(values, polarity="high_is_good")
    assert [q.quintile for q in good_high] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert good_high[0].label == "worst" and good_high[-1].label == "best"
    good_low = quintiles(values, polarity="low_is_good")
    assert good_low[0].label == "best" and good_low[-1].label == "worst"
    plain = quintiles(values, polarity="no_judgement")
    assert plain[0].label == "lowest" and plain[-1].label == "highest"
    few = quintiles([1.0, 2.0, None], polarity="high_is_good")
    assert {q.label for q in few} == {"not compared"}
