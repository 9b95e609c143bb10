"""What every statistic returns: values, limits per level, and the method that made them.

An ``Estimate`` is column-shaped (numpy arrays, one entry per row or per group) so a
million results cost a few arrays, not a million objects. Where the method varies by
row (exact below 10 events, Byar's from 10) it is kept as small integer codes and only
turned into text when asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from healthycity.outcomes.stats._arrays import FloatArray
from healthycity.outcomes.stats._levels import levels_text, lower_column, upper_column


@dataclass(frozen=True, eq=False)
class Estimate:
    """Point estimates with confidence limits at one or more levels.

    ``lower``/``upper`` are keyed by level as a fraction (0.95, 0.998). ``method`` is the
    overall method; ``method_codes`` (index into ``method_names``, -1 for none) says which
    applied to each row when that varies. ``notes`` explains missing values where a rule
    suppressed them (for example "dsr NA for total count < 10"). ``extra`` carries the
    method's other outputs (total counts, expected events, ...). ``groups`` holds the
    group labels when the estimate is one row per group.
    """

    value: FloatArray
    lower: Mapping[float, FloatArray]
    upper: Mapping[float, FloatArray]
    confidence: tuple[float, ...]
    statistic: str
    method: str
    method_codes: NDArray[np.int8] | None = None
    method_names: tuple[str, ...] = ()
    notes: NDArray[np.object_] | None = None
    extra: Mapping[str, FloatArray] = field(default_factory=dict)
    groups: NDArray[Any] | None = None

    def __len__(self) -> int:
        return len(self.value)

    def limits(self, level: float) -> tuple[FloatArray, FloatArray]:
        """(lower, upper) at one level; accepts 0.95 or 95."""
        from healthycity.outcomes.stats._levels import parse_levels

        (key,) = parse_levels(level)
        return self.lower[key], self.upper[key]

    def row_methods(self) -> NDArray[np.object_]:
        """The method used for each row, as text (None where no method applied)."""
        if self.method_codes is None:
            return np.full(len(self.value), self.method, dtype=object)
        names = np.array([*self.method_names, None], dtype=object)
        return names[self.method_codes]

    def confidence_text(self) -> str:
        return levels_text(self.confidence)

    def columns(self) -> dict[str, FloatArray]:
        """value, then lowerXXcl/upperXXcl per level, in the PHE R package's names."""
        out: dict[str, FloatArray] = {"value": self.value}
        for level in self.confidence:
            out[lower_column(level)] = self.lower[level]
            out[upper_column(level)] = self.upper[level]
        return out
