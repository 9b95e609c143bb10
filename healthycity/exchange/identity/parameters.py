"""FHIR ``Parameters`` in and out for the identity stewardship operations: reading a
request's parameters (each problem a :class:`BadParameter` naming it) and writing the
parts of an answer. No database, no web framework."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ID = 2**31 - 1  # the widest id every supported database's INTEGER holds


class BadParameter(Exception):
    """A request parameter that is missing, repeated or malformed (answered with 400)."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


def plain(text: str) -> bool:
    """Text that can safely be a key: no control characters (PostgreSQL refuses NUL)."""
    return _CONTROL.search(text) is None


def parse_parameters(raw: bytes) -> dict[str, list[Mapping[str, Any]]]:
    """A FHIR Parameters body, as its parameters by name; anything else is refused."""
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as error:
        raise BadParameter("body", "is not JSON") from error
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadParameter("body", "must be a FHIR Parameters resource")
    listed = body.get("parameter", [])
    if not isinstance(listed, list):
        raise BadParameter("parameter", "must be a list")
    found: dict[str, list[Mapping[str, Any]]] = {}
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise BadParameter("parameter", "every parameter needs a name")
        found.setdefault(entry["name"], []).append(entry)
    return found


def _one(
    parameters: Mapping[str, list[Mapping[str, Any]]], name: str, *, required: bool
) -> Mapping[str, Any] | None:
    given = parameters.get(name, [])
    if len(given) > 1:
        raise BadParameter(name, "is given more than once")
    if not given:
        if required:
            raise BadParameter(name, "is required")
        return None
    return given[0]


def text_parameter(
    parameters: Mapping[str, list[Mapping[str, Any]]],
    name: str,
    *,
    max_length: int,
    required: bool = True,
) -> str | None:
    """A string-valued parameter (valueString, valueCode or valueId)."""
    entry = _one(parameters, name, required=required)
    if entry is None:
        return None
    values = [entry[k] for k in ("valueString", "valueCode", "valueId") if k in entry]
    if len(values) != 1 or not isinstance(values[0], str):
        raise BadParameter(name, "needs exactly one valueString or valueCode")
    value = values[0].strip()
    if not value or len(value) > max_length or not plain(value):
        raise BadParameter(name, f"must be 1 to {max_length} printable characters")
    return value


def id_parameter(
    parameters: Mapping[str, list[Mapping[str, Any]]], name: str, *, required: bool = True
) -> int | None:
    """A positive integer id (valueInteger, valuePositiveInt, or digits as a string)."""
    entry = _one(parameters, name, required=required)
    if entry is None:
        return None
    keys = ("valueInteger", "valuePositiveInt", "valueString", "valueId")
    values = [entry[k] for k in keys if k in entry]
    if len(values) != 1:
        raise BadParameter(name, "needs exactly one valueInteger")
    value = values[0]
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise BadParameter(name, "must be a positive integer id")
    return value


def query_int(name: str, text: str | None, *, default: int, low: int, high: int) -> int:
    """A search control such as ``_count``: an integer in [low, high]."""
    if text is None:
        return default
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()) or not low <= int(stripped) <= high:
        raise BadParameter(name, f"must be an integer from {low} to {high}")
    return int(stripped)


@dataclass(frozen=True, slots=True)
class RecordRef:
    """Which local record an operation is about: a link id, or a node and local id."""

    link_id: int | None = None
    node: str | None = None
    local: str | None = None


def record_parameters(parameters: Mapping[str, list[Mapping[str, Any]]]) -> RecordRef:
    link_id = id_parameter(parameters, "link", required=False)
    node = text_parameter(parameters, "node", max_length=100, required=False)
    local = text_parameter(parameters, "local", max_length=200, required=False)
    if link_id is not None:
        if node is not None or local is not None:
            raise BadParameter("link", "give link, or node and local, not both")
        return RecordRef(link_id=link_id)
    if node is None or local is None:
        raise BadParameter("node" if node is None else "local", "is required (or give link)")
    return RecordRef(node=node, local=local)


# --- answers ---------------------------------------------------------------------------


def instant(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back what was stored, without the zone
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def part(name: str, kind: str, value: Any) -> dict[str, Any]:
    return {"name": name, kind: value}


def present_parts(values: Iterable[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    """Parameters parts for the values that are present."""
    return [part(name, kind, value) for name, kind, value in values if value is not None]


def demographics_parts(facts: Mapping[str, Any], *, restricted: bool) -> list[dict[str, Any]]:
    """A record's identifying facts as parts. A restricted person's address, postcode
    and town are withheld, as PDS withholds them: a steward can still compare names,
    birth dates and numbers, and the address is not needed to see that."""
    parts = present_parts(
        [
            ("nhsNumber", "valueString", facts.get("nhs_number")),
            ("given", "valueString", facts.get("given_name")),
            ("family", "valueString", facts.get("family_name")),
            ("birthDate", "valueDate", facts.get("birth_date")),
            ("gender", "valueCode", facts.get("sex")),
        ]
    )
    if restricted:
        parts.append(part("restricted", "valueBoolean", True))
    else:
        parts.extend(
            present_parts(
                [
                    ("postcode", "valueString", facts.get("postcode")),
                    ("address", "valueString", facts.get("address_line")),
                    ("town", "valueString", facts.get("town")),
                ]
            )
        )
    return parts


def patient_reference(person_id: str) -> dict[str, str]:
    return {"reference": f"Patient/{person_id}"}


def parameters_resource(*values: tuple[str, str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": present_parts(values)}
