"""Counts in, statistics out: a local CSV of counts becomes observations with values and
95% / 99.8% intervals computed by the statistics package (``compute_table``).

Columns (names matched without regard to case):

- every method: ``area_code``, ``period``; optional ``area_name`` (for new areas),
  ``sex`` (default Persons), ``age`` (default: the indicator's, else All ages),
  ``category_type``, ``category``;
- proportion, rate: ``count``, ``denominator``;
- dsr: one row per age band, ``count``, ``denominator`` (or ``population``) and
  ``age_band`` (ESP2013 weights) or ``standard_population``;
- isr: one row per age band, ``count``, ``denominator`` and the reference ``ref_count``,
  ``ref_denominator``;
- life-expectancy: one row per age band, ``age_band`` (0, 1, 5, …, 90), ``count`` (or
  ``deaths``) and ``denominator`` (or ``population``); life expectancy at birth is kept
  (at the indicator's age, e.g. "65 yrs", when it names one);
- mean: one row per individual ``value``.

The method comes from ``--method`` or the indicator's value type. Why the file is
checked here before the statistics see it: the statistics stop at the first bad cell,
while an analyst fixing a file wants every problem at once, by spreadsheet row.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes import models as m
from healthycity.outcomes.ingest.fingertips_csv import check_duplicates, read_csv_text
from healthycity.outcomes.ingest.problems import ImportResult, ProblemList
from healthycity.outcomes.ingest.store import AreaSeed, IndicatorSeed, write_observations
from healthycity.outcomes.ingest.validate import MAX_CELL_BYTES, Checker

if TYPE_CHECKING:
    import polars as pl

SOURCE = "csv"
METHOD_FOR_TYPE = {
    m.PROPORTION: "proportion",
    m.CRUDE_RATE: "rate",
    m.DSR: "dsr",
    m.ISR: "isr",
    m.LIFE_EXPECTANCY: "life-expectancy",
    m.MEAN: "mean",
}
TYPE_FOR_METHOD = {method: value_type for value_type, method in METHOD_FOR_TYPE.items()}
# Fingertips' usual multipliers, for an indicator the catalogue does not know yet.
DEFAULT_MULTIPLIER = {
    "proportion": 100.0,
    "rate": 100_000.0,
    "dsr": 100_000.0,
    "isr": 100.0,
    "life-expectancy": 1.0,
    "mean": 1.0,
}
BANDED = ("dsr", "isr", "life-expectancy")
KEY_COLUMNS = ("area_code", "period", "sex", "age", "category_type", "category")
NUMERIC = (
    "count",
    "denominator",
    "population",
    "deaths",
    "standard_population",
    "ref_count",
    "ref_denominator",
    "value",
)
_REQUIRED = {
    "proportion": ("count",),
    "rate": ("count",),
    "dsr": ("count",),
    "isr": ("count", "ref_count", "ref_denominator"),
    "life-expectancy": ("age_band",),
    "mean": ("value",),
}


def _method(method: str | None, indicator: m.Indicator | None) -> str | None:
    if method:
        return method.strip().lower().replace("_", "-")
    if indicator is not None:
        return METHOD_FOR_TYPE.get(indicator.value_type)
    return None


def _keep_age(age: str | None) -> float:
    match = re.search(r"(\d+)\s*(?:yrs|years)?\s*$", age or "")
    if match and "+" not in (age or "") and "-" not in (age or "") and "<" not in (age or ""):
        return float(match.group(1))
    return 0.0


def load_counts_file(
    session: Session,
    path: Path,
    indicator_id: str,
    *,
    method: str | None = None,
    name: str | None = None,
    multiplier: float | None = None,
    ci: str = "auto",
    illustrative: bool = False,
    max_cell_bytes: int = MAX_CELL_BYTES,
) -> ImportResult:
    """Validate a counts file, compute its statistics, and write them in this session."""
    import polars as pl

    from healthycity.outcomes.compute import METHODS, compute_table
    from healthycity.outcomes.stats.errors import StatsInputError

    label = path.name
    problems = ProblemList(label)
    raw = read_csv_text(path, label, problems)
    problems.raise_if_any()
    assert raw is not None
    frame = raw.rename({c: c.strip().lower() for c in raw.columns if c != "_row"})
    checker = Checker({}, max_cell_bytes)
    checker.cells(frame)
    indicator = session.get(m.Indicator, indicator_id)
    chosen = _method(method, indicator)
    if chosen is None or chosen not in METHODS or chosen == "sii":
        usable = ", ".join(m for m in METHODS if m != "sii")
        problems.add(
            None,
            None,
            f"say which statistic to compute with --method ({usable}); "
            f"{'the indicator is new' if indicator is None else 'the indicator has no method'}",
        )
        problems.raise_if_any()
    assert chosen is not None
    required = ("area_code", "period", *_REQUIRED[chosen])
    for column in required:
        if column not in frame.columns:
            problems.add(1, column, f"missing column (the {chosen} method needs it)")
    if chosen in ("proportion", "rate", "dsr", "isr") and not (
        "denominator" in frame.columns or "population" in frame.columns
    ):
        problems.add(1, "denominator", f"missing column (the {chosen} method needs it)")
    if chosen == "dsr" and not (
        "age_band" in frame.columns or "standard_population" in frame.columns
    ):
        problems.add(1, "age_band", "missing column (a DSR needs age_band or standard_population)")
    problems.raise_if_any()

    if "population" in frame.columns and "denominator" not in frame.columns:
        frame = frame.rename({"population": "denominator"})
    default_age = (indicator.age if indicator is not None else None) or m.ALL_AGES
    defaults = {"sex": m.ALL_PERSONS, "age": default_age, "category_type": "", "category": ""}
    frame = frame.with_columns(
        pl.col(c).fill_null(defaults[c]) if c in frame.columns else pl.lit(defaults[c]).alias(c)
        for c in defaults
    )
    for column in ("area_code", "period"):
        for row in frame.filter(pl.col(column).is_null()).get_column("_row").head(50):
            problems.add(int(row), column, "empty; every row needs it")
    for column in NUMERIC:
        if column not in frame.columns:
            continue
        parsed = pl.col(column).str.replace_all(",", "").cast(pl.Float64, strict=False)
        bad = frame.filter(pl.col(column).is_not_null() & parsed.is_null())
        for row, cell in bad.select("_row", column).head(50).iter_rows():
            problems.add(int(row), column, f"{cell!r} is not a number")
    problems.raise_if_any()
    numbers = [c for c in NUMERIC if c in frame.columns]
    frame = frame.with_columns(
        pl.col(c).str.replace_all(",", "").cast(pl.Float64, strict=False) for c in numbers
    )
    checker.observations(
        frame.select(
            "_row",
            *(c for c in numbers if c in ("count", "denominator")),
            *(pl.col(c).fill_null("") for c in KEY_COLUMNS),
        ).with_columns(pl.lit(indicator_id).alias("indicator_id"))
    )
    checker.report(problems)
    problems.raise_if_any()
    if chosen in ("proportion", "rate"):
        keyed = frame.select(
            pl.lit(label).alias("_file"),
            "_row",
            pl.lit(indicator_id).alias("indicator_id"),
            *(pl.col(c).fill_null("") for c in KEY_COLUMNS),
        )
        check_duplicates(keyed, problems, "area_code")
        problems.raise_if_any()

    factor = multiplier or (indicator.multiplier if indicator is not None else None)
    factor = factor or DEFAULT_MULTIPLIER[chosen]
    options: dict[str, Any] = {}
    if chosen == "isr":
        options["kind"] = "ratio"
    try:
        result = compute_table(
            frame.drop("_row"),
            chosen,
            confidence=(0.95, 0.998),
            multiplier=factor,
            ci=ci,
            group_by=list(KEY_COLUMNS),
            **options,
        )
    except StatsInputError as exc:
        row = None if exc.row is None else int(frame.get_column("_row")[exc.row])
        problems.add(row, exc.column, exc.reason)
        problems.raise_if_any()
        raise
    if chosen == "life-expectancy":
        keep = _keep_age(indicator.age if indicator is not None else None)
        ages = frame.get_column("age_band").to_list()
        starts = [0.0 if str(a).strip().startswith("<") else _start(str(a)) for a in ages]
        result = result.with_columns(pl.Series("_start", starts)).filter(pl.col("_start") == keep)

    counts = _first(result, "count", "total_count", "observed", "value_count")
    denominators = _first(result, "denominator", "total_pop", "expected")
    if chosen in ("life-expectancy", "mean"):
        denominators = None  # a band's population, or nothing: no single denominator
    if chosen == "life-expectancy":
        counts = None
    # Why a value is missing (a DSR from fewer than 10 events, a small population...).
    why = pl.col("note") if "note" in result.columns else pl.col("statistic")
    result = result.with_columns(
        pl.when(pl.col("value").is_null()).then(why).otherwise(None).alias("_why")
    )
    notes = "_why"
    obs = result.select(
        pl.lit(indicator_id).alias("indicator_id"),
        *(pl.col(c).cast(pl.Utf8) for c in KEY_COLUMNS),
        pl.col("value"),
        pl.col("lower95_0cl").alias("lower_ci95"),
        pl.col("upper95_0cl").alias("upper_ci95"),
        pl.col("lower99_8cl").alias("lower_ci998"),
        pl.col("upper99_8cl").alias("upper_ci998"),
        (pl.col(counts) if counts else pl.lit(None, dtype=pl.Float64)).alias("count"),
        (pl.col(denominators) if denominators else pl.lit(None, dtype=pl.Float64)).alias(
            "denominator"
        ),
        (pl.col(notes) if notes else pl.lit(None, dtype=pl.Utf8)).alias("value_note"),
    )
    periods = obs.get_column("period").unique().to_list()
    obs = obs.with_columns(
        pl.col("period")
        .replace_strict({p: fc.sortable_period(p) for p in periods}, return_dtype=pl.Int64)
        .alias("time_period_sortable")
    )
    value_type = TYPE_FOR_METHOD.get(chosen, m.OTHER)
    seed = IndicatorSeed(
        id=indicator_id,
        name=name or f"Indicator {indicator_id}",
        source=m.SOURCE_CSV,
        value_type=value_type,
        multiplier=factor,
        unit="%" if chosen == "proportion" and factor == 100 else None,
    )
    area_names = (
        frame.select("area_code", "area_name").unique(subset=["area_code"], keep="first")
        if "area_name" in frame.columns
        else frame.select("area_code", pl.col("area_code").alias("area_name")).unique()
    )
    areas = [
        AreaSeed(code=code, name=area or code, area_type=fc.area_type_for(code, None))
        for code, area in area_names.iter_rows()
        if code
    ]
    return write_observations(
        session,
        obs,
        source=SOURCE,
        location=label,
        indicators=[seed],
        areas=areas,
        illustrative=illustrative,
        note=f"computed: {chosen}, multiplier {factor:g}",
    )


def _start(label: str) -> float:
    digits = re.match(r"\s*(\d+)", label)
    return float(digits.group(1)) if digits else -1.0


def _first(frame: pl.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in frame.columns), None)


def import_counts_csv(
    engine: Engine,
    path: Path,
    indicator_id: str,
    *,
    method: str | None = None,
    name: str | None = None,
    multiplier: float | None = None,
    ci: str = "auto",
    max_cell_bytes: int = MAX_CELL_BYTES,
) -> ImportResult:
    """Import a counts file in one transaction: all written, or nothing."""
    from healthycity.outcomes.aggregate import after_import

    with transaction(engine) as session:
        result = load_counts_file(
            session,
            path,
            indicator_id,
            method=method,
            name=name,
            multiplier=multiplier,
            ci=ci,
            max_cell_bytes=max_cell_bytes,
        )
        after_import(session, result)
        return result
