"""Array conversion and up-front validation shared by every statistic.

Checks run on whole arrays (one vectorised pass each) and, only when something is wrong,
find the first offending row so the message can name it. Missing values are NaN; each
statistic decides whether a missing value is an error or simply gives a missing result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from healthycity.outcomes.stats.errors import StatsInputError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]


def as_float(values: ArrayLike, column: str) -> FloatArray:
    """A 1-D float64 view (no copy when already float64) of numeric input."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsInputError(f"must be numeric ({exc})", column=column) from exc
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise StatsInputError(f"must be one-dimensional, got shape {array.shape}", column=column)
    return array


#: Rows per block in the hot kernels: small enough that a block's temporaries stay in
#: the CPU cache, large enough that the Python loop over blocks costs nothing.
CHUNK = 16_384


def chunks(n: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive blocks of at most CHUNK rows."""
    for start in range(0, n, CHUNK):
        yield start, min(start + CHUNK, n)


def first(mask: BoolArray) -> int:
    """Index of the first True in a mask known to contain one."""
    return int(np.argmax(mask))


def fail_at(mask: BoolArray, column: str, reason: str, values: FloatArray | None = None) -> None:
    """Raise for the first row where ``mask`` is True, quoting the value if given."""
    row = first(mask)
    shown = f" (got {_show(values[row])})" if values is not None else ""
    raise StatsInputError(f"{reason}{shown}", row=row, column=column)


def _show(value: Any) -> str:
    number = float(value)
    return f"{number:g}" if np.isfinite(number) else str(number)


def same_length(**arrays: FloatArray | None) -> int:
    """The common length of the given arrays; an error names the odd one out."""
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    expected = next(iter(lengths.values()))
    for name, length in lengths.items():
        if length != expected:
            first_name = next(iter(lengths))
            raise StatsInputError(
                f"has {length} rows but '{first_name}' has {expected}", column=name
            )
    return expected


def check_not_negative(values: FloatArray, column: str) -> None:
    bad = values < 0
    if bad.any():
        fail_at(bad, column, "must not be negative", values)


def check_positive(values: FloatArray, column: str) -> None:
    """Greater than zero where present (NaN passes: missing is handled elsewhere)."""
    bad = values <= 0
    if bad.any():
        fail_at(bad, column, "must be greater than 0", values)


def check_present(values: FloatArray, column: str, reason: str = "is missing") -> None:
    bad = np.isnan(values)
    if bad.any():
        fail_at(bad, column, reason)


def check_multiplier(multiplier: float, *, allow_negative: bool = False) -> float:
    value = float(multiplier)
    if not np.isfinite(value) or value == 0 or (value < 0 and not allow_negative):
        kind = "a non-zero" if allow_negative else "a positive"
        raise StatsInputError(f"must be {kind} number, got {multiplier!r}", column="multiplier")
    return value


def multiplier_text(multiplier: float) -> str:
    """100000.0 -> '100000', 0.5 -> '0.5' (PHE writes 'rate per 100000')."""
    return str(int(multiplier)) if float(multiplier).is_integer() else repr(float(multiplier))
