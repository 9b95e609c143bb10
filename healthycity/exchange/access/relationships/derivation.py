"""Legitimate relationships derived from what the local exchanges hold.

A clinician may read a person's record when they have a *legitimate relationship* with
that person: the relationship the NHS expects between a patient and those caring for
them, as opposed to anyone who merely works somewhere with a login. The usual evidence
of one is already in the care records, so this module reads it from the nodes instead of
asking anyone to type it in:

* **Registered GP practice** (``gp``): ``Patient.generalPractitioner``. Registration
  with a practice makes the practice responsible for the person's ongoing care, which
  is the strongest and longest-lived relationship there is.
* **Care team** (``care-team``): an active or proposed ``CareTeam`` names the people and
  organisations who have agreed to look after the person together, so each named
  member (and the team's managing organisation) has a relationship for the team's
  period. An open ``EpisodeOfCare`` is the same promise made by an organisation (and
  its care manager) for a condition or programme.
* **Open referral** (``referral``): an active or on-hold ``ServiceRequest`` asks a
  service to take the person on; the service must be able to read the record to decide
  on and prepare for it, for as long as the referral is open.
* **Encounter** (``encounter``): an ``Encounter`` that is planned or under way, or that
  finished within ``relationship_encounter_days``, ties the provider and the clinicians
  who took part to the person: they are treating them, or following up what they did.

What the exchange can compare is fixed by the tokens (see :mod:`access`): staff tokens
carry their organisation as an ODS code (``org``) and their identity as ``sub``. So an
organisation counts only when the node identifies it with an ODS organisation code
(``https://fhir.nhs.uk/Id/ods-organization-code``), and a practitioner only when the
node carries an identifier in one of the systems whose value *is* the token subject
(``relationship_practitioner_systems``, by default the SDS user id, which NHS CIS2
issues as ``sub``). Other identifiers (a US NPI, Synthea's own organisation ids, a
local PAS code) can never equal a token's claims, so they become :class:`Unusable`
entries: reported, never stored, never a ground for access. Statuses and dates that
cannot be read never widen access either: the item is ignored and said to be.

Rows derived here are stored with ``source = "node:<node name>"``; rows entered by hand
keep ``source = "manual"`` and are never touched. This module derives them and is
pure (no I/O): :mod:`.storage` keeps them as rows, :mod:`.refresher` asks the nodes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from healthycity.exchange.access.grounds import as_utc

if TYPE_CHECKING:
    from healthycity.exchange.settings import ExchangeSettings

ODS_ORGANISATION_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"

MANUAL_SOURCE = "manual"
NODE_SOURCE_PREFIX = "node:"

#: The start of a relationship whose record does not say when it began (a GP
#: registration without a period, a referral without a date). The relationship holds
#: now, so it is taken to have held "always"; a fixed value keeps a refresh idempotent.
UNKNOWN_START = datetime(1900, 1, 1, tzinfo=UTC)

#: The widths of the Relationship columns: a longer value cannot be an ODS code or a
#: token subject we could store, so it is reported as unusable rather than truncated.
ORGANISATION_MAX = 20
PRACTITIONER_MAX = 200

CARE_TEAM_STATUSES = frozenset({"active", "proposed"})
EPISODE_STATUSES = frozenset({"planned", "waitlist", "active", "onhold"})
REFERRAL_STATUSES = frozenset({"active", "on-hold"})
#: ``proposal`` and ``option`` are suggestions nobody has acted on, and ``directive``
#: is a patient's instruction rather than a request to a service: none of them asks a
#: service to take the person on.
REFERRAL_INTENTS = frozenset(
    {"order", "original-order", "reflex-order", "filler-order", "instance-order", "plan"}
)
ENCOUNTER_OPEN_STATUSES = frozenset({"planned", "arrived", "triaged", "in-progress", "onleave"})

#: The resource types a reference may be followed to.
PARTY_TYPES = frozenset({"Organization", "Practitioner", "PractitionerRole"})


def node_source(node_name: str) -> str:
    """The ``source`` of rows derived from this node's records."""
    return f"{NODE_SOURCE_PREFIX}{node_name}"


# --- results ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DerivationRules:
    """The knobs of the derivation (from :class:`ExchangeSettings`)."""

    encounter_days: int = 90
    practitioner_systems: frozenset[str] = frozenset({SDS_USER_SYSTEM})

    @classmethod
    def from_settings(cls, settings: ExchangeSettings) -> DerivationRules:
        return cls(
            encounter_days=settings.relationship_encounter_days,
            practitioner_systems=frozenset(settings.relationship_practitioner_systems),
        )


RelationshipKey = tuple[str, str | None, str | None, datetime, datetime | None]


@dataclass(frozen=True, slots=True)
class DerivedRelationship:
    """One relationship, as it will be stored: exactly one of ``organisation`` (an ODS
    code) and ``practitioner`` (a token subject) is set. ``evidence`` names the
    resources it was read from (``Encounter/abc``); it is for reports, not stored."""

    kind: str
    organisation: str | None
    practitioner: str | None
    starts_at: datetime
    ends_at: datetime | None
    evidence: tuple[str, ...] = ()

    @property
    def key(self) -> RelationshipKey:
        return (self.kind, self.organisation, self.practitioner, self.starts_at, self.ends_at)


@dataclass(frozen=True, slots=True)
class Unusable:
    """A party a record names that cannot be matched to any token (no ODS code, no
    practitioner identifier in a subject system). ``party`` says what the node gave."""

    kind: str
    evidence: str
    party: str
    reason: str


@dataclass
class Derivation:
    """What one node's records say: the relationships, the parties that could not be
    used, and the records that were ignored (with why)."""

    relationships: list[DerivedRelationship] = field(default_factory=list)
    unusable: list[Unusable] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)

    def kinds(self) -> set[str]:
        return {r.kind for r in self.relationships}


# --- dates ------------------------------------------------------------------------------

_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class _Unreadable(ValueError):
    """A date the record carries but we cannot read (never treated as absent)."""


def _instant(value: object, *, end: bool) -> datetime | None:
    """A FHIR date/dateTime as an aware UTC instant; None when absent.

    A partial date is a range (FHIR: "2021" is the whole year), so as the start of a
    period it means its first instant and as the end its last: a period ending
    "2021-12-31" includes that day. Times without a zone (not valid FHIR) are read as UTC.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _Unreadable(repr(value))
    partial = _PARTIAL.match(value)
    if partial:
        year, month, day = partial.groups()
        try:
            first = date(int(year), int(month or 1), int(day or 1))
        except ValueError as error:  # "2021-13", "2021-02-30"
            raise _Unreadable(value) from error
        if not end:
            return datetime(first.year, first.month, first.day, tzinfo=UTC)
        if day is not None:
            after = first + timedelta(days=1)
        elif month is not None:
            after = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        else:
            after = date(first.year + 1, 1, 1)
        return datetime(after.year, after.month, after.day, tzinfo=UTC) - timedelta(microseconds=1)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise _Unreadable(value) from error
    return as_utc(moment)


def _period(value: object) -> tuple[datetime | None, datetime | None]:
    if value is None:
        return None, None
    if not isinstance(value, Mapping):
        raise _Unreadable(repr(value))
    return _instant(value.get("start"), end=False), _instant(value.get("end"), end=True)


# --- references -------------------------------------------------------------------------


def _identifiers(value: object) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    items = value if isinstance(value, list) else [value] if isinstance(value, Mapping) else []
    for item in items:
        if isinstance(item, Mapping):
            system, code = item.get("system"), item.get("value")
            if isinstance(system, str) and isinstance(code, str) and code:
                found.append((system, code))
    return found


class ResourceSet:
    """One node's resources about one person, searchable by ``Type/id`` and by
    ``(Type, system, value)``, so references can be followed inside the set."""

    def __init__(self, resources: Iterable[Mapping[str, Any]]) -> None:
        self.resources: list[Mapping[str, Any]] = []
        self.by_id: dict[tuple[str, str], Mapping[str, Any]] = {}
        self.by_identifier: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        for resource in resources:
            kind, rid = resource.get("resourceType"), resource.get("id")
            if not isinstance(kind, str):
                continue
            if isinstance(rid, str) and (kind, rid) in self.by_id:
                continue  # the same resource from two searches
            self.resources.append(resource)
            if isinstance(rid, str):
                self.by_id[(kind, rid)] = resource
            for system, value in _identifiers(resource.get("identifier")):
                self.by_identifier.setdefault((kind, system, value), resource)


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a Reference points, as far as its own text tells."""

    resource_type: str | None
    resource_id: str | None = None
    contained: str | None = None
    identifiers: tuple[tuple[str, str], ...] = ()


def _parse_reference(reference: Mapping[str, Any]) -> _Target:
    declared = reference.get("type") if isinstance(reference.get("type"), str) else None
    identifiers = tuple(_identifiers(reference.get("identifier")))
    text = reference.get("reference")
    if not isinstance(text, str) or not text:
        return _Target(declared, identifiers=identifiers)
    if text.startswith("#"):
        return _Target(declared, contained=text[1:], identifiers=identifiers)
    path, question, query = text.partition("?")
    segments = [s for s in path.split("/") if s]
    if "_history" in segments:
        segments = segments[: segments.index("_history")]
    if question:  # a conditional reference, as Synthea writes: Type?identifier=sys|value
        kind = segments[-1] if segments else declared
        for token in parse_qs(query).get("identifier", []):
            system, bar, value = token.rpartition("|")
            if bar and value:
                identifiers += ((system, value),)
        return _Target(kind, identifiers=identifiers)
    if len(segments) >= 2 and segments[-2][:1].isupper():
        return _Target(segments[-2], segments[-1], identifiers=identifiers)
    return _Target(declared, identifiers=identifiers)


@dataclass(frozen=True, slots=True)
class _Party:
    organisation: str | None = None
    practitioner: str | None = None
    unusable: str | None = None  # what the node gave, when it is not usable


def _describe(kind: str | None, identifiers: Sequence[tuple[str, str]], text: object) -> str:
    label = kind or "party"
    if identifiers:
        return f"{label} identified as " + ", ".join(f"{s}|{v}" for s, v in identifiers)
    return f"{label} {text!r} with no identifier"


def _resolve(
    reference: object,
    holder: Mapping[str, Any],
    found: ResourceSet,
    rules: DerivationRules,
    *,
    depth: int = 0,
) -> list[_Party]:
    """The parties a Reference names: follows contained resources, ``Type/id`` in the
    set, and logical references by identifier (in the reference, or matched to a
    resource in the set that carries more identifiers, such as its ODS code)."""
    if not isinstance(reference, Mapping):
        return []
    target = _parse_reference(reference)
    resource: Mapping[str, Any] | None = None
    if target.contained is not None:
        for inner in holder.get("contained") or []:
            if isinstance(inner, Mapping) and inner.get("id") == target.contained:
                resource = inner
    elif target.resource_type and target.resource_id:
        resource = found.by_id.get((target.resource_type, target.resource_id))
    if resource is None and target.resource_type:
        for system, value in target.identifiers:
            resource = found.by_identifier.get((target.resource_type, system, value))
            if resource is not None:
                break
    kind = str(resource["resourceType"]) if resource is not None else target.resource_type
    identifiers = list(target.identifiers)
    if resource is not None:
        identifiers += _identifiers(resource.get("identifier"))
    identifiers = list(dict.fromkeys(identifiers))
    if kind in ("Patient", "RelatedPerson", "Group", "CareTeam", "Device", "Location"):
        return []  # not someone who treats the person (or, for CareTeam, read on its own)
    if kind == "PractitionerRole":
        parties: list[_Party] = []
        if resource is not None and depth == 0:
            for element in ("practitioner", "organization"):
                parties += _resolve(resource.get(element), resource, found, rules, depth=1)
        if parties:
            return parties
    ods = [v for s, v in identifiers if s == ODS_ORGANISATION_SYSTEM]
    subjects = [v for s, v in identifiers if s in rules.practitioner_systems]
    if kind in (None, "Organization") and ods and len(ods[0]) <= ORGANISATION_MAX:
        return [_Party(organisation=ods[0].upper())]
    if kind in (None, "Practitioner") and subjects and len(subjects[0]) <= PRACTITIONER_MAX:
        return [_Party(practitioner=subjects[0])]
    return [_Party(unusable=_describe(kind, identifiers, reference.get("reference")))]


# --- the rules --------------------------------------------------------------------------


@dataclass
class _Builder:
    found: ResourceSet
    rules: DerivationRules
    now: datetime
    result: Derivation = field(default_factory=Derivation)
    raw: list[DerivedRelationship] = field(default_factory=list)

    def add(
        self,
        kind: str,
        references: Iterable[object],
        holder: Mapping[str, Any],
        starts: datetime | None,
        ends: datetime | None,
    ) -> None:
        evidence = f"{holder.get('resourceType')}/{holder.get('id')}"
        start = starts or UNKNOWN_START
        if ends is not None and ends < self.now:
            self.result.ignored.append((evidence, "ended before now"))
            return
        if ends is not None and ends < start:
            self.result.ignored.append((evidence, "its period ends before it starts"))
            return
        for reference in references:
            for party in _resolve(reference, holder, self.found, self.rules):
                if party.unusable is not None:
                    self.result.unusable.append(
                        Unusable(
                            kind,
                            evidence,
                            party.unusable,
                            "no ODS organisation code or practitioner subject identifier",
                        )
                    )
                    continue
                self.raw.append(
                    DerivedRelationship(
                        kind, party.organisation, party.practitioner, start, ends, (evidence,)
                    )
                )

    def ignore(self, resource: Mapping[str, Any], reason: str) -> None:
        evidence = f"{resource.get('resourceType')}/{resource.get('id')}"
        self.result.ignored.append((evidence, reason))


def _listed(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [] if value is None else [value]


def _gp(builder: _Builder, patient: Mapping[str, Any]) -> None:
    """Registration with a GP practice. PDS writes it as a logical reference whose
    identifier carries the registration period; a local system may point at an
    Organization (or a named GP) instead, with no period (the registration holds now)."""
    for reference in _listed(patient.get("generalPractitioner")):
        if not isinstance(reference, Mapping):
            continue
        identifier = reference.get("identifier")
        period = identifier.get("period") if isinstance(identifier, Mapping) else None
        try:
            starts, ends = _period(period)
        except _Unreadable:
            builder.ignore(patient, "unreadable GP registration period")
            continue
        builder.add("gp", [reference], patient, starts, ends)


def _care_team(builder: _Builder, team: Mapping[str, Any]) -> None:
    """Each member of an active or proposed team, for the overlap of the team's period
    and their own; the managing organisation for the team's period. Inactive,
    suspended and entered-in-error teams, and teams without a status, give nothing."""
    status = team.get("status")
    if status not in CARE_TEAM_STATUSES:
        builder.ignore(team, f"status {status!r}")
        return
    try:
        starts, ends = _period(team.get("period"))
    except _Unreadable:
        builder.ignore(team, "unreadable period")
        return
    for participant in _listed(team.get("participant")):
        if not isinstance(participant, Mapping):
            continue
        try:
            own_start, own_end = _period(participant.get("period"))
        except _Unreadable:
            builder.ignore(team, "unreadable participant period")
            continue
        start = max((d for d in (starts, own_start) if d is not None), default=None)
        end = min((d for d in (ends, own_end) if d is not None), default=None)
        builder.add("care-team", [participant.get("member")], team, start, end)
    builder.add("care-team", _listed(team.get("managingOrganization")), team, starts, ends)


def _episode(builder: _Builder, episode: Mapping[str, Any]) -> None:
    """An open episode of care: the managing organisation and the care manager have
    taken responsibility for the person, which is what a care team is. Finished,
    cancelled and entered-in-error episodes give nothing."""
    status = episode.get("status")
    if status not in EPISODE_STATUSES:
        builder.ignore(episode, f"status {status!r}")
        return
    try:
        starts, ends = _period(episode.get("period"))
    except _Unreadable:
        builder.ignore(episode, "unreadable period")
        return
    references = [episode.get("managingOrganization"), episode.get("careManager")]
    builder.add("care-team", [r for r in references if r is not None], episode, starts, ends)


def _referral(builder: _Builder, request: Mapping[str, Any]) -> None:
    """An open request to a service (active or on hold, and an actual order or plan)
    gives its performers a relationship from when it was made until its occurrence
    period ends, or while it stays open. Drafts, completed, revoked and
    entered-in-error requests give nothing."""
    status, intent = request.get("status"), request.get("intent")
    if status not in REFERRAL_STATUSES:
        builder.ignore(request, f"status {status!r}")
        return
    if intent not in REFERRAL_INTENTS:
        builder.ignore(request, f"intent {intent!r}")
        return
    try:
        authored = _instant(request.get("authoredOn"), end=False)
        occurs_from, occurs_to = _period(request.get("occurrencePeriod"))
    except _Unreadable:
        builder.ignore(request, "unreadable dates")
        return
    starts = min((d for d in (authored, occurs_from) if d is not None), default=None)
    builder.add("referral", _listed(request.get("performer")), request, starts, occurs_to)


def _encounter(builder: _Builder, encounter: Mapping[str, Any]) -> None:
    """The provider and the clinicians of an encounter that is planned or under way, or
    that finished within the window (they follow up what they did: results, letters,
    discharge). A planned encounter counts from now on, so the service can prepare.
    Cancelled, entered-in-error and unknown encounters give nothing, and nor does a
    finished one whose period does not say when (we could not tell it is recent)."""
    status = encounter.get("status")
    try:
        starts, ends = _period(encounter.get("period"))
    except _Unreadable:
        builder.ignore(encounter, "unreadable period")
        return
    window = timedelta(days=builder.rules.encounter_days)
    if status in ENCOUNTER_OPEN_STATUSES:
        start = None if status == "planned" else starts
        end = ends + window if ends is not None else None
    elif status == "finished":
        finished = ends or starts
        if finished is None:
            builder.ignore(encounter, "finished, but its period does not say when")
            return
        start, end = starts or finished, finished + window
    else:
        builder.ignore(encounter, f"status {status!r}")
        return
    references: list[object] = [encounter.get("serviceProvider")]
    for participant in _listed(encounter.get("participant")):
        if isinstance(participant, Mapping):
            references.append(participant.get("individual"))
    builder.add("encounter", [r for r in references if r is not None], encounter, start, end)


_RULES: dict[str, Callable[[_Builder, Mapping[str, Any]], None]] = {
    "Patient": _gp,
    "CareTeam": _care_team,
    "EpisodeOfCare": _episode,
    "ServiceRequest": _referral,
    "Encounter": _encounter,
}


def _coalesce(raw: Sequence[DerivedRelationship]) -> list[DerivedRelationship]:
    """One row per party and kind for each stretch of time: overlapping or touching
    periods merge (ten clinic visits in a quarter are one relationship, not ten)."""
    groups: dict[tuple[str, str | None, str | None], list[DerivedRelationship]] = {}
    for item in raw:
        groups.setdefault((item.kind, item.organisation, item.practitioner), []).append(item)
    merged: list[DerivedRelationship] = []
    for (kind, organisation, practitioner), items in groups.items():
        items.sort(key=lambda r: r.starts_at)
        start, end, evidence = items[0].starts_at, items[0].ends_at, list(items[0].evidence)
        for item in items[1:]:
            if end is not None and item.starts_at > end:
                merged.append(
                    DerivedRelationship(
                        kind, organisation, practitioner, start, end, tuple(dict.fromkeys(evidence))
                    )
                )
                start, end, evidence = item.starts_at, item.ends_at, list(item.evidence)
                continue
            end = None if end is None or item.ends_at is None else max(end, item.ends_at)
            evidence += item.evidence
        merged.append(
            DerivedRelationship(
                kind, organisation, practitioner, start, end, tuple(dict.fromkeys(evidence))
            )
        )
    merged.sort(key=lambda r: (r.kind, r.organisation or "", r.practitioner or "", r.starts_at))
    return merged


def derive(
    resources: Iterable[Mapping[str, Any]],
    now: datetime,
    rules: DerivationRules | None = None,
) -> Derivation:
    """The relationships one node's records give one person, current or future at
    ``now`` (relationships that have already ended are not kept).

    ``resources`` are the person's Patient record(s) at the node, their CareTeams,
    ServiceRequests, Encounters and EpisodesOfCare, and whatever Organization,
    Practitioner and PractitionerRole resources those point at. Pure: no I/O.
    """
    found = ResourceSet(resources)
    builder = _Builder(found, rules or DerivationRules(), as_utc(now))
    for resource in found.resources:
        rule = _RULES.get(str(resource.get("resourceType")))
        if rule is not None:
            rule(builder, resource)
    builder.result.relationships = _coalesce(builder.raw)
    return builder.result


def references_to_fetch(resources: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """``(type, id)`` of the Organizations, Practitioners and PractitionerRoles the
    records point at by ``Type/id`` that are not among them (a search does not return
    them; a refresh reads them so their ODS codes and identifiers can be used)."""
    found = ResourceSet(resources)
    wanted: set[tuple[str, str]] = set()

    def visit(value: object) -> None:
        if isinstance(value, Mapping):
            text = value.get("reference")
            if isinstance(text, str):
                target = _parse_reference(value)
                if (
                    target.resource_type in PARTY_TYPES
                    and target.resource_id is not None
                    and (target.resource_type, target.resource_id) not in found.by_id
                ):
                    wanted.add((target.resource_type, target.resource_id))
            for inner in value.values():
                visit(inner)
        elif isinstance(value, list):
            for inner in value:
                visit(inner)

    for resource in found.resources:
        visit(resource)
    return wanted
