"""What leaves the exchange: resources made resolvable and versioned, and paged Bundles.

Node resources speak in their node's terms: ``subject: Patient/demo-0000`` names a
node-local id the exchange would answer 404 to, and ``encounter: Encounter/e1`` is
relative to a node the client has never heard of. Before a resource leaves,
:func:`present` rewrites references to the person's node records into the exchange's
own ``Patient/{id}`` (the subject of everything the exchange returns); references to
records of a type the exchange serves (:data:`SERVED`: it reads them by id through the
gate, :mod:`reads`) become ``{Type}/{id}`` at the exchange, relative as a client
expects; every other reference (a Practitioner, an Organization, a Medication) becomes
an absolute URL at the node it came from (``meta.source`` names that node). So each
reference resolves somewhere that can answer it, and every ``fullUrl`` is the address
of the server that answers for that entry. Every
resource carries ``meta.versionId`` and ``meta.lastUpdated``: the node's when it gave
them, otherwise a version derived from the content (it changes exactly when the
content does) and the time of this read (the node did not say when it changed).

:func:`paged` slices a searched, ordered list into a searchset page with ``self``,
``first``, ``previous`` and ``next`` links (opaque cursors, :mod:`paging`), a ``total``
counting what the requester may see and nothing else, and an OperationOutcome entry
for node problems and parameters that were not applied.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson

from healthycity.exchange.search import TYPE_PARAMS, Query, page_bounds, shape

#: Reference-bearing keys are always called ``reference`` in FHIR JSON.
_REFERENCE = "reference"
#: Node record types the exchange answers ``GET /{Type}/{id}`` for (its search types).
SERVED = frozenset(TYPE_PARAMS)


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def content_version(resource: Mapping[str, Any]) -> str:
    """A version id that changes exactly when the content does (meta aside)."""
    body = {k: v for k, v in resource.items() if k != "meta"}
    digest = hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), digest_size=8)
    return digest.hexdigest()


def with_version(resource: dict[str, Any], now: datetime) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    if meta.get("versionId") and meta.get("lastUpdated"):
        return resource
    meta.setdefault("versionId", content_version(resource))
    meta.setdefault("lastUpdated", instant(now))
    return resource | {"meta": meta}


def _rewrite(value: Any, patients: set[str], person_id: str, origin: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if key == _REFERENCE and isinstance(inner, str):
                out[key] = _resolve(inner, patients, person_id, origin)
            else:
                out[key] = _rewrite(inner, patients, person_id, origin)
        return out
    if isinstance(value, list):
        return [_rewrite(item, patients, person_id, origin) for item in value]
    return value


def _resolve(reference: str, patients: set[str], person_id: str, origin: str) -> str:
    if reference.startswith(("#", "urn:")) or "?" in reference:
        return reference  # contained, a URN, or a conditional reference: left as written
    bare = reference.removeprefix(origin.rstrip("/") + "/") if origin else reference
    parts = bare.split("/")
    if len(parts) >= 2 and parts[0] == "Patient" and parts[1] in patients:
        return f"Patient/{person_id}"
    if "://" in bare or not origin or len(parts) < 2:
        return reference  # another server's, or nothing the exchange can place
    if parts[0] in SERVED and len(parts) == 2:
        return bare  # read at the exchange, through the gate
    return f"{origin.rstrip('/')}/{bare}"


def present(
    entries: Iterable[tuple[dict[str, Any], str]],
    person_id: str,
    locals_by_origin: Mapping[str, set[str]],
    now: datetime,
    *,
    drop_node_patients: bool = True,
) -> list[tuple[dict[str, Any], str]]:
    """The node resources as the exchange returns them (see the module docstring)."""
    out = []
    for resource, origin in entries:
        patients = locals_by_origin.get(origin, set())
        if drop_node_patients and resource.get("resourceType") == "Patient":
            continue  # the person is the exchange's Patient, never a node's copy
        rewritten = _rewrite(resource, patients, person_id, origin)
        out.append((with_version(rewritten, now), origin))
    return out


def full_url(resource: Mapping[str, Any], origin: str, base: str = "") -> str:
    """Where the entry can be read: at the exchange (``base``) for the types it serves,
    else at ``origin``."""
    where = base if base and resource.get("resourceType") in SERVED else origin
    return f"{where.rstrip('/')}/{resource['resourceType']}/{resource['id']}"


def paged(
    entries: Sequence[tuple[dict[str, Any], str]],
    issues: Sequence[Mapping[str, Any]],
    *,
    query: Query,
    base: str,
    path: str,
    offset: int,
    seal: Callable[[int], str],
    pinned: Sequence[tuple[dict[str, Any], str]] = (),
    scores: Mapping[int, float] | None = None,
) -> dict[str, Any]:
    """One searchset page of ``entries`` (already filtered and ordered). ``pinned``
    entries (the exchange's Patient in ``$everything``) lead the first page and count."""
    everything = [*pinned, *entries]
    total = len(everything)
    canonical = f"{base}{path}"
    if query.applied:
        canonical += "?" + urlencode(query.applied)
    links = [{"relation": "self", "url": canonical if offset == 0 else seal(offset)}]
    bundle_entries: list[dict[str, Any]] = []
    if not query.count_only:
        start, end = page_bounds(total, offset, query.count)
        for index in range(start, end):
            resource, origin = everything[index]
            search: dict[str, Any] = {"mode": "match"}
            if scores is not None and index in scores:
                search["score"] = round(scores[index], 4)
            bundle_entries.append(
                {
                    "fullUrl": full_url(resource, origin or base, base),
                    "resource": shape(resource, query),
                    "search": search,
                }
            )
        if offset > 0:
            links.append({"relation": "first", "url": canonical})
            links.append({"relation": "previous", "url": seal(max(0, offset - query.count))})
        if end < total:
            links.append({"relation": "next", "url": seal(end)})
    notes = [
        {"severity": "warning", "code": "not-supported", "diagnostics": text}
        for text in query.not_applied
    ]
    if issues or notes:
        bundle_entries.append(
            {
                "resource": {"resourceType": "OperationOutcome", "issue": [*issues, *notes]},
                "search": {"mode": "outcome"},
            }
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
    }
    bundle["entry"] = bundle_entries  # kept even when empty, as the exchange always has
    return bundle
