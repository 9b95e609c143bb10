"""Fingertips CSV: the download and the API's ``all_data/csv`` format.

Read with Polars, every cell as text first, so that a bad cell is reported with its row
and column instead of silently becoming empty. Quoted fields with line breaks are one
row, as in a spreadsheet. Indicators and areas the catalogue lacks are created from
the file (areas with their type and their parent from "Parent Code").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes import models as m
from healthycity.outcomes.ingest.infer import (
    infer_comparison_levels,
    infer_polarities,
    infer_value_types,
    value_type_from_name,
)
from healthycity.outcomes.ingest.problems import ImportResult, ProblemList
from healthycity.outcomes.ingest.store import (
    KEY,
    AreaSeed,
    IndicatorSeed,
    write_observations,
)

if TYPE_CHECKING:
    import polars as pl

SOURCE = "fingertips"
_KEY_LABEL = "indicator, area, period, sex, age and category"


@dataclass
class ParsedFile:
    """A validated file: observation frame (with ``_file`` and ``_row``), seeds."""

    frame: pl.DataFrame
    indicators: list[IndicatorSeed]
    areas: list[AreaSeed]


def read_csv_text(source: Path | bytes, label: str, problems: ProblemList) -> pl.DataFrame | None:
    """Read any CSV with every cell as text, stripped, empty cells as null, plus ``_row``.

    ``_row`` is the row as a person counts it (the header is row 1). A file on disk is
    scanned lazily with Polars' streaming engine, so the raw text of a large file is
    never held beside its cleaned copy. A file Polars cannot parse is one problem.
    """
    import polars as pl

    try:
        if isinstance(source, Path):
            lazy = pl.scan_csv(source, infer_schema=False, raise_if_empty=False)
        else:
            lazy = pl.read_csv(source, infer_schema=False, raise_if_empty=False).lazy()
        names = lazy.collect_schema().names()
        cleaned = [
            pl.when(pl.col(c).str.strip_chars() == "")
            .then(None)
            .otherwise(pl.col(c).str.strip_chars())
            .alias(c.strip().lstrip("\ufeff"))
            for c in names
        ]
        return (
            lazy.with_row_index("_row", offset=2)
            .select(pl.col("_row").cast(pl.Int64), *cleaned)
            .collect(engine="streaming")
        )
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        problems.add(None, None, f"not a readable CSV file: {reason}")
        return None


def parse_fingertips(
    source: Path | bytes,
    label: str,
    problems: ProblemList,
    value_types: Mapping[str, str],
) -> ParsedFile | None:
    """Validate one file and turn it into an observation frame; problems are collected."""
    import polars as pl

    raw = read_csv_text(source, label, problems)
    if raw is None:
        return None
    missing = [c for c in fc.REQUIRED if c not in raw.columns]
    for column in missing:
        problems.add(1, column, "missing column (Fingertips CSV format expected)")
    if missing:
        return None

    parent_comparisons = [c for c in raw.columns if fc.is_parent_comparison(c)]
    frame = raw.with_columns(pl.lit(label).alias("_file"))
    del raw

    for column in (fc.INDICATOR_ID, fc.AREA_CODE, fc.TIME_PERIOD):
        for row in frame.filter(pl.col(column).is_null()).get_column("_row").head(50):
            problems.add(int(row), column, "empty; every row needs it")

    numbers = {}
    for column, target in fc.NUMERIC.items():
        if column not in frame.columns:
            numbers[target] = pl.lit(None, dtype=pl.Float64)
            continue
        parsed = pl.col(column).cast(pl.Float64, strict=False)
        bad = frame.filter(pl.col(column).is_not_null() & parsed.is_null())
        for row, cell in bad.select("_row", column).head(50).iter_rows():
            problems.add(int(row), column, f"{cell!r} is not a number")
        if bad.height > 50:
            problems.add(None, column, f"{bad.height - 50} more cells are not numbers")
        numbers[target] = parsed

    if fc.TIME_PERIOD_SORTABLE in frame.columns:
        sortable = pl.col(fc.TIME_PERIOD_SORTABLE).cast(pl.Int64, strict=False)
        bad = frame.filter(pl.col(fc.TIME_PERIOD_SORTABLE).is_not_null() & sortable.is_null())
        for row, cell in bad.select("_row", fc.TIME_PERIOD_SORTABLE).head(50).iter_rows():
            problems.add(int(row), fc.TIME_PERIOD_SORTABLE, f"{cell!r} is not a whole number")
    else:
        sortable = pl.lit(None, dtype=pl.Int64)

    def optional(column: str) -> pl.Expr:
        return pl.col(column) if column in frame.columns else pl.lit(None, dtype=pl.Utf8)

    region = (
        pl.coalesce([pl.col(c) for c in parent_comparisons])
        if parent_comparisons
        else pl.lit(None, dtype=pl.Utf8)
    )
    obs = frame.select(
        "_file",
        "_row",
        pl.col(fc.INDICATOR_ID).fill_null("").alias("indicator_id"),
        pl.col(fc.AREA_CODE).fill_null("").alias("area_code"),
        pl.col(fc.TIME_PERIOD).fill_null("").alias("period"),
        pl.col(fc.SEX).fill_null("").alias("sex"),
        pl.col(fc.AGE).fill_null("").alias("age"),
        optional(fc.CATEGORY_TYPE).fill_null("").alias("category_type"),
        optional(fc.CATEGORY).fill_null("").alias("category"),
        sortable.alias("time_period_sortable"),
        *(expr.alias(name) for name, expr in numbers.items()),
        optional(fc.VALUE_NOTE).alias("value_note"),
        optional(fc.RECENT_TREND).alias("recent_trend"),
        optional(fc.COMPARED_TO_ENGLAND).alias("compared_to_england"),
        region.alias("compared_to_region"),
        optional(fc.COMPARED_TO_GOAL).alias("compared_to_goal"),
        optional(fc.PARENT_CODE).alias("_parent"),
    )
    obs = fill_sortable(obs)

    names = frame.select(fc.INDICATOR_ID, fc.INDICATOR_NAME).filter(
        pl.col(fc.INDICATOR_ID).is_first_distinct() & pl.col(fc.INDICATOR_ID).is_not_null()
    )
    inferred = infer_value_types(obs)
    polarities = infer_polarities(obs)
    levels = infer_comparison_levels(obs)
    indicators: list[IndicatorSeed] = []
    for indicator_id, name in names.iter_rows():
        value_type, multiplier = inferred.get(indicator_id, (None, None))
        known = value_types.get(indicator_id)
        if known == m.OTHER:
            known = None
        # The catalogue knows best; a name saying "%" beats a guess from the numbers,
        # which cannot tell a percentage from a rate per 100.
        value_type = known or value_type_from_name(name or "") or value_type
        indicators.append(
            IndicatorSeed(
                id=indicator_id,
                name=name or f"Fingertips indicator {indicator_id}",
                source=m.SOURCE_FINGERTIPS,
                value_type=value_type,
                multiplier=multiplier,
                polarity=polarities.get(indicator_id),
                comparison_level=levels.get(indicator_id),
                unit="%" if value_type == m.PROPORTION and multiplier == 100 else None,
                fingertips_id=indicator_id if indicator_id.isdigit() else None,
            )
        )
    check_count_within_denominator(obs, {i.id: i.value_type or "" for i in indicators}, problems)
    areas = area_seeds(frame)
    return ParsedFile(obs, indicators, areas)


def fill_sortable(obs: pl.DataFrame) -> pl.DataFrame:
    """Fill a missing "Time period Sortable" from the period label."""
    import polars as pl

    missing = obs.filter(pl.col("time_period_sortable").is_null()).get_column("period").unique()
    if missing.len() == 0:
        return obs
    mapping = {p: fc.sortable_period(p) for p in missing.to_list()}
    return obs.with_columns(
        pl.col("time_period_sortable").fill_null(
            pl.col("period").replace_strict(mapping, default=0, return_dtype=pl.Int64)
        )
    )


def check_count_within_denominator(
    obs: pl.DataFrame, value_types: Mapping[str, str], problems: ProblemList
) -> None:
    """A proportion's count can never exceed its denominator (a rate's can)."""
    import polars as pl

    proportions = [i for i, t in value_types.items() if t == m.PROPORTION]
    if not proportions:
        return
    bad = obs.filter(
        pl.col("indicator_id").is_in(proportions) & (pl.col("count") > pl.col("denominator"))
    )
    for row, count, denominator in bad.select("_row", "count", "denominator").head(50).iter_rows():
        problems.add(
            int(row),
            fc.COUNT,
            f"count {count:g} is above the denominator {denominator:g}, "
            "impossible for a proportion",
        )
    if bad.height > 50:
        problems.add(None, fc.COUNT, f"{bad.height - 50} more rows have count above denominator")


def check_duplicates(obs: pl.DataFrame, problems: ProblemList, column: str) -> None:
    """Refuse a key that occurs twice, naming both rows (and files when they differ)."""
    import polars as pl

    dupes = (
        obs.select("_file", "_row", *KEY)
        .with_columns(pl.struct(list(KEY)).alias("_key"))
        .filter(pl.col("_key").is_duplicated())
    )
    if dupes.height == 0:
        return
    first: dict[object, tuple[str, int]] = {}
    reported = 0
    for file, row, key in dupes.select("_file", "_row", "_key").iter_rows():
        marker = tuple(key.values()) if isinstance(key, dict) else key
        if marker not in first:
            first[marker] = (file, row)
            continue
        where_file, where_row = first[marker]
        where = f"row {where_row}" if where_file == file else f"{where_file} row {where_row}"
        sub = ProblemList(file)
        sub.add(int(row), column, f"duplicate: same {_KEY_LABEL} as {where}")
        problems.extend(sub)
        reported += 1


def area_seeds(frame: pl.DataFrame) -> list[AreaSeed]:
    import polars as pl

    columns = [fc.AREA_CODE, fc.AREA_NAME, fc.AREA_TYPE]
    parent = [c for c in (fc.PARENT_CODE, fc.PARENT_NAME) if c in frame.columns]
    unique = (
        frame.select(*columns, *parent)
        .filter(pl.col(fc.AREA_CODE).is_not_null())
        .unique(subset=[fc.AREA_CODE], keep="first", maintain_order=True)
    )
    seeds = []
    for row in unique.iter_rows(named=True):
        code = row[fc.AREA_CODE]
        seeds.append(
            AreaSeed(
                code=code,
                name=row[fc.AREA_NAME] or code,
                area_type=fc.area_type_for(code, row[fc.AREA_TYPE]),
                parent_code=row.get(fc.PARENT_CODE),
                parent_name=row.get(fc.PARENT_NAME),
            )
        )
    return seeds


def catalogue_value_types(session: Session) -> dict[str, str]:
    return {i: t for i, t in session.execute(select(m.Indicator.id, m.Indicator.value_type)).all()}


def read_files(
    session: Session, sources: Sequence[tuple[Path | bytes, str]]
) -> tuple[pl.DataFrame, list[IndicatorSeed], list[AreaSeed], ProblemList]:
    """Parse and validate every file; problems across all files, duplicates across files."""
    import polars as pl

    problems = ProblemList(sources[0][1] if sources else "")
    value_types = catalogue_value_types(session)
    frames: list[pl.DataFrame] = []
    indicators: dict[str, IndicatorSeed] = {}
    areas: list[AreaSeed] = []
    for source, label in sources:
        file_problems = ProblemList(label)
        parsed = parse_fingertips(source, label, file_problems, value_types)
        problems.extend(file_problems)
        if parsed is None:
            continue
        frames.append(parsed.frame)
        for seed in parsed.indicators:
            indicators.setdefault(seed.id, seed)
        areas.extend(parsed.areas)
    frame = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    if frames:
        dup_problems = ProblemList("")
        check_duplicates(frame, dup_problems, fc.AREA_CODE)
        problems.extend(dup_problems)
    return frame, list(indicators.values()), areas, problems


def load_fingertips_files(
    session: Session,
    sources: Sequence[tuple[Path | bytes, str]],
    *,
    location: str | None = None,
    illustrative: bool = False,
    extra_indicators: Sequence[IndicatorSeed] = (),
    update_metadata: bool = False,
    keep: pl.Expr | None = None,
) -> ImportResult:
    """Validate and write Fingertips CSVs in the caller's transaction."""
    frame, indicators, areas, problems = read_files(session, sources)
    problems.raise_if_any()
    if keep is not None:
        frame = frame.filter(keep)
        codes = set(frame.get_column("area_code").unique().to_list())
        areas = [a for a in areas if a.code in codes]
    by_id = {seed.id: seed for seed in indicators}
    for seed in extra_indicators:
        base = by_id.get(seed.id)
        if base is not None:
            merged = base.fields() | seed.fields()
            seed = IndicatorSeed(
                id=seed.id,
                name=merged.pop("name", base.name),
                source=seed.source,
                value_type=merged.pop("value_type", None),
                polarity=merged.pop("polarity", None),
                unit=merged.pop("unit", None),
                multiplier=merged.pop("multiplier", None),
                fingertips_id=merged.pop("fingertips_id", None),
                comparison_level=merged.pop("comparison_level", None),
                metadata=merged,
            )
        by_id[seed.id] = seed
    return write_observations(
        session,
        frame,
        source=SOURCE,
        location=location or ", ".join(label for _, label in sources),
        indicators=list(by_id.values()),
        areas=areas,
        illustrative=illustrative,
        update_metadata=update_metadata,
    )


def import_fingertips_csv(
    engine: Engine, paths: Sequence[Path], *, illustrative: bool = False
) -> ImportResult:
    """Import Fingertips CSV files in one transaction: all written, or nothing."""
    with transaction(engine) as session:
        return load_fingertips_files(
            session, [(Path(p), Path(p).name) for p in paths], illustrative=illustrative
        )
