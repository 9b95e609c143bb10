"""Assigning areas to quantiles (deciles, quintiles, ...) the way PHE does.

Method as the PHE R package's ``phe_quantile`` and the Fingertips technical guidance:
within each group, rank the N non-missing values (ties take the lowest rank; the ranking
is descending when ``invert`` is true), then

    quantile = floor((q + 1) - ceiling((N + 1 - rank) / (N / q))),

with a result of 0 moved to 1. Quantile 1 is therefore the "worst" end when ``invert``
follows polarity: low-is-good indicators are inverted so the highest value gets 1.
A group with fewer values than quantiles gets missing quantiles and a warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from healthycity.outcomes.stats._arrays import FloatArray, as_float
from healthycity.outcomes.stats._groups import make_groups
from healthycity.outcomes.stats.errors import StatsInputError, StatsWarning

METHOD = "PHE quantiles (phe_quantile rule)"


@dataclass(frozen=True, eq=False)
class Quantiles:
    """Each row's quantile (1..nquantiles, NaN where not assigned) and how it was made."""

    quantile: FloatArray
    nquantiles: int
    invert: NDArray[np.bool_]
    groups: NDArray[Any]
    method: str = METHOD


def _invert_per_row(invert: bool | ArrayLike, n_rows: int) -> np.ndarray:
    if isinstance(invert, bool | np.bool_):
        return np.full(n_rows, bool(invert))
    flags = np.asarray(invert)
    if flags.shape != (n_rows,):
        raise StatsInputError(
            f"needs one flag per row ({n_rows}), got shape {flags.shape}", column="invert"
        )
    return flags.astype(np.bool_)


def assign_quantiles(
    values: ArrayLike,
    nquantiles: int = 10,
    *,
    invert: bool | ArrayLike = True,
    groups: ArrayLike | None = None,
) -> Quantiles:
    """The quantile (1..nquantiles) of each value within its group; NaN where missing.

    ``invert`` may be one flag or one per row (for example from each row's polarity);
    it must then be the same for every row of a group.
    """
    x = as_float(values, "value")
    if isinstance(nquantiles, bool) or int(nquantiles) != nquantiles or nquantiles < 1:
        raise StatsInputError(
            f"must be a whole number of 1 or more, got {nquantiles!r}", column="nquantiles"
        )
    q = int(nquantiles)
    g = make_groups(groups, len(x))
    flags = _invert_per_row(invert, len(x))
    mixed = np.zeros(g.count, dtype=np.bool_)
    any_true = np.bincount(g.codes, weights=flags.astype(float), minlength=g.count) > 0
    any_false = np.bincount(g.codes, weights=(~flags).astype(float), minlength=g.count) > 0
    mixed = any_true & any_false
    if mixed.any():
        group = int(np.argmax(mixed))
        row = int(np.argmax((g.codes == group) & (flags != flags[np.argmax(g.codes == group)])))
        raise StatsInputError(
            f"group '{g.label(group)}' mixes polarities (inverted and not); polarity must "
            "be the same for every row of a group",
            row=row,
            column="invert",
        )
    present = ~np.isnan(x)
    key = np.where(flags, -x, x)
    order = np.lexsort((key, ~present, g.codes))
    codes_sorted = g.codes[order]
    key_sorted = key[order]
    count = np.bincount(g.codes[present], minlength=g.count).astype(np.float64)
    starts = np.r_[0, np.flatnonzero(np.diff(codes_sorted)) + 1]
    new_run = np.ones(len(order), dtype=np.bool_)
    if len(order) > 1:
        new_run[1:] = (codes_sorted[1:] != codes_sorted[:-1]) | (key_sorted[1:] != key_sorted[:-1])
    run_start = np.maximum.accumulate(np.where(new_run, np.arange(len(order)), 0))
    group_start = np.zeros(g.count, dtype=np.intp)
    group_start[codes_sorted[starts]] = starts
    rank = (run_start - group_start[codes_sorted] + 1).astype(np.float64)
    n = count[codes_sorted]
    with np.errstate(divide="ignore", invalid="ignore"):
        quantile = np.floor((q + 1) - np.ceil((n + 1 - rank) / (n / q)))
    quantile[quantile == 0] = 1
    result = np.full(len(x), np.nan)
    result[order] = quantile
    small = count < q
    result[~present | small[g.codes]] = np.nan
    if small.any():
        names = ", ".join(f"'{g.label(int(i))}'" for i in np.flatnonzero(small)[:5])
        warnings.warn(
            f"{int(small.sum())} group(s) have fewer values than {q} quantiles and get no "
            f"quantile: {names}",
            StatsWarning,
            stacklevel=2,
        )
    return Quantiles(quantile=result, nquantiles=q, invert=flags, groups=g.labels)
