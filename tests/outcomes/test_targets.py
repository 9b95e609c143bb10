"""Progress to target by projecting the recent least-squares line."""

from __future__ import annotations

import pytest

from healthycity.outcomes.stats import StatsInputError
from healthycity.outcomes.targets import TargetStatus, progress_to_target

YEARS = [2013.0, 2014.0, 2015.0, 2016.0, 2017.0]


def test_on_track_and_off_track() -> None:
    rising = [60.0, 62.0, 64.0, 66.0, 68.0]
    on = progress_to_target(YEARS, rising, target=72.0, target_time=2020.0, polarity="high_is_good")
    assert on.status is TargetStatus.ON_TRACK
    assert on.projected == pytest.approx(74.0) and on.points_used == 5
    assert "least-squares" in on.method and "2020" in on.method
    off = progress_to_target(YEARS, rising, target=80.0, target_time=2020.0, direction="at_least")
    assert off.status is TargetStatus.OFF_TRACK


def test_achieved_not_set_and_not_enough_data() -> None:
    assert (
        progress_to_target(
            YEARS, [9, 8, 7, 6, 5], target=6, target_time=2020, polarity="low_is_good"
        ).status
        is TargetStatus.ACHIEVED
    )
    assert (
        progress_to_target(YEARS, [1] * 5, target=None, target_time=2020).status
        is TargetStatus.NOT_SET
    )
    thin = progress_to_target(
        YEARS[:2], [1.0, 2.0], target=10.0, target_time=2020.0, direction="at_least"
    )
    assert thin.status is TargetStatus.NOT_ENOUGH_DATA
    none = progress_to_target([], [], target=10.0, target_time=2020.0, direction="at_least")
    assert none.status is TargetStatus.NOT_ENOUGH_DATA


def test_after_the_date_only_the_latest_value_counts() -> None:
    result = progress_to_target(
        [2019.0, 2020.0, 2021.0],
        [1.0, 2.0, 3.0],
        target=5.0,
        target_time=2020.0,
        direction="at_least",
    )
    assert result.status is TargetStatus.OFF_TRACK and result.projected is None


def test_missing_values_are_skipped_and_direction_is_needed() -> None:
    result = progress_to_target(
        YEARS, [60.0, None, 64.0, 66.0, 68.0], target=72.0, target_time=2020.0, direction="at_least"
    )
    assert result.points_used == 4 and result.status is TargetStatus.ON_TRACK
    with pytest.raises(StatsInputError):
        progress_to_target(
            YEARS, [1.0] * 5, target=2.0, target_time=2020.0, polarity="no_judgement"
        )
