"""Turning group labels into integer codes, so grouped sums are one ``np.bincount``.

Groups keep the order in which they first appear: a table's first area stays first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from healthycity.outcomes.stats._arrays import FloatArray, IntArray


@dataclass(frozen=True, eq=False)
class Groups:
    """Rows mapped to groups 0..count-1, plus one label per group.

    When every group's rows are contiguous only ``starts`` is stored and the per-row
    ``codes`` are built on first use (many methods never need them).
    """

    count: int
    labels: NDArray[Any]
    n_rows: int
    #: First row of each group when every group's rows are contiguous, else None.
    starts: IntArray | None = None
    given_codes: IntArray | None = None

    @cached_property
    def codes(self) -> IntArray:
        if self.given_codes is not None:
            return self.given_codes
        assert self.starts is not None
        return np.repeat(np.arange(self.count, dtype=np.intp), self.size())

    def sum(self, weights: FloatArray) -> FloatArray:
        """Per-group sums; NaN in a group makes its sum NaN."""
        if self.starts is not None:
            return np.add.reduceat(np.asarray(weights, dtype=np.float64), self.starts)
        return np.bincount(self.codes, weights=weights, minlength=self.count).astype(np.float64)

    def size(self) -> IntArray:
        if self.starts is not None:
            return np.diff(np.append(self.starts, self.n_rows)).astype(np.intp)
        return np.bincount(self.codes, minlength=self.count).astype(np.intp)

    def label(self, group: int) -> str:
        return str(self.labels[group])


def make_groups(groups: ArrayLike | None, n_rows: int) -> Groups:
    """Codes in order of first appearance. ``None`` puts every row in one group."""
    if groups is None:
        return Groups(
            count=1 if n_rows else 0,
            labels=np.array(["all rows"], dtype=object)[: 1 if n_rows else 0],
            n_rows=n_rows,
            starts=np.zeros(1, dtype=np.intp) if n_rows else None,
            given_codes=None if n_rows else np.zeros(0, dtype=np.intp),
        )
    labels = np.asarray(groups)
    if labels.ndim != 1 or len(labels) != n_rows:
        from healthycity.outcomes.stats.errors import StatsInputError

        raise StatsInputError(
            f"must have one label per row ({n_rows}), got shape {labels.shape}", column="groups"
        )
    if labels.dtype == object:
        labels = labels.astype(str)
    contiguous = _contiguous(labels)
    if contiguous is not None:
        return contiguous
    uniques, first_index, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(first_index, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return Groups(
        count=len(uniques),
        labels=uniques[order],
        n_rows=n_rows,
        given_codes=rank[inverse].astype(np.intp),
    )


def _contiguous(labels: NDArray[Any]) -> Groups | None:
    """Fast path, no sort: when each group's rows sit together (the usual long format)."""
    if len(labels) == 0:
        return None
    starts = np.concatenate(([0], np.flatnonzero(labels[1:] != labels[:-1]) + 1))
    run_labels = labels[starts]
    increasing = run_labels.dtype.kind in "iuf" and bool(np.all(run_labels[1:] > run_labels[:-1]))
    if not increasing and len(np.unique(run_labels)) != len(run_labels):
        return None
    return Groups(
        count=len(run_labels),
        labels=run_labels,
        n_rows=len(labels),
        starts=starts.astype(np.intp),
    )
