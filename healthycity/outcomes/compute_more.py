"""``healthycity compute --method funnel|quantiles``: PHE's funnel plots and quantiles.

- ``funnel`` (PHE R package ``calculate_funnel_limits`` / ``assign_funnel_significance``;
  Spiegelhalter 2005): ``--statistic proportion`` (default; columns ``numerator`` or
  ``count``, and ``denominator``): each area's value, its denominator, the 95% ("2s") and
  99.8% ("3s") control limits at that denominator around the baseline (the pooled
  proportion of all rows, or of each ``--group-by`` group), and PHE's significance
  ("High (0.025)", "Low (0.001)", "Not significant"). ``--statistic ratio`` (``observed``
  or ``count``, and ``expected``) and ``--statistic rate`` (``count``, ``rate``, optional
  ``denominator``; ``--rate-type crude|dsr``) give the baseline and significance.
- ``quantiles`` (PHE ``phe_quantile``; :mod:`.stats.quantiles`): column ``value``,
  ``--nquantiles`` (default 10), ``--invert`` (default true: the highest value is in
  quantile 1, as for a low-is-good indicator), groups by ``--group-by``.

Column names are matched without regard to case; errors name the data row (1-based,
header not counted) and the column, like the rest of ``compute``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from healthycity.outcomes.stats._levels import parse_levels, percent_text
from healthycity.outcomes.stats.errors import StatsInputError

if TYPE_CHECKING:
    import polars as pl

MORE_METHODS = ("funnel", "quantiles")
STATISTICS = ("proportion", "ratio", "rate")


def _column(df: pl.DataFrame, *names: str, required: bool = True) -> str | None:
    lowered = {c.lower(): c for c in df.columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    if required:
        raise StatsInputError(
            f"missing column (one of {', '.join(names)})", column=names[0], row=None
        )
    return None


def _numbers(df: pl.DataFrame, column: str) -> Any:
    import polars as pl

    from healthycity.outcomes.compute import table_error

    parsed = df.get_column(column).cast(pl.Float64, strict=False)
    bad = df.get_column(column).is_not_null() & parsed.is_null()
    if bad.any():
        row = int(bad.arg_true()[0])
        raise table_error(f"{df.get_column(column)[row]!r} is not a number", row=row, column=column)
    return parsed.to_numpy().astype(np.float64)


def _groups(df: pl.DataFrame, group_by: Sequence[str] | None) -> list[np.ndarray]:
    if not group_by:
        return [np.arange(df.height)]
    for column in group_by:
        if column not in df.columns:
            raise StatsInputError("missing column (named by --group-by)", column=column)
    keys = df.select(list(group_by)).rows()
    order: dict[tuple[Any, ...], list[int]] = {}
    for index, key in enumerate(keys):
        order.setdefault(tuple(key), []).append(index)
    return [np.asarray(rows) for rows in order.values()]


def funnel_table(
    df: pl.DataFrame,
    levels: tuple[float, ...],
    multiplier: float | None,
    group_by: Sequence[str] | None,
    options: dict[str, Any],
) -> pl.DataFrame:
    """Each row with its funnel baseline, limits (proportions) and significance."""
    import polars as pl

    from healthycity.outcomes.stats import funnel as f

    statistic = str(options.get("statistic") or "proportion").lower()
    if statistic not in STATISTICS:
        raise StatsInputError(
            f"unknown funnel statistic {statistic!r}; use {', '.join(STATISTICS)}",
            column="statistic",
        )
    n = df.height
    out: dict[str, Any] = {
        "value": np.full(n, np.nan),
        "baseline": np.full(n, np.nan),
        "significance": np.full(n, "", dtype=object),
    }
    tags = {
        lv: ("2s" if lv == 0.95 else "3s" if lv == 0.998 else percent_text(lv)) for lv in levels
    }
    if statistic == "proportion":
        for lv in levels:
            out[f"lower_{tags[lv]}_limit"] = np.full(n, np.nan)
            out[f"upper_{tags[lv]}_limit"] = np.full(n, np.nan)
    factor = multiplier or (100.0 if statistic != "rate" else 100_000.0)
    method = ""
    for rows in _groups(df, group_by):
        part = df[rows.tolist()]
        if statistic == "proportion":
            x = _numbers(part, str(_column(part, "numerator", "count")))
            d = _numbers(part, str(_column(part, "denominator")))
            limits = f.proportion_limits_at(x, d, multiplier=factor, confidence=levels)
            sig = f.proportion_funnel_significance(x, d, confidence=levels)
            out["value"][rows] = x / d * factor
            for lv in levels:
                out[f"lower_{tags[lv]}_limit"][rows] = limits.lower[lv]
                out[f"upper_{tags[lv]}_limit"][rows] = limits.upper[lv]
            baseline = limits.baseline
        elif statistic == "ratio":
            o = _numbers(part, str(_column(part, "observed", "obs", "count")))
            e = _numbers(part, str(_column(part, "expected")))
            sig = f.ratio_funnel_significance(o, e, confidence=levels)
            out["value"][rows] = o / e * factor
            baseline = factor
        else:
            events = _numbers(part, str(_column(part, "count", "events", "ev")))
            rate = _numbers(part, str(_column(part, "rate", "value")))
            name = _column(part, "denominator", "population", "pop", required=False)
            sig = f.rate_funnel_significance(
                events,
                rate,
                rate_type=str(options.get("rate_type") or "crude"),
                multiplier=factor,
                denominator=None if name is None else _numbers(part, name),
                confidence=levels,
            )
            out["value"][rows] = rate
            baseline = sig.baseline
        out["baseline"][rows] = baseline
        out["significance"][rows] = sig.labels
        method = sig.method
    result = df.with_columns(
        *(pl.Series(name, values) for name, values in out.items() if name != "significance"),
        pl.Series("significance", out["significance"].tolist(), dtype=pl.Utf8),
    )
    return result.with_columns(
        pl.lit("; ".join(f"{percent_text(lv)}" for lv in levels)).alias("confidence"),
        pl.lit(f"funnel ({statistic})").alias("statistic"),
        pl.lit(method).alias("method"),
    )


def quantiles_table(
    df: pl.DataFrame, group_by: Sequence[str] | None, options: dict[str, Any]
) -> pl.DataFrame:
    """Each row with its PHE quantile within its group."""
    import polars as pl

    from healthycity.outcomes.stats.quantiles import METHOD, assign_quantiles

    values = _numbers(df, str(_column(df, "value")))
    nquantiles = int(options.get("nquantiles") or 10)
    invert = options.get("invert", True)
    groups = None
    if group_by:
        _groups(df, group_by)  # checks the columns exist
        groups = np.asarray(["\x1f".join(map(str, r)) for r in df.select(list(group_by)).rows()])
    result = assign_quantiles(values, nquantiles, invert=bool(invert), groups=groups)
    return df.with_columns(
        pl.Series("quantile", result.quantile),
        pl.lit(nquantiles).alias("nquantiles"),
        pl.lit(bool(invert)).alias("invert"),
        pl.lit("quantile").alias("statistic"),
        pl.lit(METHOD).alias("method"),
    )


def compute_more(
    df: pl.DataFrame,
    name: str,
    confidence: Sequence[float] | float,
    multiplier: float | None,
    group_by: Sequence[str] | None,
    options: dict[str, Any],
) -> pl.DataFrame:
    """Dispatch for ``compute_table``: ``funnel`` or ``quantiles``."""
    if name == "funnel":
        return funnel_table(df, parse_levels(confidence), multiplier, group_by, options)
    return quantiles_table(df, group_by, options)
