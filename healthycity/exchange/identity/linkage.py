"""Batch record linkage with Splink (DuckDB backend): extracts in, clusters out.

``healthycity exchange link FILE... --map field=column ...`` reads CSV extracts, maps
their columns onto the canonical fields, cleans the values (an unparseable value is
reported and treated as missing, never fatal), trains a Splink model on the data
itself (no labels needed: the prior from deterministic rules, u by random sampling, m by
expectation maximisation), scores candidate pairs, and clusters them:

- a valid NHS number shared by two records links them deterministically;
- pairs at or above the match threshold link; pairs between the possible-match and
  match thresholds are written to a review file instead;
- twins (same date of birth, surname and address, different given names) never link.

The trained model can be exported as the JSON the online scorer reads
(:class:`~healthycity.exchange.matching.FellegiSunterModel`), which is how the index's
model is trained offline and applied to single records online.

Splink and DuckDB are imported inside the functions that use them: they take a second
to import and most commands never need them.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from healthycity.exchange.identity import nhsnumber
from healthycity.exchange.identity.index import Demographics, are_twins, normal_email, normal_phone
from healthycity.exchange.identity.matching import (
    CANONICAL_FIELDS,
    FIELD_LEVELS,
    SWAPPED_WITH,
    FellegiSunterModel,
    Level,
)

_SEX = {
    "M": "male", "MALE": "male", "1": "male",
    "F": "female", "FEMALE": "female", "2": "female",
    "O": "other", "OTHER": "other", "9": "other",
    "U": "unknown", "UNKNOWN": "unknown", "0": "unknown",
}  # fmt: skip
_SPACES = re.compile(r"\s+")


@dataclass
class Record:
    """One input row, with its canonical values (None where missing or unparseable)."""

    file: str
    row: int
    values: dict[str, str | None]

    def demographics(self) -> Demographics:
        born = self.values.get("birth_date")
        return Demographics(
            nhs_number=self.values.get("nhs_number"),
            other_identifier=self.values.get("other_identifier"),
            given_name=self.values.get("given_name"),
            family_name=self.values.get("family_name"),
            birth_date=date.fromisoformat(born) if born else None,
            sex=self.values.get("sex"),
            postcode=self.values.get("postcode"),
            address_line=self.values.get("address_line"),
            town=self.values.get("town"),
            email=self.values.get("email"),
            phone=self.values.get("phone"),
        )


@dataclass
class Problems:
    """Values that could not be used, by field, with a few examples for the report."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, record_file: str, row: int, name: str, value: str, why: str) -> None:
        self.counts[name] += 1
        if len(self.examples) < 20:
            self.examples.append(f"{record_file}:{row}: {name} {value!r} {why}; treated as missing")


def parse_date(value: str) -> date | None:
    """ISO 8601 (YYYY-MM-DD) or compact YYYYMMDD; None when neither parses."""
    text = value.strip()
    for pattern in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def clean(name: str, raw: str | None, problems: Problems, file: str, row: int) -> str | None:
    """Normalise one canonical value, reporting what cannot be used."""
    if raw is None:
        return None
    value = _SPACES.sub(" ", raw).strip()
    if not value:
        return None
    if name == "record_id":
        return value
    if name == "nhs_number":
        number = nhsnumber.validated(value)
        if number is None:
            problems.add(file, row, name, value, "is not a valid NHS number")
        return number
    if name == "birth_date":
        born = parse_date(value)
        if born is None:
            problems.add(file, row, name, value, "is not a date (YYYY-MM-DD or YYYYMMDD)")
            return None
        return born.isoformat()
    if name == "sex":
        sex = _SEX.get(value.upper())
        if sex is None:
            problems.add(file, row, name, value, "is not a recognised sex")
        return sex
    if name == "postcode":
        return value.replace(" ", "").upper()
    if name == "email":
        email = normal_email(value)
        if email is None:
            problems.add(file, row, name, value, "is not an email address")
        return email
    if name == "phone":
        phone = normal_phone(value)
        if phone is None:
            problems.add(file, row, name, value, "is not a phone number")
        return phone
    return value.upper()


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """``["given_name=first_name", ...]`` to a dict, checking the canonical names."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        canonical, equals, column = pair.partition("=")
        canonical, column = canonical.strip(), column.strip()
        if not equals or not column:
            raise ValueError(f"--map needs field=column, got {pair!r}")
        if canonical not in CANONICAL_FIELDS:
            raise ValueError(
                f"unknown field {canonical!r}; fields are: {', '.join(CANONICAL_FIELDS)}"
            )
        mapping[canonical] = column
    return mapping


def read_extracts(
    paths: Sequence[Path], mapping: Mapping[str, str]
) -> tuple[list[Record], Problems]:
    """Every row of every CSV, mapped to canonical fields and cleaned."""
    records: list[Record] = []
    problems = Problems()
    for path in paths:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, skipinitialspace=True)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in mapping.values() if c not in header]
            if missing:
                raise ValueError(f"{path}: no column(s) {', '.join(missing)}")
            index = {canonical: header.index(column) for canonical, column in mapping.items()}
            for row_number, row in enumerate(reader, start=1):
                values = {
                    canonical: clean(
                        canonical,
                        row[i] if i < len(row) else None,
                        problems,
                        path.name,
                        row_number,
                    )
                    for canonical, i in index.items()
                }
                records.append(Record(str(path), row_number, values))
    return records, problems


# --- Splink ----------------------------------------------------------------------------


def _level_sql(name: str, kind: str, parameter: float) -> str:
    left, right = f'"{name}_l"', f'"{name}_r"'
    if kind == "exact":
        return f"{left} = {right}"
    if kind == "jaro_winkler":
        return f"jaro_winkler_similarity({left}, {right}) >= {parameter}"
    if kind == "levenshtein":
        return f"levenshtein({left}, {right}) <= {int(parameter)}"
    if kind == "damerau_levenshtein":
        # DuckDB's Damerau-Levenshtein is several times slower than its Levenshtein, and
        # n Damerau edits are at most 2n plain ones, so the cheap test goes first.
        n = int(parameter)
        return (
            f"levenshtein({left}, {right}) <= {2 * n}"
            f" AND damerau_levenshtein({left}, {right}) <= {n}"
        )
    if kind == "names_swapped":
        other = SWAPPED_WITH[name]
        return f'({left} = "{other}_r" OR {right} = "{other}_l")'
    if kind == "date_transposed":
        return (
            f"length({left}) = 10 AND length({right}) = 10"
            f" AND substr({left}, 1, 4) = substr({right}, 1, 4)"
            f" AND substr({left}, 6, 2) = substr({right}, 9, 2)"
            f" AND substr({left}, 9, 2) = substr({right}, 6, 2)"
        )
    if kind == "date_within_days":
        return (
            f"abs(date_diff('day', try_cast({left} AS DATE), try_cast({right} AS DATE)))"
            f" <= {int(parameter)}"
        )
    if kind == "email_user":
        return (
            f"contains({left}, '@') AND contains({right}, '@')"
            f" AND split_part({left}, '@', 1) <> ''"
            f" AND split_part({left}, '@', 1) = split_part({right}, '@', 1)"
        )
    if kind in ("postcode_sector", "postcode_district"):
        cut = 2 if kind == "postcode_sector" else 3  # drop the unit, or the whole inward code
        return (
            f"length({left}) > {cut} and substr({left}, 1, length({left}) - {cut})"
            f" = substr({right}, 1, length({right}) - {cut})"
        )
    raise ValueError(kind)


def _same(*columns: str) -> str:
    return " AND ".join(f'l."{c}" = r."{c}"' for c in columns)


_YEAR = 'substr(l."birth_date", 1, 4) = substr(r."birth_date", 1, 4)'

#: Candidate pairs are those agreeing on at least one of these (each used only when the
#: fields it needs are present). A true pair no rule finds is never scored, so the
#: rules are many and cheap: any one identifier; the names (either way round); the date
#: of birth; a name with the birth year, postcode or town.
BLOCKING_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("nhs_number",), _same("nhs_number")),
    (("other_identifier",), _same("other_identifier")),
    (("email",), _same("email")),
    (("phone",), _same("phone")),
    (("given_name", "family_name"), _same("given_name", "family_name")),
    (
        ("given_name", "family_name"),
        'l."given_name" = r."family_name" AND l."family_name" = r."given_name"',
    ),
    (("birth_date",), _same("birth_date")),
    (("family_name", "birth_date"), f"{_same('family_name')} AND {_YEAR}"),
    (("given_name", "birth_date"), f"{_same('given_name')} AND {_YEAR}"),
    (("family_name", "postcode"), _same("family_name", "postcode")),
    (("given_name", "postcode"), _same("given_name", "postcode")),
    (("family_name", "town"), _same("family_name", "town")),
    (("address_line", "postcode"), _same("address_line", "postcode")),
)


def splink_settings(fields: Sequence[str]) -> dict[str, Any]:
    """A Splink settings dict whose comparison levels are exactly :data:`FIELD_LEVELS`."""
    comparisons = []
    for name in fields:
        levels: list[dict[str, Any]] = [
            {
                "sql_condition": f'"{name}_l" IS NULL OR "{name}_r" IS NULL',
                "label_for_charts": "null",
                "is_null_level": True,
            }
        ]
        for kind, parameter in FIELD_LEVELS[name]:
            levels.append(
                {
                    "sql_condition": _level_sql(name, kind, parameter),
                    "label_for_charts": f"{kind} {parameter:g}",
                }
            )
        levels.append({"sql_condition": "ELSE", "label_for_charts": "else"})
        comparisons.append({"output_column_name": name, "comparison_levels": levels})
    have = set(fields)
    rules = [sql for needs, sql in BLOCKING_RULES if set(needs) <= have]
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "blocking_rules_to_generate_predictions": rules,
        "comparisons": comparisons,
        "retain_intermediate_calculation_columns": False,
        "retain_matching_columns": False,
    }


#: Expectation maximisation runs once per block; each estimates m for every comparison
#: the block does not fix, so between them every field is estimated at least once.
EM_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("birth_date",),
    ("given_name", "family_name"),
    ("postcode",),
    ("email",),
    ("town",),
)


@dataclass
class Trained:
    model: FellegiSunterModel
    pairs: list[tuple[int, int, float]]  # unique ids and probability, above possible


def train_and_score(
    records: Sequence[Record],
    fields: Sequence[str],
    *,
    possible_threshold: float = 0.5,
    match_threshold: float = 0.95,
    seed: int = 42,
) -> Trained:
    """Train a Splink model on ``records`` and score the candidate pairs."""
    import logging

    import pyarrow as pa  # type: ignore[import-untyped]
    from splink import DuckDBAPI, Linker

    logging.getLogger("splink").setLevel(logging.ERROR)
    columns: dict[str, list[Any]] = {"unique_id": list(range(len(records)))}
    for name in fields:
        columns[name] = [r.values.get(name) for r in records]
    table = pa.table(columns)
    db_api = DuckDBAPI()
    frame = db_api.register(table, dataset_display_name="extracts")
    settings = splink_settings(fields)
    settings["probability_two_random_records_match"] = estimate_prior(records, fields)
    linker = Linker(frame, settings, log_level=logging.ERROR)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    for block in EM_BLOCKS:
        if not set(block) <= set(fields):
            continue
        # EM can fail on a degenerate block (every record in one town, a level no pair
        # reaches) after it has already changed the model, dropping the comparison it
        # was working on and the prior with it; so a failed session is undone.
        before = linker.misc.save_model_to_json()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(_same(*block))
        except Exception:
            linker = Linker(frame, before, log_level=logging.ERROR)
    model = model_from_splink(
        linker.misc.save_model_to_json(),
        fields,
        match_threshold=match_threshold,
        possible_threshold=possible_threshold,
    )
    # Pairs are scored with the exported model's own m and u (smoothed, clamped), so a
    # pair scores the same in batch as the online scorer scores it.
    scorer = Linker(
        frame, with_model(linker.misc.save_model_to_json(), model), log_level=logging.ERROR
    )
    predictions = scorer.inference.predict(threshold_match_probability=possible_threshold)
    result = predictions.as_pyarrow_table().select(  # type: ignore[no-untyped-call]
        ["unique_id_l", "unique_id_r", "match_probability"]
    )
    pairs = [
        (int(a), int(b), float(p))
        for a, b, p in zip(
            result.column("unique_id_l").to_pylist(),
            result.column("unique_id_r").to_pylist(),
            result.column("match_probability").to_pylist(),
            strict=True,
        )
    ]
    return Trained(model, pairs)


def estimate_prior(records: Sequence[Record], fields: Sequence[str], recall: float = 0.7) -> float:
    """The probability two random records match, from pairs that agree exactly on an
    identifier or on name and date of birth (assumed to find ``recall`` of the true
    pairs), kept within sensible bounds for tiny or odd inputs."""
    keys: list[tuple[str, ...]] = [("nhs_number",), ("other_identifier",), ("email",)]
    keys.append(("given_name", "family_name", "birth_date"))
    found: set[tuple[int, int]] = set()
    for key in keys:
        if not set(key) <= set(fields):
            continue
        groups: dict[tuple[str, ...], list[int]] = {}
        for index, record in enumerate(records):
            values = tuple(record.values.get(k) or "" for k in key)
            if all(values):
                groups.setdefault(values, []).append(index)
        for members in groups.values():
            for i, a in enumerate(members):
                for b in members[i + 1 :]:
                    found.add((a, b))
    total = len(records) * (len(records) - 1) / 2
    if total == 0:
        return 0.5
    estimate = len(found) / recall / total
    return min(max(estimate, 1 / total, 1e-7), 0.5)


def model_from_splink(
    settings: Mapping[str, Any],
    fields: Sequence[str],
    *,
    match_threshold: float,
    possible_threshold: float,
) -> FellegiSunterModel:
    """Turn a trained Splink model into the online scorer's JSON model."""
    trained: dict[str, tuple[Level, ...]] = {}
    for comparison in settings["comparisons"]:
        name = comparison["output_column_name"]
        if name not in fields:
            continue
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        kinds = [*FIELD_LEVELS[name], ("else", 0.0)]
        trained[name] = tuple(
            Level(
                kind,
                float(parameter),
                _probability(lv, "m", len(levels)),
                _probability(lv, "u"),
            )
            for (kind, parameter), lv in zip(kinds, levels, strict=True)
        )
    return FellegiSunterModel(
        prior=float(settings.get("probability_two_random_records_match", 1e-4)),
        fields=trained,
        match_threshold=match_threshold,
        possible_threshold=possible_threshold,
        about="Trained with Splink (DuckDB) by healthycity.exchange.linkage",
    )


def with_model(settings: Mapping[str, Any], model: FellegiSunterModel) -> dict[str, Any]:
    """Splink settings carrying ``model``'s prior and every level's m and u."""
    updated = dict(settings)
    updated["probability_two_random_records_match"] = model.prior
    comparisons = []
    for comparison in settings["comparisons"]:
        levels = model.fields.get(comparison["output_column_name"])
        copied = [dict(level) for level in comparison["comparison_levels"]]
        if levels is not None:
            scored = [level for level in copied if not level.get("is_null_level")]
            for target, level in zip(scored, levels, strict=True):
                target["m_probability"], target["u_probability"] = level.m, level.u
        comparisons.append({**comparison, "comparison_levels": copied})
    updated["comparisons"] = comparisons
    return updated


#: Added to every level's m before renormalising: training data rarely shows every kind
#: of disagreement among true matches, and a level with m = 0 would make one mis-keyed
#: field veto a match outright.
M_SMOOTHING = 0.002


def _probability(level: Mapping[str, Any], which: str, levels: int = 1) -> float:
    value = level.get(f"{which}_probability")
    if value is None:
        return 0.5
    p = float(value)
    if which == "m":
        p = (p + M_SMOOTHING) / (1 + M_SMOOTHING * levels)
    return min(max(p, 1e-6), 1 - 1e-6)


# --- clustering ------------------------------------------------------------------------


class _DisjointSet:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class Linkage:
    clusters: list[int]  # per record: the cluster id (smallest member index)
    review: list[tuple[int, int, float]]
    twins_refused: int
    model: FellegiSunterModel | None


def cluster(
    records: Sequence[Record],
    pairs: Iterable[tuple[int, int, float]],
    *,
    match_threshold: float,
) -> tuple[list[int], list[tuple[int, int, float]], int]:
    """Connected components over NHS-number links and confident pairs (never twins)."""
    forest = _DisjointSet(len(records))
    by_number: dict[str, int] = {}
    for index, record in enumerate(records):
        number = record.values.get("nhs_number")
        if number:
            if number in by_number:
                forest.union(by_number[number], index)
            else:
                by_number[number] = index
    review: list[tuple[int, int, float]] = []
    twins = 0
    demographics = [r.demographics() for r in records]
    for a, b, probability in pairs:
        if are_twins(demographics[a], demographics[b]):
            twins += 1
            continue
        if probability >= match_threshold:
            forest.union(a, b)
        else:
            review.append((a, b, probability))
    return [forest.find(i) for i in range(len(records))], review, twins


def link(
    records: Sequence[Record],
    *,
    match_threshold: float = 0.95,
    possible_threshold: float = 0.5,
    seed: int = 42,
) -> Linkage:
    """Link ``records``: train on them, score, cluster."""
    fields = [name for name in FIELD_LEVELS if any(r.values.get(name) for r in records)]
    if len(records) < 2 or not fields:
        return Linkage(list(range(len(records))), [], 0, None)
    trained = train_and_score(
        records,
        fields,
        possible_threshold=possible_threshold,
        match_threshold=match_threshold,
        seed=seed,
    )
    clusters, review, twins = cluster(records, trained.pairs, match_threshold=match_threshold)
    return Linkage(clusters, review, twins, trained.model)


def write_clusters(path: Path, records: Sequence[Record], clusters: Sequence[int]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "row", "record_id", "cluster_id"])
        for record, cluster_id in zip(records, clusters, strict=True):
            writer.writerow(
                [record.file, record.row, record.values.get("record_id") or "", cluster_id]
            )


def write_review(
    path: Path, records: Sequence[Record], review: Sequence[tuple[int, int, float]]
) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file_a", "row_a", "file_b", "row_b", "match_probability"])
        for a, b, probability in sorted(review, key=lambda item: -item[2]):
            ra, rb = records[a], records[b]
            writer.writerow([ra.file, ra.row, rb.file, rb.row, f"{probability:.4f}"])


def pairwise_scores(
    clusters: Sequence[int], truth: Sequence[str]
) -> tuple[float, float, int, int, int]:
    """Pairwise precision and recall of ``clusters`` against ``truth`` labels.

    Returns (precision, recall, true positive pairs, predicted pairs, true pairs).
    """

    def pairs_within(labels: Sequence[Any]) -> set[tuple[int, int]]:
        groups: dict[Any, list[int]] = {}
        for index, label in enumerate(labels):
            groups.setdefault(label, []).append(index)
        found: set[tuple[int, int]] = set()
        for members in groups.values():
            for i, a in enumerate(members):
                for b in members[i + 1 :]:
                    found.add((a, b))
        return found

    predicted, actual = pairs_within(clusters), pairs_within(truth)
    hits = len(predicted & actual)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(actual) if actual else 1.0
    return precision, recall, hits, len(predicted), len(actual)
