"""Search as the CapabilityStatement declares it: parameters, result controls, sorting.

The exchange asks the nodes for a person's records of a type and then searches what
consent and the role policy released, here. Doing it after the release (never at the
nodes) is what keeps consent ahead of search: a filter, a sort, a page or a count only
ever sees what the requester may see, so no combination of parameters can tell them
anything about a withheld record, its total included.

Every parameter a search may carry is one of three things: *declared* (in
:data:`TYPE_PARAMS` or :data:`COMMON_PARAMS`, advertised in the CapabilityStatement and
applied), a *control* (``_count``, ``_sort``, ``_summary``, ``_elements``, applied), or
*not supported*. A parameter that is not supported is never echoed as if applied: with
``Prefer: handling=strict`` the search is refused (400); otherwise it is left out of the
``self`` link and reported in an OperationOutcome entry (``search.mode = outcome``), as
FHIR R4 search.html ("Handling errors") asks.

Semantics follow FHIR R4 search: values of one parameter separated by commas are ORed,
repeated parameters ANDed; tokens are ``[system]|[code]``, ``code`` or ``system|``;
dates take the prefixes ``eq ne gt lt ge le sa eb`` against the range the record's
date covers (a bare year covers the year), as search.html#prefix defines them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from healthycity.exchange.access.sensitivity import clinical_time, time_bounds

ParamType = Literal["token", "date", "reference"]


@dataclass(frozen=True, slots=True)
class Param:
    """A declared search parameter: its FHIR type and the elements it reads."""

    name: str
    type: ParamType
    paths: tuple[str, ...] = ()
    documentation: str = ""


def _token(name: str, *paths: str) -> Param:
    return Param(name, "token", paths)


DATE = Param(
    "date",
    "date",
    documentation="the record's clinical time, as consent's date rules read it "
    "(Observation effective[x] or issued, Condition onset[x] or recordedDate, ...)",
)
#: Declared on every searchable type.
COMMON_PARAMS: dict[str, Param] = {
    "patient": Param("patient", "reference", documentation="Patient/{exchange id}: required"),
    "_id": _token("_id", "id"),
    "_lastUpdated": Param("_lastUpdated", "date", ("meta.lastUpdated",)),
    "date": DATE,
}
#: The parameters each type declares beyond the common ones.
TYPE_PARAMS: dict[str, dict[str, Param]] = {
    "Observation": {
        "code": _token("code", "code"),
        "category": _token("category", "category"),
        "status": _token("status", "status"),
    },
    "Condition": {
        "code": _token("code", "code"),
        "category": _token("category", "category"),
        "clinical-status": _token("clinical-status", "clinicalStatus"),
    },
    "MedicationRequest": {
        "code": _token("code", "medicationCodeableConcept"),
        "status": _token("status", "status"),
        "intent": _token("intent", "intent"),
    },
    "AllergyIntolerance": {
        "code": _token("code", "code"),
        "clinical-status": _token("clinical-status", "clinicalStatus"),
        "category": _token("category", "category"),
    },
    "Encounter": {
        "status": _token("status", "status"),
        "class": _token("class", "class"),
        "type": _token("type", "type"),
    },
    "Immunization": {
        "vaccine-code": _token("vaccine-code", "vaccineCode"),
        "status": _token("status", "status"),
    },
    "Procedure": {"code": _token("code", "code"), "status": _token("status", "status")},
    "DocumentReference": {
        "type": _token("type", "type"),
        "category": _token("category", "category"),
        "status": _token("status", "status"),
    },
}
#: Result controls the exchange applies (``_format`` is content negotiation's).
CONTROLS = frozenset({"_count", "_sort", "_summary", "_elements", "_format", "_pretty"})
SORTS = ("date", "_lastUpdated", "_id")
SUMMARIES = ("count", "data", "false", "true", "text")
DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}


class SearchError(ValueError):
    """A search that cannot be run as asked (answered 400, audited)."""


@dataclass(frozen=True, slots=True)
class Filter:
    param: Param
    values: tuple[str, ...]  # ORed
    keep_undated: bool = False  # $everything's start/end: an unknown time is not outside


@dataclass
class Query:
    """A parsed search: what will be applied, and what was not (and why)."""

    filters: list[Filter] = field(default_factory=list)
    count: int = 50
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (name, descending)
    summary: str | None = None
    elements: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None  # $everything's _type
    applied: list[tuple[str, str]] = field(default_factory=list)  # for the self link
    not_applied: list[str] = field(default_factory=list)  # diagnostics

    @property
    def count_only(self) -> bool:
        return self.summary == "count" or self.count == 0


def declared(resource_type: str) -> dict[str, Param]:
    return {**COMMON_PARAMS, **TYPE_PARAMS.get(resource_type, {})}


def parse(
    resource_type: str,
    items: Iterable[tuple[str, str]],
    *,
    default_count: int,
    max_count: int,
    strict: bool,
) -> Query:
    """Read a search's parameters. Malformed values of a declared parameter raise
    SearchError; parameters not supported do too under ``strict``, else are reported."""
    params = declared(resource_type)
    query = Query(count=default_count)

    def not_supported(text: str) -> None:
        if strict:
            raise SearchError(f"{text} (Prefer: handling=strict)")
        query.not_applied.append(f"{text}; it was not applied")

    for raw_name, value in items:
        name, _, modifier = raw_name.partition(":")
        if name in CONTROLS and not modifier:
            _control(query, name, value, max_count=max_count, not_supported=not_supported)
            continue
        param = params.get(name)
        if param is None:
            not_supported(f"search parameter {raw_name} is not supported on {resource_type}")
            continue
        if modifier:
            not_supported(f"modifier :{modifier} is not supported on {name}")
            continue
        if name == "patient":
            query.applied.append((name, value))
            continue
        values = tuple(v for v in value.split(",") if v != "")
        if not values:
            raise SearchError(f"{name} has no value")
        if param.type == "date":
            for text in values:
                prefix, when = _split_prefix(text)
                if prefix not in DATE_PREFIXES:
                    not_supported(f"prefix {prefix} on {name} is not supported")
                    break
                _range(when, name)
            else:
                query.filters.append(Filter(param, values))
                query.applied.append((name, value))
            continue
        query.filters.append(Filter(param, values))
        query.applied.append((name, value))
    return query


def _control(query: Query, name: str, value: str, *, max_count: int, not_supported: Any) -> None:
    if name in ("_format", "_pretty"):
        return  # negotiated before the route runs; nothing to apply to the result
    if name == "_count":
        if not value.isdigit():
            raise SearchError("_count must be a whole number")
        wanted = int(value)
        if wanted > max_count:
            query.not_applied.append(
                f"_count={wanted} is over the most this server pages "
                f"({max_count}); pages hold {max_count}"
            )
        query.count = min(wanted, max_count)
        query.applied.append(("_count", str(query.count)))
    elif name == "_sort":
        keys = []
        for key in value.split(","):
            descending = key.startswith("-")
            bare = key.removeprefix("-")
            if bare not in SORTS:
                not_supported(f"_sort by {bare} is not supported (only {', '.join(SORTS)})")
                return
            keys.append((bare, descending))
        query.sort = keys
        query.applied.append(("_sort", value))
    elif name == "_summary":
        if value not in SUMMARIES:
            raise SearchError(f"_summary must be one of {', '.join(SUMMARIES)}")
        if value == "text":
            not_supported("_summary=text is not supported")
            return
        query.summary = None if value == "false" else value
        query.applied.append(("_summary", value))
    elif name == "_elements":
        names = tuple(e.strip() for e in value.split(",") if e.strip())
        if not names:
            raise SearchError("_elements has no element names")
        query.elements = names
        query.applied.append(("_elements", ",".join(names)))


def _split_prefix(text: str) -> tuple[str, str]:
    if len(text) > 2 and text[:2].isalpha():
        return text[:2], text[2:]
    return "eq", text


def _range(text: str, name: str) -> tuple[float, float]:
    """The [low, high] POSIX seconds a date parameter's value covers."""
    try:
        return time_bounds(text.replace(" ", "+"))  # a '+' offset arrives as a space
    except ValueError as error:
        raise SearchError(f"{name}={text} is not a FHIR date or dateTime") from error


# --- matching ---------------------------------------------------------------------------


def _values_at(resource: Mapping[str, Any], path: str) -> list[Any]:
    found: list[Any] = [resource]
    for step in path.split("."):
        nxt: list[Any] = []
        for value in found:
            inner = value.get(step) if isinstance(value, Mapping) else None
            if isinstance(inner, list):
                nxt.extend(inner)
            elif inner is not None:
                nxt.append(inner)
        found = nxt
    return found


def _codes(value: Any) -> list[tuple[str | None, str]]:
    """(system, code) pairs of a code, Coding, CodeableConcept or Identifier."""
    if isinstance(value, str):
        return [(None, value)]
    if not isinstance(value, Mapping):
        return []
    if "coding" in value:
        return [pair for coding in value.get("coding") or [] for pair in _codes(coding)]
    code = value.get("code", value.get("value"))
    if isinstance(code, str):
        system = value.get("system")
        return [(system if isinstance(system, str) else None, code)]
    return []


def _token_matches(pairs: Sequence[tuple[str | None, str]], wanted: str) -> bool:
    if "|" not in wanted:
        return any(code == wanted for _, code in pairs)
    system, _, code = wanted.partition("|")
    for have_system, have_code in pairs:
        if system == "" and have_system is not None:
            continue  # |code: only codes without a system
        if system and have_system != system:
            continue
        if code and have_code != code:
            continue
        return True
    return False


def resource_range(resource: Mapping[str, Any], param: Param) -> tuple[float, float] | None:
    if param.paths:
        texts = [v for v in _values_at(resource, param.paths[0]) if isinstance(v, str)]
        if not texts:
            return None
        try:
            return time_bounds(texts[0])
        except ValueError:
            return None
    when = clinical_time(resource)
    if when is None:
        return None
    return when.start_lo, when.end_hi


def _date_matches(have: tuple[float, float] | None, wanted: str) -> bool:
    if have is None:
        return False  # a record without the date never matches a date criterion
    prefix, text = _split_prefix(wanted)
    low, high = _range(text, "date")
    r_low, r_high = have
    inside = r_low >= low and r_high <= high
    if prefix == "eq":
        return inside
    if prefix == "ne":
        return not inside
    if prefix == "gt":
        return r_high > high
    if prefix == "lt":
        return r_low < low
    if prefix == "ge":
        return r_high > high or inside
    if prefix == "le":
        return r_low < low or inside
    if prefix == "sa":
        return r_low > high
    return r_high < low  # eb


def matches(resource: Mapping[str, Any], query: Query) -> bool:
    if query.types is not None and resource.get("resourceType") not in query.types:
        return False
    for criterion in query.filters:
        param = criterion.param
        if param.type == "date":
            have = resource_range(resource, param)
            if have is None and criterion.keep_undated:
                continue
            if not any(_date_matches(have, v) for v in criterion.values):
                return False
        else:
            pairs = [
                pair
                for path in param.paths
                for v in _values_at(resource, path)
                for pair in _codes(v)
            ]
            if not any(_token_matches(pairs, v) for v in criterion.values):
                return False
    return True


# --- ordering and shaping ---------------------------------------------------------------


def order(
    entries: list[tuple[dict[str, Any], str]], query: Query
) -> list[tuple[dict[str, Any], str]]:
    """Stable order: the requested sort keys, then type and full URL, so every page of
    the same search slices the same sequence."""

    def tie(entry: tuple[dict[str, Any], str]) -> tuple[str, str]:
        resource, origin = entry
        return str(resource.get("resourceType")), f"{origin}/{resource.get('id')}"

    ordered = sorted(entries, key=tie)
    for name, descending in reversed(query.sort):
        if name == "_id":
            ordered.sort(key=lambda e: str(e[0].get("id")), reverse=descending)
            continue
        param = COMMON_PARAMS["_lastUpdated"] if name == "_lastUpdated" else DATE
        dated = [(resource_range(e[0], param), e) for e in ordered]
        known = [(have, e) for have, e in dated if have is not None]
        known.sort(key=lambda pair: pair[0][0], reverse=descending)
        ordered = [e for _, e in known] + [e for have, e in dated if have is None]  # undated last
    return ordered


def shape(resource: dict[str, Any], query: Query) -> dict[str, Any]:
    """The resource as ``_elements`` / ``_summary`` ask for it, marked SUBSETTED when
    anything was left out (search.html#elements)."""
    if query.elements is not None:
        keep = set(query.elements)
        out = {
            k: v
            for k, v in resource.items()
            if k in ("resourceType", "id", "meta") or k in keep or _choice_of(k) in keep
        }
    elif query.summary == "data":
        out = {k: v for k, v in resource.items() if k != "text"}
    elif query.summary == "true":
        out = _summary(resource)
    else:
        return resource
    if out.keys() != resource.keys():
        meta = dict(out.get("meta") or {})
        tags = [t for t in meta.get("tag", []) if t != SUBSETTED]
        meta["tag"] = [*tags, SUBSETTED]
        out["meta"] = meta
    return out


def _choice_of(key: str) -> str:
    """``effectiveDateTime`` -> ``effective``: a choice element answers to its name."""
    for index, char in enumerate(key):
        if char.isupper() and index:
            return key[:index]
    return key


_SUMMARY_FIELDS: dict[str, frozenset[str]] = {}


def _summary(resource: dict[str, Any]) -> dict[str, Any]:
    """The summary elements, as the R4B models mark them (``summary_element_property``)."""
    resource_type = str(resource.get("resourceType"))
    fields = _SUMMARY_FIELDS.get(resource_type)
    if fields is None:
        from fhir.resources.R4B import get_fhir_model_class

        model = get_fhir_model_class(resource_type)
        names = set()
        for name, info in model.model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if extra.get("summary_element_property"):
                names.add(info.alias or name)
        fields = frozenset(names)
        _SUMMARY_FIELDS[resource_type] = fields
    return {
        k: v
        for k, v in resource.items()
        if k in ("resourceType", "id", "meta") or k in fields or _choice_of(k) in fields
    }


def page_bounds(total: int, offset: int, count: int) -> tuple[int, int]:
    start = max(0, min(offset, total))
    return start, min(total, start + count)


def pages(total: int, count: int) -> int:
    return max(1, math.ceil(total / count)) if count else 1
