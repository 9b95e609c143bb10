"""The calculator behind ``healthycity compute``: a table of counts in, PHE statistics out.

``compute_table`` takes a Polars DataFrame and a method name and returns a DataFrame in
the PHE R package's familiar shape: the input's own columns (or, for grouped methods,
the group columns), then ``value``, ``lowerXXcl``/``upperXXcl`` for each level asked
(``lower95_0cl``, ``upper99_8cl``, ...), ``confidence``, ``statistic`` and ``method``.
The columns each method reads are listed in ``docs/statistics.md``.

Errors are :class:`StatsInputError` and name the data row as a person sees it in the
CSV: 1-based, counting data rows only (the header is not row 1), plus the column.
This module only arranges tables; the statistics live in :mod:`.stats`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from healthycity.outcomes.stats._levels import (
    DEFAULT_LEVELS,
    levels_text,
    lower_column,
    parse_levels,
    upper_column,
)
from healthycity.outcomes.stats.errors import StatsInputError

if TYPE_CHECKING:
    import polars as pl

    from healthycity.outcomes.stats._arrays import FloatArray
    from healthycity.outcomes.stats.result import Estimate

METHODS = ("proportion", "rate", "mean", "dsr", "isr", "life-expectancy", "sii")
ALL_METHODS = (*METHODS, "funnel", "quantiles")  # the last two: compute_more.py
MISSING_TEXT = frozenset({"", "na", "nan", "null", "none", "n/a"})
ROW_NOTE = "data row {row} (1-based, header not counted)"


# --- reading columns -------------------------------------------------------------------


def table_error(reason: str, *, row: int | None, column: str | None) -> StatsInputError:
    """An error worded for a person reading the CSV: 1-based data row, then column."""
    where = []
    if row is not None:
        where.append(ROW_NOTE.format(row=row + 1))
    if column:
        where.append(f"column '{column}'")
    message = f"{', '.join(where)}: {reason}" if where else reason
    return StatsInputError(reason, row=row, column=column, message=message)


def _located(error: StatsInputError, columns: Mapping[str, str]) -> StatsInputError:
    """Re-word a statistics error in the table's terms: 1-based data row, real column."""
    column = columns.get(error.column or "", error.column)
    return table_error(error.reason, row=error.row, column=column)


def _require(df: pl.DataFrame, *columns: str, method: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise StatsInputError(
            f"the {method} method needs column(s) {', '.join(repr(c) for c in missing)}; "
            f"the table has {', '.join(repr(c) for c in df.columns)}",
            column=missing[0],
        )


def _numeric(df: pl.DataFrame, column: str) -> FloatArray:
    """A column as float64 with NaN for missing; text that is not a number is an error."""
    import polars as pl

    series = df.get_column(column)
    if series.dtype.is_numeric() or series.dtype == pl.Boolean or series.dtype == pl.Null:
        return series.cast(pl.Float64).to_numpy().astype(np.float64, copy=False)
    text = series.cast(pl.String)
    cleaned = text.str.strip_chars()
    missing = cleaned.is_null() | cleaned.str.to_lowercase().is_in(list(MISSING_TEXT))
    numbers = cleaned.str.replace_all(",", "").cast(pl.Float64, strict=False)
    bad = (numbers.is_null() & ~missing).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise table_error(f"{text[row]!r} is not a number", row=row, column=column)
    return numbers.to_numpy().astype(np.float64, copy=False)


def _first_present(df: pl.DataFrame, *names: str) -> str | None:
    return next((name for name in names if name in df.columns), None)


def _group_codes(df: pl.DataFrame, group_by: Sequence[str] | None) -> tuple[Any, pl.DataFrame]:
    """Integer group codes in order of first appearance, and one key row per group."""
    import polars as pl

    if not group_by:
        return None, pl.DataFrame()
    _require(df, *group_by, method="group-by")
    indexed = df.select(list(group_by)).with_row_index("__row")
    grouped = (
        indexed.group_by(list(group_by), maintain_order=True)
        .agg(pl.col("__row"))
        .with_row_index("__group")
    )
    exploded = grouped.select("__group", "__row").explode("__row")
    codes = np.empty(df.height, dtype=np.intp)
    codes[exploded.get_column("__row").to_numpy()] = exploded.get_column("__group").to_numpy()
    return codes, grouped.select(list(group_by))


# --- writing results --------------------------------------------------------------------


def _result_columns(estimate: Estimate, statistic: Any = None) -> dict[str, Any]:
    import polars as pl

    columns: dict[str, Any] = {
        name: _floats(name, values) for name, values in estimate.columns().items()
    }
    n = len(estimate)
    columns["confidence"] = pl.Series("confidence", [estimate.confidence_text()] * n)
    columns["statistic"] = (
        statistic
        if statistic is not None
        else pl.Series("statistic", [estimate.statistic] * n, dtype=pl.String)
    )
    columns["method"] = pl.Series("method", estimate.row_methods().tolist(), dtype=pl.String)
    return columns


def _attach(
    base: pl.DataFrame, extra: Mapping[str, Any], results: Mapping[str, Any]
) -> pl.DataFrame:
    """Base columns (minus any the results replace), then extra, then result columns."""
    import polars as pl

    data = {**extra, **results}
    series = [
        value.alias(name) if isinstance(value, pl.Series) else pl.Series(name, value)
        for name, value in data.items()
    ]
    if base.width == 0:
        return pl.DataFrame(series)
    return base.drop([name for name in data if name in base.columns]).hstack(series)


def _floats(name: str, values: Any) -> Any:
    import polars as pl

    return pl.Series(name, np.asarray(values, dtype=np.float64), dtype=pl.Float64, nan_to_null=True)


# --- methods ----------------------------------------------------------------------------


def _proportion_or_rate(
    df: pl.DataFrame,
    method: str,
    levels: tuple[float, ...],
    multiplier: float | None,
    ci: str,
    group_by: Sequence[str] | None,
) -> pl.DataFrame:
    from healthycity.outcomes.stats._arrays import check_not_negative, check_positive
    from healthycity.outcomes.stats.proportion import proportion, validate
    from healthycity.outcomes.stats.rate import check_ci, crude_rate

    _require(df, "count", "denominator", method=method)
    count, denominator = _numeric(df, "count"), _numeric(df, "denominator")
    if method == "proportion":
        validate(count, denominator)
    else:
        check_ci(ci)
        check_not_negative(count, "count")
        check_positive(denominator, "denominator")
    codes, keys = _group_codes(df, group_by)
    if codes is not None:
        groups = int(codes.max()) + 1 if len(codes) else 0
        count = np.bincount(codes, weights=count, minlength=groups).astype(np.float64)
        denominator = np.bincount(codes, weights=denominator, minlength=groups).astype(np.float64)
    if method == "proportion":
        estimate = proportion(count, denominator, confidence=levels, multiplier=multiplier or 1.0)
    else:
        estimate = crude_rate(
            count,
            denominator,
            confidence=levels,
            multiplier=multiplier or 100_000.0,
            ci=ci,
        )
    if codes is None:
        return _attach(df, {}, _result_columns(estimate))
    extra = {"count": _floats("count", count), "denominator": _floats("denominator", denominator)}
    return _attach(keys, extra, _result_columns(estimate))


def _mean(
    df: pl.DataFrame, levels: tuple[float, ...], group_by: Sequence[str] | None
) -> pl.DataFrame:
    import polars as pl

    from healthycity.outcomes.stats.mean import mean

    _require(df, "value", method="mean")
    codes, keys = _group_codes(df, group_by)
    estimate = mean(_numeric(df, "value"), groups=codes, confidence=levels)
    extra = {name: _floats(name, values) for name, values in estimate.extra.items()}
    base = keys if codes is not None else pl.DataFrame()
    return _attach(base, extra, _result_columns(estimate))


def _start_ages(df: pl.DataFrame, column: str) -> FloatArray:
    """Start ages from numbers (0, 1, 5) or band labels ('<1', '05-09', '90+')."""
    import polars as pl

    from healthycity.outcomes.stats.esp2013 import band_start_age

    series = df.get_column(column)
    if series.dtype.is_numeric():
        return _numeric(df, column)
    ages = np.empty(df.height, dtype=np.float64)
    for row, label in enumerate(series.cast(pl.String).to_list()):
        text = (label or "").strip()
        start = 0 if text.startswith("<") else band_start_age(text)
        if start is None:
            raise table_error(
                f"{label!r} is not an age band (write the start age, or a label such as "
                "5-9 or 90+)",
                row=row,
                column=column,
            )
        ages[row] = start
    return ages


def _esp2013_for_bands(df: pl.DataFrame, column: str, codes: Any) -> FloatArray:
    """ESP2013 weights by each row's age-band label; each band once per group."""
    from healthycity.outcomes.stats.esp2013 import ESP2013_LABELS, weight_for_start_age

    ages = _start_ages(df, column)
    weights = np.empty(df.height, dtype=np.float64)
    seen: set[tuple[int, float]] = set()
    group_of = codes if codes is not None else np.zeros(df.height, dtype=np.intp)
    for row, age in enumerate(ages.tolist()):
        weight = weight_for_start_age(int(age)) if float(age).is_integer() else None
        if weight is None:
            raise table_error(
                f"no ESP2013 band starts at age {age:g}; the bands are "
                f"{', '.join(ESP2013_LABELS)} (or give a standard_population column)",
                row=row,
                column=column,
            )
        key = (int(group_of[row]), age)
        if key in seen:
            raise table_error(
                f"the age band starting at {age:g} appears twice in the same group",
                row=row,
                column=column,
            )
        seen.add(key)
        weights[row] = weight
    return weights


def _frequency_columns(df: pl.DataFrame, given: Sequence[str] | None) -> list[str]:
    if given:
        _require(df, *given, method="dsr (non-independent events)")
        return list(given)
    found = sorted((c for c in df.columns if re.fullmatch(r"f\d+", c)), key=lambda c: int(c[1:]))
    expected = [f"f{i}" for i in range(1, len(found) + 1)]
    if not found or found != expected:
        raise StatsInputError(
            "non-independent events need columns f1, f2, ... (people with exactly 1, 2, "
            "... events), or name them with frequency_columns",
            column="f1",
        )
    return found


def _dsr(
    df: pl.DataFrame,
    levels: tuple[float, ...],
    multiplier: float | None,
    group_by: Sequence[str] | None,
    options: Mapping[str, Any],
) -> pl.DataFrame:
    import polars as pl

    from healthycity.outcomes.stats.dsr import dsr

    population_column = _first_present(df, "denominator", "population") or "denominator"
    _require(df, "count", population_column, method="dsr")
    codes, keys = _group_codes(df, group_by)
    standard_column = options.get("standard_population_column", "standard_population")
    standard: Any = None
    if standard_column in df.columns:
        standard = _numeric(df, standard_column)
    elif "age_band" in df.columns:
        standard = _esp2013_for_bands(df, "age_band", codes)
    persons = None
    if options.get("independent_events", True) is False:
        columns = _frequency_columns(df, options.get("frequency_columns"))
        persons = np.column_stack([_numeric(df, c) for c in columns])
    estimate = dsr(
        _numeric(df, "count"),
        _numeric(df, population_column),
        standard_population=standard,
        groups=codes,
        confidence=levels,
        multiplier=multiplier or 100_000.0,
        persons_by_events=persons,
    )
    notes = estimate.notes if estimate.notes is not None else np.full(len(estimate), None)
    statistic = pl.Series(
        "statistic",
        [note or estimate.statistic for note in notes.tolist()],
        dtype=pl.String,
    )
    extra = {name: _floats(name, values) for name, values in estimate.extra.items()}
    base = keys if codes is not None else pl.DataFrame()
    return _attach(base, extra, _result_columns(estimate, statistic))


def _isr(
    df: pl.DataFrame,
    levels: tuple[float, ...],
    multiplier: float | None,
    ci: str,
    group_by: Sequence[str] | None,
    options: Mapping[str, Any],
) -> pl.DataFrame:
    import polars as pl

    from healthycity.outcomes.stats.isr import indirectly_standardised

    kind = options.get("kind", "ratio")
    population_column = _first_present(df, "denominator", "population") or "denominator"
    _require(df, population_column, method="isr")
    codes, keys = _group_codes(df, group_by)
    if "ref_count" in df.columns or "ref_denominator" in df.columns:
        _require(df, "ref_count", "ref_denominator", method="isr")
        ref_count = _numeric(df, "ref_count")
        ref_population = _numeric(df, "ref_denominator")
    else:
        ref_count, ref_population = _reference_by_order(df, codes, options)
    observed = None
    observed_column = options.get("observed_column")
    if observed_column:
        _require(df, observed_column, method="isr")
        totals = _numeric(df, observed_column)
        observed = _one_per_group(totals, codes, observed_column)
    else:
        _require(df, "count", method="isr")
    estimate = indirectly_standardised(
        _numeric(df, "count") if observed is None else None,
        _numeric(df, population_column),
        ref_count,
        ref_population,
        kind=kind,
        groups=codes,
        observed=observed,
        confidence=levels,
        multiplier=multiplier,
        ci=ci,
    )
    extra = {
        name: _floats(name, values)
        for name, values in estimate.extra.items()
        if kind == "rate" or name != "ref_rate"
    }
    base = keys if codes is not None else pl.DataFrame()
    return _attach(base, extra, _result_columns(estimate))


def _reference_by_order(
    df: pl.DataFrame, codes: Any, options: Mapping[str, Any]
) -> tuple[FloatArray, FloatArray]:
    """Reference counts/populations given once (per band), repeated for each group."""
    ref_count = options.get("reference_count")
    ref_population = options.get("reference_population")
    if ref_count is None or ref_population is None:
        raise StatsInputError(
            "isr needs reference data: columns ref_count and ref_denominator, or the "
            "options reference_count and reference_population (one value per age band)",
            column="ref_count",
        )
    counts = np.asarray(ref_count, dtype=np.float64)
    pops = np.asarray(ref_population, dtype=np.float64)
    group_of = codes if codes is not None else np.zeros(df.height, dtype=np.intp)
    sizes = np.bincount(group_of)
    if len(counts) != len(pops) or np.any(sizes != len(counts)):
        raise StatsInputError(
            f"every group needs {len(counts)} rows, one per reference age band, in the "
            "reference's order",
            column="reference_count",
        )
    order = np.argsort(group_of, kind="stable")
    position = np.empty(df.height, dtype=np.intp)
    position[order] = np.tile(np.arange(len(counts)), len(sizes))
    return counts[position], pops[position]


def _one_per_group(values: FloatArray, codes: Any, column: str) -> FloatArray:
    if codes is None:
        codes = np.zeros(len(values), dtype=np.intp)
    groups = int(codes.max()) + 1 if len(codes) else 0
    first = np.full(groups, -1, dtype=np.intp)
    for row in range(len(codes) - 1, -1, -1):
        first[codes[row]] = row
    per_group = values[first]
    differs = values != per_group[codes]
    if differs.any():
        row = int(np.argmax(differs))
        raise table_error(
            "the observed total must be the same on every row of a group", row=row, column=column
        )
    return per_group


def _life_expectancy(
    df: pl.DataFrame, levels: tuple[float, ...], group_by: Sequence[str] | None
) -> pl.DataFrame:
    import polars as pl

    from healthycity.outcomes.stats.life_expectancy import life_expectancy

    deaths = _first_present(df, "deaths", "count") or "deaths"
    population = _first_present(df, "population", "denominator") or "population"
    _require(df, "age_band", deaths, population, method="life-expectancy")
    codes, _ = _group_codes(df, group_by)
    estimate = life_expectancy(
        _numeric(df, deaths),
        _numeric(df, population),
        _start_ages(df, "age_band"),
        groups=codes,
        confidence=levels,
    )
    notes = estimate.notes if estimate.notes is not None else np.full(len(estimate), None)
    results = _result_columns(estimate)
    results["note"] = pl.Series("note", notes.tolist(), dtype=pl.String)
    return _attach(df, {}, results)


def _sii(
    df: pl.DataFrame,
    levels: tuple[float, ...],
    multiplier: float | None,
    group_by: Sequence[str] | None,
    options: Mapping[str, Any],
) -> pl.DataFrame:
    import polars as pl

    from healthycity.outcomes.stats.sii import DEFAULT_REPETITIONS, sii

    population = _first_present(df, "population", "denominator") or "population"
    _require(df, "quantile", population, method="sii")
    value_type = str(options.get("value_type", "other"))
    use_counts = "value" not in df.columns and "count" in df.columns
    if not use_counts:
        _require(df, "value", method="sii")

    def optional(name: str) -> FloatArray | None:
        return _numeric(df, name) if name in df.columns else None

    codes, keys = _group_codes(df, group_by)
    result = sii(
        None if use_counts else _numeric(df, "value"),
        _numeric(df, population),
        _numeric(df, "quantile"),
        groups=codes,
        value_type=value_type,
        lower_cl=optional("lower_cl"),
        upper_cl=optional("upper_cl"),
        se=optional("se"),
        count=optional("count") if use_counts or value_type == "proportion" else None,
        confidence=levels,
        multiplier=multiplier if multiplier is not None else 1.0,
        repetitions=int(options.get("repetitions", DEFAULT_REPETITIONS)),
        transform=bool(options.get("transform", False)),
        seed=int(options.get("seed", 0)),
    )
    n = len(result.sii)
    columns: dict[str, Any] = {"sii": _floats("sii", result.sii)}
    for level in result.confidence:
        columns[f"sii_{lower_column(level)}"] = _floats("", result.sii_lower[level])
        columns[f"sii_{upper_column(level)}"] = _floats("", result.sii_upper[level])
    columns["rii"] = _floats("rii", result.rii)
    for level in result.confidence:
        columns[f"rii_{lower_column(level)}"] = _floats("", result.rii_lower[level])
        columns[f"rii_{upper_column(level)}"] = _floats("", result.rii_upper[level])
    columns["intercept"] = _floats("intercept", result.intercept)
    columns["confidence"] = [levels_text(result.confidence)] * n
    columns["statistic"] = [result.statistic] * n
    columns["method"] = [result.method] * n
    columns["note"] = pl.Series("note", result.notes.tolist(), dtype=pl.String)
    renamed = {
        name: (value.alias(name) if isinstance(value, pl.Series) else value)
        for name, value in columns.items()
    }
    base = keys if codes is not None else pl.DataFrame()
    return _attach(base, {}, renamed)


# --- public API -------------------------------------------------------------------------


def compute_table(
    df: pl.DataFrame,
    method: str,
    confidence: Sequence[float] | float = DEFAULT_LEVELS,
    multiplier: float | None = None,
    ci: str = "auto",
    group_by: Sequence[str] | None = None,
    **options: Any,
) -> pl.DataFrame:
    """Compute a PHE statistic for every row (or group) of ``df``.

    ``method`` is one of proportion, rate, mean, dsr, isr, life-expectancy, sii.
    ``multiplier`` defaults per method (proportion 1, rate and dsr 100,000, isr ratio 1
    and rate 100,000, sii 1). ``ci`` (auto|exact|byar) applies to rates and ISRs.
    ``group_by`` sums proportion/rate rows within groups and names the areas of
    dsr/isr/life-expectancy/sii/mean rows. Method options: dsr -
    ``independent_events``, ``frequency_columns``, ``standard_population_column``;
    isr - ``kind`` (ratio|rate), ``reference_count``, ``reference_population``,
    ``observed_column``; sii - ``value_type``, ``transform``, ``repetitions``, ``seed``.
    """
    name = method.strip().lower().replace("_", "-")
    if name not in ALL_METHODS:
        raise StatsInputError(
            f"unknown method {method!r}; use one of {', '.join(ALL_METHODS)}", column="method"
        )
    try:
        if name not in METHODS:
            from healthycity.outcomes.compute_more import compute_more

            return compute_more(df, name, confidence, multiplier, group_by, options)
        levels = parse_levels(confidence)
        if group_by is not None:
            group_by = [group_by] if isinstance(group_by, str) else list(group_by)
        runner: Callable[[], pl.DataFrame] = {
            "proportion": lambda: _proportion_or_rate(
                df, "proportion", levels, multiplier, ci, group_by
            ),
            "rate": lambda: _proportion_or_rate(df, "rate", levels, multiplier, ci, group_by),
            "mean": lambda: _mean(df, levels, group_by),
            "dsr": lambda: _dsr(df, levels, multiplier, group_by, options),
            "isr": lambda: _isr(df, levels, multiplier, ci, group_by, options),
            "life-expectancy": lambda: _life_expectancy(df, levels, group_by),
            "sii": lambda: _sii(df, levels, multiplier, group_by, options),
        }[name]
        return runner()
    except StatsInputError as error:
        if str(error).startswith("data row") or (error.row is None and error.column is None):
            raise
        raise _located(error, _real_columns(df, name)) from None


def _real_columns(df: pl.DataFrame, method: str) -> dict[str, str]:
    """Map the statistics' argument names back to this table's column names."""
    mapping: dict[str, str] = {}
    population = _first_present(df, "population", "denominator")
    if population:
        mapping["population"] = population
    if method == "life-expectancy":
        mapping["start_age"] = "age_band"
        deaths = _first_present(df, "deaths", "count")
        if deaths:
            mapping["deaths"] = deaths
    if method == "isr":
        mapping["reference_count"] = "ref_count"
        mapping["reference_population"] = "ref_denominator"
    if method == "sii":
        mapping["se"] = "se"
    return mapping


def compute_csv(
    in_path: str | Path,
    out_path: str | Path,
    *,
    method: str,
    confidence: Sequence[float] | float = DEFAULT_LEVELS,
    multiplier: float | None = None,
    ci: str = "auto",
    group_by: Sequence[str] | None = None,
    **options: Any,
) -> int:
    """Read a CSV, compute, write a CSV; returns the number of rows written."""
    import polars as pl

    try:
        df = pl.read_csv(in_path, infer_schema_length=None)
    except pl.exceptions.PolarsError as exc:
        raise StatsInputError(f"{in_path}: cannot read as CSV ({exc})") from exc
    result = compute_table(
        df,
        method,
        confidence=confidence,
        multiplier=multiplier,
        ci=ci,
        group_by=group_by,
        **options,
    )
    result.write_csv(out_path)
    return result.height
