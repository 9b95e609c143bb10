"""Scoring two records' demographics with a Fellegi-Sunter model kept as data.

Splink trains the model offline, in bulk (``linkage.py``); the exchange then needs to
score *one* incoming record against a handful of candidates while a request waits,
which is no job for a SQL engine. So the trained model is exported to a small JSON
document (``data/match_model.json`` by default): for each field, an ordered list of
comparison levels (exact, Jaro-Winkler at a threshold, one edit away, same postcode
sector, ...) with the m and u probabilities Splink estimated, plus the prior. This
module evaluates exactly those levels in plain Python, so the online score is the
Splink score for the same pair (up to string-similarity rounding at a threshold).

The levels are defined once, in :data:`FIELD_LEVELS`; ``linkage.py`` turns the same
definitions into Splink SQL, so the two can never drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

import orjson

from healthycity.exchange.identity import Demographics, are_twins
from healthycity.exchange.similarity import jaro_winkler, levenshtein

#: The canonical fields records are compared on (also the batch ``--map`` targets).
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
)

#: field -> levels, most specific first; ("kind", parameter). "else" is implicit last.
FIELD_LEVELS: dict[str, tuple[tuple[str, float], ...]] = {
    "nhs_number": (("exact", 0), ("levenshtein", 1)),
    "other_identifier": (("exact", 0), ("levenshtein", 1)),
    "given_name": (("exact", 0), ("jaro_winkler", 0.92), ("jaro_winkler", 0.8)),
    "family_name": (("exact", 0), ("jaro_winkler", 0.92), ("jaro_winkler", 0.8)),
    "birth_date": (("exact", 0), ("levenshtein", 1), ("levenshtein", 2)),
    "sex": (("exact", 0),),
    "postcode": (("exact", 0), ("postcode_sector", 0), ("postcode_district", 0)),
    "address_line": (("exact", 0), ("jaro_winkler", 0.9)),
    "town": (("exact", 0), ("jaro_winkler", 0.9)),
}


def _level_applies(kind: str, parameter: float, a: str, b: str) -> bool:
    if kind == "exact":
        return a == b
    if kind == "jaro_winkler":
        return jaro_winkler(a, b) >= parameter
    if kind == "levenshtein":
        return levenshtein(a, b, int(parameter)) <= parameter
    if kind == "postcode_sector":
        return len(a) > 2 and a[:-2] == b[:-2]
    if kind == "postcode_district":
        return len(a) > 3 and a[:-3] == b[:-3]
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

    def level_of(self, field_name: str, a: str, b: str) -> Level:
        levels = self.fields[field_name]
        for level in levels[:-1]:
            if _level_applies(level.kind, level.parameter, a, b):
                return level
        return levels[-1]

    def match_weight(self, a: Demographics, b: Demographics) -> float:
        weight = math.log2(self.prior / (1 - self.prior))
        for field_name in self.fields:
            left, right = comparison_value(field_name, a), comparison_value(field_name, b)
            if left is None or right is None:
                continue  # a missing value is evidence of nothing
            weight += self.level_of(field_name, left, right).weight
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


def untrained_levels(fields: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The level structure for ``fields`` with neutral m/u (Splink fills them in)."""
    return {
        name: [
            *({"kind": k, "parameter": p, "m": 0.5, "u": 0.5} for k, p in FIELD_LEVELS[name]),
            {"kind": "else", "parameter": 0, "m": 0.5, "u": 0.5},
        ]
        for name in fields
        if name in FIELD_LEVELS
    }
