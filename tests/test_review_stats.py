"""The review's own statistics, checked by hand: the difference between two estimates
(Altman and Bland, BMJ 2003) and the deprivation group order behind the SII."""

from __future__ import annotations

import math

import pytest

from healthycity.reports.review_stats import change_between, p_text
from healthycity.reports.review_variation import deprivation_rank


def test_a_change_is_tested_from_the_two_intervals() -> None:
    # SE = (11 - 9) / (2 x 1.959964) = 0.510213 for both; z = 2 / (0.510213 x sqrt 2).
    change = change_between(("2018", 10.0, 9.0, 11.0), (12.0, 11.0, 13.0), "high_is_good")
    assert change.z == pytest.approx(2.0 / (0.5102135 * math.sqrt(2)), rel=1e-6)
    assert change.p == pytest.approx(0.005573, abs=1e-5)
    assert change.outcome == "improved" and change.significant
    assert change_between(("2018", 10.0, 9.0, 11.0), (12.0, 11.0, 13.0), "low_is_good").outcome == (
        "worsened"
    )
    assert change_between(("2018", 10.0, 9.0, 11.0), (12.0, 11.0, 13.0), None).outcome == "higher"


def test_overlapping_estimates_are_no_significant_change_and_no_interval_no_test() -> None:
    same = change_between(("2018", 10.0, 8.0, 12.0), (10.5, 8.5, 12.5), "high_is_good")
    assert same.outcome == "no significant change" and not same.significant
    untested = change_between(("2018", 10.0, None, None), (12.0, 11.0, 13.0), "high_is_good")
    assert untested.outcome == "not tested" and untested.p is None
    assert p_text(None) == "not tested" and p_text(0.0004) == "p < 0.001"
    assert p_text(0.0057) == "p = 0.006" and p_text(0.25) == "p = 0.25"


@pytest.mark.parametrize(
    ("category", "rank"),
    [
        ("Most deprived decile (IMD2019)", 1),
        ("Second most deprived decile (IMD2019)", 2),
        ("Fifth more deprived decile (IMD2019)", 5),
        ("Fifth less deprived decile (IMD2019)", 6),
        ("Second least deprived decile (IMD2019)", 9),
        ("Least deprived decile (IMD2019)", 10),
    ],
)
def test_deprivation_groups_are_ordered_from_the_most_deprived(category: str, rank: int) -> None:
    assert deprivation_rank(category, 10) == rank
