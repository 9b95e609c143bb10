"""Fingertips CSV: the download and the API's ``all_data/csv`` format.

Read with Polars, every cell as text first, so that a bad cell is reported with its row
and column instead of silently becoming empty. Quoted fields with line breaks are one
row, as in a spreadsheet. Indicators and areas the catalogue lacks are created from
the file (areas with their type and their parent from "Parent Code").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.geography.service import ENGLAND
from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes import models as m
from healthycity.outcomes.ingest.infer import (
    infer_comparison_levels,
    infer_polarities,
    value_ratios,
    value_type_from_name,
    value_types_from_ratios,
)
from healthycity.outcomes.ingest.problems import ImportResult, ProblemList
from healthycity.outcomes.ingest.store import (
    KEY,
    AreaSeed,
    IndicatorSeed,
    write_observation_batches,
)
from healthycity.outcomes.ingest.validate import MAX_CELL_BYTES, Checker

if TYPE_CHECKING:
    import polars as pl

SOURCE = "fingertips"
_KEY_LABEL = "indicator, area, period, sex, age and category"


# Bytes of CSV per chunk while streaming a file (about 16,000 Fingertips rows): big
# enough that Polars' per-chunk overhead and the writer's per-statement cost vanish,
# small enough that a chunk's text, its observations and the writer's row tuples stay
# in the tens of megabytes.
CHUNK_BYTES = 4 * 1024 * 1024
# Cells listed per kind of problem; the rest are counted.
_SHOWN = 50
_HASH_SEED = 20150730
# Columns the writing pass never reads (the first pass took names and areas from them).
_NOT_OBSERVED = frozenset({fc.INDICATOR_NAME, fc.AREA_NAME, fc.AREA_TYPE, fc.PARENT_NAME})
# Observation field → the Fingertips column a problem names.
_LABELS = {v: k for k, v in fc.NUMERIC.items()} | {
    "indicator_id": fc.INDICATOR_ID,
    "area_code": fc.AREA_CODE,
    "period": fc.TIME_PERIOD,
    "sex": fc.SEX,
    "age": fc.AGE,
    "category_type": fc.CATEGORY_TYPE,
    "category": fc.CATEGORY,
}


@dataclass
class FileScan:
    """What validating one file keeps: seeds, key hashes and what the writer needs."""

    label: str
    columns: list[str]
    index: int = 0
    rows: int = 0
    indicators: list[IndicatorSeed] = field(default_factory=list)
    areas: list[AreaSeed] = field(default_factory=list)
    indicator_ids: set[str] = field(default_factory=set)
    area_codes: set[str] = field(default_factory=set)
    keys: list[pl.DataFrame] = field(default_factory=list)


def read_csv_text(source: Path | bytes, label: str, problems: ProblemList) -> pl.DataFrame | None:
    """Read any CSV with every cell as text, stripped, empty cells as null, plus ``_row``.

    ``_row`` is the row as a person counts it (the header is row 1). A file on disk is
    scanned lazily with Polars' streaming engine, so the raw text of a large file is
    never held beside its cleaned copy. A file Polars cannot parse is one problem.
    """
    try:
        return _cleaned_lazy(source).collect(engine="streaming")
    except _read_errors() as exc:
        _unreadable(problems, exc)
        return None


def _cleaned_lazy(source: Path | bytes) -> pl.LazyFrame:
    """The lazy query behind ``read_csv_text``: text cells stripped, empty as null."""
    import polars as pl

    if isinstance(source, Path):
        lazy = pl.scan_csv(source, infer_schema=False, raise_if_empty=False)
    else:
        lazy = pl.read_csv(source, infer_schema=False, raise_if_empty=False).lazy()
    names = lazy.collect_schema().names()
    return lazy.with_row_index("_row", offset=2).select(
        pl.col("_row").cast(pl.Int64), *(_cleaned(c) for c in names)
    )


def _cleaned(name: str) -> pl.Expr:
    import polars as pl

    stripped = pl.col(name).str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped).alias(_clean_name(name))


def text_chunks(
    source: Path | bytes, chunk_bytes: int = CHUNK_BYTES, only: set[str] | None = None
) -> tuple[list[str], Iterator[pl.DataFrame]]:
    """A CSV's cleaned column names, and its rows as ``read_csv_text`` frames, by chunk.

    The file is cut into whole records of about ``chunk_bytes`` (a line break inside
    quotes is not a record's end: an even number of quotes precedes a real one), and
    each piece is parsed with the header in front. Reading pulls one piece at a time,
    so memory follows the chunk, not the file; Polars' own batched scan reads ahead
    without limit and would hold the whole file when the writer is the slower side.
    ``only`` keeps just those (cleaned) columns. ``_row`` counts on across chunks.
    """
    import io

    import polars as pl

    handle = source.open("rb") if isinstance(source, Path) else io.BytesIO(source)
    try:
        pieces = _record_pieces(handle, chunk_bytes)
        header = next(pieces, b"")
        raw_names = pl.read_csv(header, infer_schema=False, raise_if_empty=False).columns
    except BaseException:
        handle.close()
        raise
    names = [_clean_name(c) for c in raw_names]
    kept = [raw for raw, name in zip(raw_names, names, strict=True) if only is None or name in only]

    def frames() -> Iterator[pl.DataFrame]:
        offset = 2
        with handle:
            for piece in pieces:
                frame = pl.read_csv(
                    header + piece,
                    infer_schema=False,
                    raise_if_empty=False,
                    columns=kept if only is not None else None,
                )
                yield _clean(frame.with_row_index("_row", offset=offset), frame.columns)
                offset += frame.height

    return names, frames()


def _record_pieces(handle: BinaryIO, chunk_bytes: int) -> Iterator[bytes]:
    """The header record, then runs of whole records of about ``chunk_bytes`` each."""
    import numpy as np

    pending = b""
    header_done = False
    while True:
        block = handle.read(chunk_bytes)
        data = pending + block
        if not block:
            if data.strip() or not header_done:
                yield data
            return
        view = np.frombuffer(data, dtype=np.uint8)
        quotes = np.flatnonzero(view == ord('"'))
        breaks = np.flatnonzero(view == ord("\n"))
        outside = breaks[np.searchsorted(quotes, breaks) % 2 == 0]
        if outside.size == 0:
            pending = data
            continue
        if not header_done:
            first = int(outside[0]) + 1
            yield data[:first]
            header_done = True
            data = data[first:]
            outside = outside[1:] - first
            if outside.size == 0:
                pending = data
                continue
        cut = int(outside[-1]) + 1
        yield data[:cut]
        pending = data[cut:]


def _clean_name(name: str) -> str:
    return name.strip().lstrip("\ufeff")


def _clean(frame: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame:
    """Strip every text cell, empty as null, names cleaned; ``_row`` as Int64 first."""
    import polars as pl

    return frame.select(pl.col("_row").cast(pl.Int64), *(_cleaned(c) for c in names))


def _read_errors() -> tuple[type[BaseException], ...]:
    import polars as pl

    return (pl.exceptions.PolarsError, OSError, UnicodeDecodeError)


def _unreadable(problems: ProblemList, exc: BaseException) -> None:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    problems.add(None, None, f"not a readable CSV file: {reason}")


def parse_fingertips(
    source: Path | bytes,
    label: str,
    problems: ProblemList,
    value_types: Mapping[str, str],
    *,
    keep: pl.Expr | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    max_cell_bytes: int = MAX_CELL_BYTES,
) -> FileScan | None:
    """Validate one file chunk by chunk; problems are collected, observations dropped.

    Only what the whole file must be seen for is kept between chunks: the first
    problems of each kind, the indicators' names and the areas, the rows that can tell
    an indicator's value type, polarity and comparison level, and a 64-bit hash of each
    row's key for the duplicate check. The observations themselves are read again when
    written (``observation_batches``), so memory stays flat however long the file.
    """
    import polars as pl

    try:
        columns, chunks = text_chunks(source, chunk_bytes)
    except _read_errors() as exc:
        _unreadable(problems, exc)
        return None
    missing = [c for c in fc.REQUIRED if c not in columns]
    for column in missing:
        problems.add(1, column, "missing column (Fingertips CSV format expected)")
    if missing:
        return None

    scan = FileScan(label, columns)
    empty: dict[str, list[int]] = {c: [] for c in (fc.INDICATOR_ID, fc.AREA_CODE, fc.TIME_PERIOD)}
    not_number: dict[str, list[tuple[int, str]]] = {c: [] for c in fc.NUMERIC if c in columns}
    not_number_total = dict.fromkeys(not_number, 0)
    not_whole: list[tuple[int, str]] = []
    over: dict[str, list[tuple[int, float, float]]] = {}
    over_total: dict[str, int] = {}
    names: dict[str, str | None] = {}
    areas: dict[str, AreaSeed] = {}
    evidence: list[Evidence] = []
    checker = Checker(_LABELS, max_cell_bytes)
    try:
        for frame in chunks:
            checker.cells(frame)
            for column, rows in empty.items():
                if len(rows) < _SHOWN:
                    found = frame.filter(pl.col(column).is_null()).get_column("_row")
                    rows.extend(int(r) for r in found.head(_SHOWN - len(rows)))
            for column, cells in not_number.items():
                bad = frame.filter(
                    pl.col(column).is_not_null()
                    & pl.col(column).cast(pl.Float64, strict=False).is_null()
                )
                not_number_total[column] += bad.height
                head = bad.select("_row", column).head(max(_SHOWN - len(cells), 0))
                cells.extend((int(r), str(c)) for r, c in head.iter_rows())
            if fc.TIME_PERIOD_SORTABLE in columns and len(not_whole) < _SHOWN:
                whole = pl.col(fc.TIME_PERIOD_SORTABLE)
                bad = frame.filter(
                    whole.is_not_null() & whole.cast(pl.Int64, strict=False).is_null()
                )
                head = bad.select("_row", fc.TIME_PERIOD_SORTABLE).head(_SHOWN - len(not_whole))
                not_whole.extend((int(r), str(c)) for r, c in head.iter_rows())

            obs = observations(frame, label, columns)
            checker.observations(obs)
            above = (
                obs.filter((pl.col("count") > pl.col("denominator")) & (pl.col("denominator") >= 0))
                .group_by("indicator_id", maintain_order=True)
                .agg(pl.len(), pl.col("_row", "count", "denominator").head(_SHOWN))
            )
            for indicator_id, total, rows, counts, denominators in above.iter_rows():
                listed = over.setdefault(indicator_id, [])
                listed.extend(
                    list(zip(rows, counts, denominators, strict=True))[: _SHOWN - len(listed)]
                )
                over_total[indicator_id] = over_total.get(indicator_id, 0) + total
            for indicator_id, name in (
                frame.select(fc.INDICATOR_ID, fc.INDICATOR_NAME)
                .filter(
                    pl.col(fc.INDICATOR_ID).is_first_distinct()
                    & pl.col(fc.INDICATOR_ID).is_not_null()
                )
                .iter_rows()
            ):
                names.setdefault(indicator_id, name)
            for seed in area_seeds(frame, areas):
                areas[seed.code] = seed
            evidence.append(inference_evidence(obs))
            scan.keys.append(
                obs.select("_row", pl.struct(list(KEY)).hash(_HASH_SEED).alias("_hash"))
            )
            kept = obs if keep is None else obs.filter(keep)
            scan.rows += kept.height
            scan.indicator_ids.update(kept.get_column("indicator_id").unique().to_list())
            scan.area_codes.update(kept.get_column("area_code").unique().to_list())
    except _read_errors() as exc:
        _unreadable(problems, exc)
        return None

    for column, rows in empty.items():
        for row in rows:
            problems.add(row, column, "empty; every row needs it")
    for column, cells in not_number.items():
        for row, cell in cells:
            problems.add(row, column, f"{cell!r} is not a number")
        if not_number_total[column] > _SHOWN:
            problems.add(
                None, column, f"{not_number_total[column] - _SHOWN} more cells are not numbers"
            )
    for row, cell in not_whole:
        problems.add(row, fc.TIME_PERIOD_SORTABLE, f"{cell!r} is not a whole number")

    if checker.data_rows == 0:
        checker.report(problems)
        return None
    scan.indicators = indicator_seeds(names, evidence, value_types)
    checker.report(
        problems,
        {i.id: i.value_type or "" for i in scan.indicators},
        {i.id: i.multiplier for i in scan.indicators},
    )
    proportions = [i.id for i in scan.indicators if i.value_type == m.PROPORTION]
    above_rows = sorted(r for i in proportions for r in over.get(i, []))
    for row, count, denominator in above_rows[:_SHOWN]:
        problems.add(
            int(row),
            fc.COUNT,
            f"count {count:g} is above the denominator {denominator:g}, "
            "impossible for a proportion",
        )
    above_total = sum(over_total.get(i, 0) for i in proportions)
    if above_total > _SHOWN:
        problems.add(
            None, fc.COUNT, f"{above_total - _SHOWN} more rows have count above denominator"
        )
    scan.areas = list(areas.values())
    return scan


def observations(frame: pl.DataFrame, label: str, columns: Sequence[str]) -> pl.DataFrame:
    """One chunk of cleaned text cells → observation rows (with ``_file``, ``_row``)."""
    import polars as pl

    def optional(column: str) -> pl.Expr:
        return pl.col(column) if column in columns else pl.lit(None, dtype=pl.Utf8)

    numbers = {
        target: pl.col(column).cast(pl.Float64, strict=False)
        if column in columns
        else pl.lit(None, dtype=pl.Float64)
        for column, target in fc.NUMERIC.items()
    }
    sortable = (
        pl.col(fc.TIME_PERIOD_SORTABLE).cast(pl.Int64, strict=False)
        if fc.TIME_PERIOD_SORTABLE in columns
        else pl.lit(None, dtype=pl.Int64)
    )
    parent_comparisons = [c for c in columns if fc.is_parent_comparison(c)]
    region = (
        pl.coalesce([pl.col(c) for c in parent_comparisons])
        if parent_comparisons
        else pl.lit(None, dtype=pl.Utf8)
    )
    obs = frame.select(
        pl.lit(label).alias("_file"),
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
    return fill_sortable(obs)


def inference_evidence(obs: pl.DataFrame) -> Evidence:
    """The few rows and columns of a chunk that ``infer`` reads.

    Value ratios of rows with value, count and denominator (value type, the
    indicator as a categorical: four bytes a row); rows with a published
    judgement against England (polarity, comparison level); England's own rows (the
    benchmark). Each kind keeps only its own columns, so the three together give
    exactly what the whole file would, at a fraction of its size.
    """
    import polars as pl

    said = pl.col("compared_to_england").str.to_lowercase()
    counted = value_ratios(obs).with_columns(pl.col("indicator_id").cast(pl.Categorical))
    judged = obs.filter(
        said.str.starts_with("better")
        | said.str.starts_with("worse")
        | said.str.starts_with("similar")
        | said.str.starts_with("higher")
        | said.str.starts_with("lower")
    ).select(
        "indicator_id",
        "period",
        "sex",
        "age",
        "value",
        "lower_ci95",
        "upper_ci95",
        "lower_ci998",
        "upper_ci998",
        "compared_to_england",
    )
    england = obs.filter(
        (pl.col("area_code") == ENGLAND)
        & (pl.col("category_type") == "")
        & pl.col("value").is_not_null()
    ).select("indicator_id", "area_code", "period", "sex", "age", "category_type", "value")
    return Evidence(counted, _own_text(judged), _own_text(england))


def _own_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Text sliced from a chunk points into the chunk's whole text buffers, which would
    keep every chunk alive until the file ends; a round trip through a categorical
    gives each kept cell storage of its own."""
    import polars as pl

    return frame.with_columns(
        pl.col(c).cast(pl.Categorical).cast(pl.Utf8)
        for c, dtype in frame.schema.items()
        if dtype == pl.Utf8
    )


@dataclass
class Evidence:
    """What ``inference_evidence`` keeps of a chunk, by the inference that reads it."""

    counted: pl.DataFrame
    judged: pl.DataFrame
    england: pl.DataFrame


def indicator_seeds(
    names: Mapping[str, str | None], evidence: Sequence[Evidence], value_types: Mapping[str, str]
) -> list[IndicatorSeed]:
    """Seeds for a file's indicators: catalogue type first, then the name, then numbers."""
    import polars as pl

    inferred = value_types_from_ratios(
        pl.concat([part.counted for part in evidence], how="vertical")
    )
    judgements = pl.concat(
        [pl.concat([part.judged for part in evidence], how="vertical")]
        + [pl.concat([part.england for part in evidence], how="vertical")],
        how="diagonal",
    )
    polarities = infer_polarities(judgements)
    levels = infer_comparison_levels(judgements)
    indicators: list[IndicatorSeed] = []
    for indicator_id, name in names.items():
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
    return indicators


def area_seeds(frame: pl.DataFrame, known: Mapping[str, AreaSeed]) -> list[AreaSeed]:
    """The chunk's areas not already seen, each from its first row."""
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
        if code in known:
            continue
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


def catalogue_value_types(session: Session) -> dict[str, str]:
    return {i: t for i, t in session.execute(select(m.Indicator.id, m.Indicator.value_type)).all()}


def read_files(
    session: Session,
    sources: Sequence[tuple[Path | bytes, str]],
    *,
    keep: pl.Expr | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    max_cell_bytes: int = MAX_CELL_BYTES,
) -> tuple[list[FileScan], list[IndicatorSeed], list[AreaSeed], ProblemList]:
    """Validate every file; problems across all files, duplicates across files."""
    import polars as pl

    problems = ProblemList(sources[0][1] if sources else "")
    value_types = catalogue_value_types(session)
    scans: list[FileScan] = []
    indicators: dict[str, IndicatorSeed] = {}
    areas: list[AreaSeed] = []
    for index, (source, label) in enumerate(sources):
        file_problems = ProblemList(label)
        scan = parse_fingertips(
            source,
            label,
            file_problems,
            value_types,
            keep=keep,
            chunk_bytes=chunk_bytes,
            max_cell_bytes=max_cell_bytes,
        )
        problems.extend(file_problems)
        if scan is None:
            continue
        scan.index = index
        scans.append(scan)
        for seed in scan.indicators:
            indicators.setdefault(seed.id, seed)
        areas.extend(scan.areas)
    if scans:
        hashes = pl.concat(
            [
                part.with_columns(pl.lit(scan.index, dtype=pl.UInt32).alias("_source"))
                for scan in scans
                for part in scan.keys
            ],
            how="vertical",
        )
        for scan in scans:
            scan.keys = []
        suspects = hashes.filter(pl.col("_hash").is_duplicated())
        del hashes
        if suspects.height:
            dup_problems = ProblemList("")
            check_duplicates(
                _suspect_keys(sources, scans, suspects, chunk_bytes), dup_problems, fc.AREA_CODE
            )
            problems.extend(dup_problems)
    return scans, list(indicators.values()), areas, problems


def _suspect_keys(
    sources: Sequence[tuple[Path | bytes, str]],
    scans: Sequence[FileScan],
    suspects: pl.DataFrame,
    chunk_bytes: int,
) -> pl.DataFrame:
    """Read again the keys of the rows whose hashes collide, to compare the keys.

    Equal hashes almost always mean equal keys, but only the keys themselves can say;
    this only runs when the file is about to be refused (or on a one-in-10^8 fluke).
    """
    import polars as pl

    parts = []
    for scan in scans:
        rows = suspects.filter(pl.col("_source") == scan.index).get_column("_row")
        if rows.len() == 0:
            continue
        for obs in _observation_chunks(sources[scan.index][0], scan, chunk_bytes):
            parts.append(
                obs.filter(pl.col("_row").is_in(rows.to_list())).select("_file", "_row", *KEY)
            )
    return pl.concat(parts, how="vertical")


def _observation_chunks(
    source: Path | bytes, scan: FileScan, chunk_bytes: int
) -> Iterator[pl.DataFrame]:
    """A validated file's observations again, chunk by chunk (only the columns used)."""
    _, chunks = text_chunks(source, chunk_bytes, set(scan.columns) - _NOT_OBSERVED)
    for frame in chunks:
        yield observations(frame, scan.label, scan.columns)


def observation_batches(
    sources: Sequence[tuple[Path | bytes, str]],
    scans: Sequence[FileScan],
    keep: pl.Expr | None,
    chunk_bytes: int,
) -> Iterator[pl.DataFrame]:
    """Every validated file's observations, chunk by chunk, for the writer."""
    for scan in scans:
        for obs in _observation_chunks(sources[scan.index][0], scan, chunk_bytes):
            yield obs if keep is None else obs.filter(keep)


def load_fingertips_files(
    session: Session,
    sources: Sequence[tuple[Path | bytes, str]],
    *,
    location: str | None = None,
    illustrative: bool = False,
    extra_indicators: Sequence[IndicatorSeed] = (),
    update_metadata: bool = False,
    keep: pl.Expr | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    max_cell_bytes: int = MAX_CELL_BYTES,
) -> ImportResult:
    """Validate and write Fingertips CSVs in the caller's transaction.

    Two passes over each file: the first validates and learns the indicators and
    areas, the second writes chunk by chunk. Both are streamed, so a million-row file
    costs a chunk's memory rather than the file's, and the caller's one transaction
    still makes the whole load one change or none.
    """
    scans, indicators, areas, problems = read_files(
        session, sources, keep=keep, chunk_bytes=chunk_bytes, max_cell_bytes=max_cell_bytes
    )
    problems.raise_if_any()
    codes = set().union(*(scan.area_codes for scan in scans))
    if keep is not None:
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
    return write_observation_batches(
        session,
        observation_batches(sources, scans, keep, chunk_bytes),
        rows=sum(scan.rows for scan in scans),
        indicator_ids=sorted(set().union(*(scan.indicator_ids for scan in scans))),
        source=SOURCE,
        location=location or ", ".join(label for _, label in sources),
        indicators=list(by_id.values()),
        areas=areas,
        illustrative=illustrative,
        update_metadata=update_metadata,
    )


def import_fingertips_csv(
    engine: Engine,
    paths: Sequence[Path],
    *,
    illustrative: bool = False,
    chunk_bytes: int = CHUNK_BYTES,
    max_cell_bytes: int = MAX_CELL_BYTES,
) -> ImportResult:
    """Import Fingertips CSV files in one transaction: all written, or nothing."""
    from healthycity.outcomes.aggregate import after_import

    with transaction(engine) as session:
        result = load_fingertips_files(
            session,
            [(Path(p), Path(p).name) for p in paths],
            illustrative=illustrative,
            chunk_bytes=chunk_bytes,
            max_cell_bytes=max_cell_bytes,
        )
        after_import(session, result)
        return result
