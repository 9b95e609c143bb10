"""Scoring two records' demographics with a Fellegi-Sunter model kept as data.

Splink trains the model offline, in bulk (``linkage.py``); the exchange then needs to
score *one* incoming record against a handful of candidates while a request waits,
which is no job for a SQL engine. So the trained model is exported to a small JSON
document (``data/match_model.json`` by default): for each field, an ordered list of
comparison levels (exact, given and family name swapped, one keying error away, Jaro-
Winkler at a threshold, day and month transposed, same postcode sector, ...) with the m
and u probabilities Splink estimated, plus the prior. This
module evaluates exactly those levels in plain Python, so the online score is the
Splink score for the same pair (up to string-similarity rounding at a threshold).

The levels are defined once, in :data:`FIELD_LEVELS`; ``linkage.py`` turns the same
definitions into Splink SQL, so the two can never drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

import orjson

from healthycity.exchange.identity.index import Demographics, are_twins
from healthycity.exchange.identity.similarity import jaro_winkler, levenshtein

#: The canonical fields records are compared on (also the batch ``--map`` targets).
#: ``email`` and ``phone`` are optional extras: many extracts carry them, and FHIR
#: Patients carry them as ``telecom``.
CANONICAL_FIELDS = (
    "record_id",
    "nhs_number",
    "other_identifier",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "postcode",
    "address_line",
    "town",
    "email",
    "phone",
)

#: The field each name is checked against for a given/family swap.
SWAPPED_WITH = {"given_name": "family_name", "family_name": "given_name"}

#: field -> levels, most specific first; ("kind", parameter). "else" is implicit last.
#: Names tolerate a swap of given and family name, one keying error (Damerau: a
#: transposition counts once) and looser Jaro-Winkler likeness; dates tolerate one
#: keying error, day and month transposed, and a date a month or a year out (a
#: mis-keyed month or year field), each level priced by training.
FIELD_LEVELS: dict[str, tuple[tuple[str, float], ...]] = {
    "nhs_number": (("exact", 0), ("damerau_levenshtein", 1)),
    "other_identifier": (("exact", 0), ("damerau_levenshtein", 1)),
    "given_name": (
        ("exact", 0),
        ("names_swapped", 0),
        ("damerau_levenshtein", 1),
        ("jaro_winkler", 0.9),
        ("jaro_winkler", 0.8),
    ),
    "family_name": (
        ("exact", 0),
        ("names_swapped", 0),
        ("damerau_levenshtein", 1),
        ("jaro_winkler", 0.9),
        ("jaro_winkler", 0.8),
    ),
    "birth_date": (
        ("exact", 0),
        ("damerau_levenshtein", 1),
        ("date_transposed", 0),
        ("date_within_days", 31),
        ("date_within_days", 366),
    ),
    "sex": (("exact", 0),),
    "postcode": (("exact", 0), ("postcode_sector", 0), ("postcode_district", 0)),
    "address_line": (("exact", 0), ("jaro_winkler", 0.9)),
    "town": (("exact", 0), ("jaro_winkler", 0.9)),
    "email": (("exact", 0), ("email_user", 0), ("jaro_winkler", 0.88)),
    "phone": (("exact", 0), ("damerau_levenshtein", 1)),
}


def damerau_levenshtein(a: str, b: str) -> int:
    """Edit distance where swapping two adjacent characters costs one edit, the
    unrestricted form DuckDB's ``damerau_levenshtein`` computes (so batch and online
    agree): "CA" to "ABC" is 2, not 3 as with optimal string alignment."""
    if a == b:
        return 0
    infinity = len(a) + len(b)
    last_row: dict[str, int] = {}
    # Rows and columns shifted by two: row/column 0 hold the sentinel.
    table = [[infinity] * (len(b) + 2) for _ in range(len(a) + 2)]
    for i in range(len(a) + 1):
        table[i + 1][1] = i
    for j in range(len(b) + 1):
        table[1][j + 1] = j
    for i in range(1, len(a) + 1):
        last_column = 0
        for j in range(1, len(b) + 1):
            k = last_row.get(b[j - 1], 0)
            swap_from = last_column
            cost = 1
            if a[i - 1] == b[j - 1]:
                cost = 0
                last_column = j
            table[i + 1][j + 1] = min(
                table[i][j] + cost,
                table[i + 1][j] + 1,
                table[i][j + 1] + 1,
                table[k][swap_from] + (i - k - 1) + 1 + (j - swap_from - 1),
            )
        last_row[a[i - 1]] = i
    return table[len(a) + 1][len(b) + 1]


def _day_number(iso: str) -> int | None:
    try:
        return date.fromisoformat(iso).toordinal()
    except ValueError:
        return None


def _level_applies(
    kind: str,
    parameter: float,
    field_name: str,
    left: Mapping[str, str | None],
    right: Mapping[str, str | None],
) -> bool:
    """Whether a level holds for two records whose ``field_name`` values are present."""
    a, b = left[field_name] or "", right[field_name] or ""
    if kind == "exact":
        return a == b
    if kind == "jaro_winkler":
        return jaro_winkler(a, b) >= parameter
    if kind == "levenshtein":
        return levenshtein(a, b, int(parameter)) <= parameter
    if kind == "damerau_levenshtein":
        bound = int(parameter)
        return levenshtein(a, b, 2 * bound) <= 2 * bound and damerau_levenshtein(a, b) <= bound
    if kind == "postcode_sector":
        return len(a) > 2 and a[:-2] == b[:-2]
    if kind == "postcode_district":
        return len(a) > 3 and a[:-3] == b[:-3]
    if kind == "names_swapped":
        other = SWAPPED_WITH[field_name]
        return a == right.get(other) or b == left.get(other)
    if kind == "date_transposed":
        return len(a) == len(b) == 10 and a[:4] == b[:4] and a[5:7] == b[8:] and a[8:] == b[5:7]
    if kind == "date_within_days":
        days_a, days_b = _day_number(a), _day_number(b)
        return days_a is not None and days_b is not None and abs(days_a - days_b) <= parameter
    if kind == "email_user":
        user_a, at_a, _ = a.partition("@")
        user_b, at_b, _ = b.partition("@")
        return bool(at_a and at_b and user_a) and user_a == user_b
    raise ValueError(f"unknown comparison level kind {kind!r}")


def comparison_value(field_name: str, facts: Demographics) -> str | None:
    """The string a field is compared as (upper case; ISO date)."""
    value: Any = getattr(facts, field_name, None)
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip().upper()
    return text or None


def comparison_values(facts: Demographics) -> dict[str, str | None]:
    """Every compared field's value, as :func:`comparison_value` gives it."""
    return {name: comparison_value(name, facts) for name in FIELD_LEVELS}


@dataclass(frozen=True, slots=True)
class Level:
    kind: str
    parameter: float
    m: float
    u: float

    @property
    def weight(self) -> float:
        return math.log2(self.m / self.u)


@dataclass(frozen=True)
class FellegiSunterModel:
    """A trained model: prior, per-field levels with m/u, and decision thresholds."""

    prior: float
    fields: Mapping[str, tuple[Level, ...]]  # the last level of each field is "else"
    match_threshold: float = 0.95
    possible_threshold: float = 0.5
    about: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def level_of(
        self,
        field_name: str,
        left: Mapping[str, str | None],
        right: Mapping[str, str | None],
    ) -> Level | None:
        """The level two records' comparison values fall in for one field; None when
        either value is missing (a missing value is evidence of nothing)."""
        if left.get(field_name) is None or right.get(field_name) is None:
            return None
        levels = self.fields[field_name]
        for level in levels[:-1]:
            if _level_applies(level.kind, level.parameter, field_name, left, right):
                return level
        return levels[-1]

    def match_weight(self, a: Demographics, b: Demographics) -> float:
        weight = math.log2(self.prior / (1 - self.prior))
        left, right = comparison_values(a), comparison_values(b)
        for field_name in self.fields:
            level = self.level_of(field_name, left, right)
            if level is not None:
                weight += level.weight
        return weight

    def probability(self, a: Demographics, b: Demographics) -> float:
        """Probability the two are the same person; twins always score 0."""
        if are_twins(a, b):
            return 0.0
        weight = self.match_weight(a, b)
        if weight > 60:
            return 1.0
        odds: float = math.pow(2.0, weight)
        return odds / (1 + odds)

    # --- as data ---------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "about": self.about,
            "prior": self.prior,
            "match_threshold": self.match_threshold,
            "possible_threshold": self.possible_threshold,
            "fields": {
                name: [
                    {"kind": lv.kind, "parameter": lv.parameter, "m": lv.m, "u": lv.u}
                    for lv in levels
                ]
                for name, levels in self.fields.items()
            },
            **({"extra": dict(self.extra)} if self.extra else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FellegiSunterModel:
        fields: dict[str, tuple[Level, ...]] = {}
        for name, levels in data["fields"].items():
            parsed = tuple(
                Level(
                    str(lv["kind"]),
                    float(lv.get("parameter", 0)),
                    _clamp(float(lv["m"])),
                    _clamp(float(lv["u"])),
                )
                for lv in levels
            )
            if not parsed or parsed[-1].kind != "else":
                raise ValueError(f"field {name!r}: the last level must be 'else'")
            fields[name] = parsed
        return cls(
            prior=float(data["prior"]),
            fields=fields,
            match_threshold=float(data.get("match_threshold", 0.95)),
            possible_threshold=float(data.get("possible_threshold", 0.5)),
            about=str(data.get("about", "")),
            extra=dict(data.get("extra", {})),
        )

    @classmethod
    def default(cls) -> FellegiSunterModel:
        return _default_model()


def _clamp(p: float) -> float:
    """Keep probabilities away from 0 and 1 so every level has a finite weight."""
    return min(max(p, 1e-6), 1 - 1e-6)


@lru_cache(maxsize=1)
def _default_model() -> FellegiSunterModel:
    text = resources.files("healthycity.exchange").joinpath("data/match_model.json")
    return FellegiSunterModel.from_json(orjson.loads(text.read_bytes()))
