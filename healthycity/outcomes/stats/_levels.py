"""Confidence levels: parsing, z values and the column labels PHE uses.

Callers may say 0.95 or 95, 0.998 or 99.8, one level or several. Levels are kept as
fractions, in the order given, without duplicates. Labels follow the PHE R package:
95% is ``95_0`` (so ``lower95_0cl``), 99.8% is ``99_8``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from healthycity.outcomes.stats.errors import StatsInputError

Confidence = float | Iterable[float]

#: Fingertips' two standard levels.
DEFAULT_LEVELS: tuple[float, float] = (0.95, 0.998)


def parse_levels(confidence: Confidence, *, column: str = "confidence") -> tuple[float, ...]:
    """Normalise one or more confidence levels to fractions in (0, 1).

    Values above 1 are read as percentages (95 -> 0.95); exactly 1 or 100 is refused
    because a 100% interval is unbounded.
    """
    raw: list[float]
    if isinstance(confidence, bool):
        raise StatsInputError(f"{confidence!r} is not a confidence level", column=column)
    if isinstance(confidence, int | float):
        raw = [float(confidence)]
    else:
        try:
            raw = [float(c) for c in confidence]
        except (TypeError, ValueError) as exc:
            raise StatsInputError(
                f"{confidence!r} is not a list of confidence levels such as 0.95, 0.998",
                column=column,
            ) from exc
    if not raw:
        raise StatsInputError("no confidence level given (for example 0.95)", column=column)
    levels: list[float] = []
    for value in raw:
        level = value / 100.0 if value > 1.0 else value
        if not (math.isfinite(level) and 0.0 < level < 1.0):
            raise StatsInputError(
                f"{value!r} is not a confidence level: use a fraction such as 0.95 or a "
                "percentage such as 99.8",
                column=column,
            )
        level = round(level, 10)
        if level not in levels:
            levels.append(level)
    return tuple(levels)


def z_value(level: float) -> float:
    """Two-sided standard normal quantile: 1.959964 for 95%, 3.090232 for 99.8%."""
    from scipy.special import ndtri

    return float(ndtri(1.0 - (1.0 - level) / 2.0))


def label(level: float) -> str:
    """PHE's column label for a level: 0.95 -> '95_0', 0.998 -> '99_8'."""
    percent = round(level * 100.0, 8)
    text = f"{percent:.1f}" if round(percent, 1) == percent else f"{percent:g}"
    return text.replace(".", "_")


def percent_text(level: float) -> str:
    """A level as people write it: 0.95 -> '95%', 0.998 -> '99.8%'."""
    return f"{round(level * 100.0, 8):g}%"


def lower_column(level: float) -> str:
    return f"lower{label(level)}cl"


def upper_column(level: float) -> str:
    return f"upper{label(level)}cl"


def levels_text(levels: Iterable[float]) -> str:
    """'95%, 99.8%' — the ``confidence`` column of the PHE R package's output."""
    return ", ".join(percent_text(level) for level in levels)
