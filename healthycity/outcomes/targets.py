"""Progress towards a target: achieved, on track, off track, not set, not enough data.

The partnership's 2020 ambitions are targets with dates. We judge them simply and say
how: the latest value either already meets the target ("achieved"), or a least-squares
straight line through the most recent points (five by default, at least three) is
projected to the target date and meets it there ("on track") or does not ("off track").
Once the target date has passed, only the latest value counts. Which side of the target
is good comes from the target's direction ("at_least" / "at_most") or, failing that,
from the indicator's polarity. This is a projection, not a significance test: it says
where the recent line is heading, not how sure we are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from healthycity.outcomes.compare import Polarity
from healthycity.outcomes.stats.errors import StatsInputError

DEFAULT_POINTS = 5
MINIMUM_POINTS = 3


class TargetStatus(StrEnum):
    ACHIEVED = "achieved"
    ON_TRACK = "on track"
    OFF_TRACK = "off track"
    NOT_SET = "not set"
    NOT_ENOUGH_DATA = "not enough data"


class Direction(StrEnum):
    AT_LEAST = "at_least"
    AT_MOST = "at_most"


@dataclass(frozen=True)
class TargetProgress:
    """The verdict, the numbers behind it and the method that produced it."""

    status: TargetStatus
    method: str
    target: float | None = None
    target_time: float | None = None
    latest: float | None = None
    projected: float | None = None
    slope: float | None = None
    points_used: int = 0


def _direction(direction: str | Direction | None, polarity: str | Polarity | None) -> Direction:
    if direction is not None:
        try:
            return Direction(direction)
        except ValueError as exc:
            raise StatsInputError(
                f"must be at_least or at_most, got {direction!r}", column="direction"
            ) from exc
    pol = Polarity.parse(polarity) if polarity is not None else Polarity.NO_JUDGEMENT
    if pol is Polarity.HIGH_IS_GOOD:
        return Direction.AT_LEAST
    if pol is Polarity.LOW_IS_GOOD:
        return Direction.AT_MOST
    raise StatsInputError(
        "say whether the target is a minimum or a maximum (direction at_least/at_most) "
        "or give a polarity of high_is_good or low_is_good",
        column="direction",
    )


def _meets(value: float, target: float, direction: Direction) -> bool:
    return value >= target if direction is Direction.AT_LEAST else value <= target


def progress_to_target(
    times: Sequence[float],
    values: Sequence[float | None],
    *,
    target: float | None,
    target_time: float | None,
    direction: str | Direction | None = None,
    polarity: str | Polarity | None = None,
    points: int = DEFAULT_POINTS,
    minimum_points: int = MINIMUM_POINTS,
) -> TargetProgress:
    """Judge a series (``times`` as numbers, e.g. 2016.0, oldest first) against a target."""
    if target is None or target_time is None or np.isnan(target):
        return TargetProgress(TargetStatus.NOT_SET, "no target set")
    how = _direction(direction, polarity)
    if len(times) != len(values):
        raise StatsInputError("times and values differ in length", column="values")
    pairs = [
        (float(t), float(v))
        for t, v in zip(times, values, strict=True)
        if v is not None and not np.isnan(v)
    ]
    pairs.sort()
    used = pairs[-points:]
    method = (
        f"least-squares line through the last {len(used)} points, projected to "
        f"{target_time:g}; target {'at least' if how is Direction.AT_LEAST else 'at most'} "
        f"{target:g}"
    )
    base = TargetProgress(TargetStatus.NOT_ENOUGH_DATA, method, float(target), float(target_time))
    if not used:
        return base
    latest = used[-1][1]
    if _meets(latest, target, how):
        return TargetProgress(
            TargetStatus.ACHIEVED, method, target, target_time, latest, None, None, len(used)
        )
    if used[-1][0] >= target_time:
        return TargetProgress(
            TargetStatus.OFF_TRACK, method, target, target_time, latest, None, None, len(used)
        )
    if len(used) < minimum_points:
        return TargetProgress(
            TargetStatus.NOT_ENOUGH_DATA,
            method,
            target,
            target_time,
            latest,
            None,
            None,
            len(used),
        )
    t = np.array([p[0] for p in used])
    y = np.array([p[1] for p in used])
    slope, intercept = np.polyfit(t, y, 1)
    projected = float(intercept + slope * target_time)
    status = TargetStatus.ON_TRACK if _meets(projected, target, how) else TargetStatus.OFF_TRACK
    return TargetProgress(
        status, method, target, target_time, latest, projected, float(slope), len(used)
    )
