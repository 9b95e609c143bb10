"""Long-format files: one row per area and period with a value, as analysts share them.

The shape fingertipsR extracts and many local dashboards use (for example Trafford
Data Lab's: ``area_code, area_name, period, value, indicator, measure, unit,
significance`` and sometimes ``group`` for sex). Column names are matched without
regard to case; only ``area_code``, ``period`` and ``value`` are required. ``NA`` and
empty cells are missing values. A ``significance`` column is kept as the published
comparison with England, and the indicator's polarity is read from it when unknown.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes import models as m
from healthycity.outcomes.ingest.fingertips_csv import (
    check_count_within_denominator,
    check_duplicates,
    fill_sortable,
    read_csv_text,
)
from healthycity.outcomes.ingest.infer import (
    infer_comparison_levels,
    infer_polarities,
    infer_value_types,
)
from healthycity.outcomes.ingest.problems import ImportResult, ProblemList
from healthycity.outcomes.ingest.store import AreaSeed, IndicatorSeed, write_observations
from healthycity.outcomes.ingest.validate import MAX_CELL_BYTES, Checker

if TYPE_CHECKING:
    import polars as pl

SOURCE = "long"
REQUIRED = ("area_code", "period", "value")
# "NaN" is not a missing marker: a non-finite number is refused (ingest/validate.py).
MISSING = ("", "NA", "N/A", "..", "-")
_SEXES = {
    "persons": "Persons",
    "male": "Male",
    "males": "Male",
    "female": "Female",
    "females": "Female",
}
# Optional numeric columns and the observation field each fills.
_NUMBERS = {
    "lower_ci95": ("lower_ci95", "lowercl", "lower95_0cl", "lower_ci"),
    "upper_ci95": ("upper_ci95", "uppercl", "upper95_0cl", "upper_ci"),
    "lower_ci998": ("lower_ci998", "lower99_8cl"),
    "upper_ci998": ("upper_ci998", "upper99_8cl"),
    "count": ("count", "numerator"),
    "denominator": ("denominator",),
}


def load_long_file(
    session: Session,
    path: Path,
    indicator_id: str,
    *,
    name: str | None = None,
    illustrative: bool = False,
    max_cell_bytes: int = MAX_CELL_BYTES,
    source: str = SOURCE,
) -> ImportResult:
    """Validate a long-format file and write it, as ``indicator_id``, in this session
    (``source`` names the release: "long", or "published" for the shipped snapshot)."""
    import polars as pl

    label = path.name
    problems = ProblemList(label)
    raw = read_csv_text(path, label, problems)
    problems.raise_if_any()
    assert raw is not None
    checker = Checker({}, max_cell_bytes)
    checker.cells(raw)
    columns = {c.lower().strip(): c for c in raw.columns if c != "_row"}
    for column in REQUIRED:
        if column not in columns:
            problems.add(1, column, "missing column (area_code, period and value are required)")
    problems.raise_if_any()

    def col(name: str) -> pl.Expr:
        return pl.col(columns[name]) if name in columns else pl.lit(None, dtype=pl.Utf8)

    frame = raw.with_columns(
        pl.when(pl.col(c).is_in(MISSING)).then(None).otherwise(pl.col(c)).alias(c)
        for c in raw.columns
        if c != "_row"
    )
    for column in ("area_code", "period"):
        for row in frame.filter(col(column).is_null()).get_column("_row").head(50):
            problems.add(int(row), columns[column], "empty; every row needs it")

    numbers: dict[str, pl.Expr] = {}
    labels: dict[str, str] = {k: columns[k] for k in ("area_code", "period") if k in columns}
    for target, names in {"value": ("value",), **_NUMBERS}.items():
        found = next((n for n in names if n in columns), None)
        if found is None:
            numbers[target] = pl.lit(None, dtype=pl.Float64)
            continue
        labels[target] = columns[found]
        parsed = col(found).cast(pl.Float64, strict=False)
        bad = frame.filter(col(found).is_not_null() & parsed.is_null())
        for row, cell in bad.select("_row", columns[found]).head(50).iter_rows():
            problems.add(int(row), columns[found], f"{cell!r} is not a number")
        numbers[target] = parsed

    sex_source = next((c for c in ("sex", "group") if c in columns), None)
    if sex_source is not None:
        sex = (
            col(sex_source)
            .str.to_lowercase()
            .replace_strict(_SEXES, default=col(sex_source), return_dtype=pl.Utf8)
        )
    elif "unit" in columns:
        sex = (
            col("unit")
            .str.to_lowercase()
            .replace_strict(_SEXES, default=None, return_dtype=pl.Utf8)
            .fill_null(m.ALL_PERSONS)
        )
    else:
        sex = pl.lit(m.ALL_PERSONS)

    existing = session.get(m.Indicator, indicator_id)
    default_age = (existing.age if existing is not None else None) or m.ALL_AGES
    obs = frame.select(
        pl.lit(label).alias("_file"),
        "_row",
        pl.lit(indicator_id).alias("indicator_id"),
        col("area_code").fill_null("").alias("area_code"),
        col("period").fill_null("").alias("period"),
        sex.fill_null(m.ALL_PERSONS).alias("sex"),
        col("age").fill_null(default_age).alias("age"),
        col("category_type").fill_null("").alias("category_type"),
        col("category").fill_null("").alias("category"),
        pl.lit(None, dtype=pl.Int64).alias("time_period_sortable"),
        *(expr.alias(name) for name, expr in numbers.items()),
        col("value_note").alias("value_note"),
        col("significance").alias("compared_to_england"),
    )
    obs = fill_sortable(obs)

    measure = _first(frame, columns, "measure")
    unit = _first(frame, columns, "unit")
    if unit and unit.lower() in _SEXES:
        unit = None
    value_type = fc.value_type_from_label(measure)
    inferred_type, inferred_multiplier = infer_value_types(obs).get(indicator_id, (None, None))
    if value_type == m.OTHER and inferred_type:
        value_type = inferred_type
    known_type = existing.value_type if existing is not None else None
    check_count_within_denominator(
        obs,
        {indicator_id: known_type if known_type not in (None, m.OTHER) else value_type},
        problems,
    )
    check_duplicates(obs, problems, columns["period"])
    checker.labels = labels | {"sex": columns.get(sex_source or "", "sex")}
    checker.observations(obs)
    checker.report(
        problems,
        {indicator_id: known_type if known_type not in (None, m.OTHER) else value_type},
        {indicator_id: (existing.multiplier if existing is not None else None) or 100.0},
    )
    problems.raise_if_any()

    if measure and measure.lower() in ("percentage", "proportion", "percent"):
        unit = "%"
    elif measure and "per " in measure.lower():
        unit = measure[measure.lower().index("per ") :]
    seed = IndicatorSeed(
        id=indicator_id,
        name=name or _first(frame, columns, "indicator") or f"Indicator {indicator_id}",
        source=m.SOURCE_CSV,
        value_type=value_type,
        polarity=infer_polarities(obs).get(indicator_id),
        comparison_level=infer_comparison_levels(obs).get(indicator_id),
        unit=unit,
        multiplier=fc.multiplier_from_unit(unit, value_type) or inferred_multiplier,
    )
    areas = [
        AreaSeed(code=code, name=area_name or code, area_type=fc.area_type_for(code, None))
        for code, area_name in frame.select(col("area_code"), col("area_name"))
        .unique(maintain_order=True)
        .iter_rows()
        if code
    ]
    return write_observations(
        session,
        obs,
        source=source,
        location=label,
        indicators=[seed],
        areas=areas,
        illustrative=illustrative,
    )


def _first(frame: pl.DataFrame, columns: dict[str, str], name: str) -> str | None:
    if name not in columns:
        return None
    values = frame.get_column(columns[name]).drop_nulls()
    return str(values[0]) if values.len() else None


def import_long_file(
    engine: Engine,
    path: Path,
    indicator_id: str,
    *,
    name: str | None = None,
    illustrative: bool = False,
    max_cell_bytes: int = MAX_CELL_BYTES,
) -> ImportResult:
    """Import one long-format file in one transaction: all written, or nothing."""
    from healthycity.outcomes.aggregate import after_import

    with transaction(engine) as session:
        result = load_long_file(
            session,
            path,
            indicator_id,
            name=name,
            illustrative=illustrative,
            max_cell_bytes=max_cell_bytes,
        )
        after_import(session, result)
        return result
