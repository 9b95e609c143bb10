"""Which sensitive categories a FHIR resource falls in (mental health, sexual health, ...).

Consent can withhold "sexual health" or "mental health"; that only works if every record
is put in its categories the same way everywhere. The rules are data
(``data/sensitive_codes.json``): exact codes, code prefixes for ICD-10, and security
labels already on the resource. A record also inherits the categories of what it
points at through clinical links (an encounter *for* an HIV diagnosis, an observation
made *in* that encounter), because the linked record would otherwise betray the
withheld one.

The same pass records what consent conditions other than categories look at, once per
resource: when the record happened clinically (``dataPeriod``), who authored it
(``authoredby``) and which records it points at through clinical links (``related`` and
``dependents``). Which element carries each of these is FHIR structure, so it is written
here as tables per resource type rather than in the rules data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from itertools import islice
from typing import Any

import orjson

Coding = tuple[str, str]

#: Elements whose CodeableConcepts/Codings say what a record is about.
_CODED_ELEMENTS = (
    "code",
    "category",
    "type",
    "class",
    "reasonCode",
    "serviceType",
    "vaccineCode",
    "medicationCodeableConcept",
    "valueCodeableConcept",
    "securityLabel",
)


#: Where each resource type records when it happened clinically, best first: the first
#: element present with a readable date is used. A string names a date/dateTime/instant
#: or Period element (dots walk into backbone elements); a pair names two instants that
#: bound a period (Appointment's start and end). ``onsetAge``/``onsetString`` and Timing
#: values say nothing checkable, so the next element (e.g. ``recordedDate``) is used.
_TIME_ELEMENTS: dict[str, tuple[str | tuple[str, str], ...]] = {
    "Observation": ("effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"),
    "DiagnosticReport": ("effectiveDateTime", "effectivePeriod", "issued"),
    "Condition": ("onsetDateTime", "onsetPeriod", "recordedDate"),
    "AllergyIntolerance": ("onsetDateTime", "onsetPeriod", "recordedDate"),
    "MedicationRequest": ("authoredOn",),
    "MedicationStatement": ("effectiveDateTime", "effectivePeriod", "dateAsserted"),
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod"),
    "MedicationDispense": ("whenHandedOver", "whenPrepared"),
    "Encounter": ("period",),
    "EpisodeOfCare": ("period",),
    "Immunization": ("occurrenceDateTime", "recorded"),
    "ImmunizationEvaluation": ("date",),
    "ImmunizationRecommendation": ("date",),
    "Procedure": ("performedDateTime", "performedPeriod"),
    "DocumentReference": ("context.period", "date"),
    "Composition": ("date",),
    "CarePlan": ("period", "created"),
    "CareTeam": ("period",),
    "ServiceRequest": ("authoredOn", "occurrenceDateTime", "occurrencePeriod"),
    "DeviceRequest": ("authoredOn", "occurrenceDateTime", "occurrencePeriod"),
    "DeviceUseStatement": ("timingDateTime", "timingPeriod", "recordedOn"),
    "NutritionOrder": ("dateTime",),
    "Task": ("executionPeriod", "authoredOn"),
    "Appointment": (("start", "end"),),
    "ImagingStudy": ("started",),
    "Media": ("createdDateTime", "createdPeriod", "issued"),
    "Specimen": ("collection.collectedDateTime", "collection.collectedPeriod", "receivedTime"),
    "Claim": ("billablePeriod", "created"),
    "ExplanationOfBenefit": ("billablePeriod", "created"),
    "Goal": ("startDate", "statusDate"),
    "RiskAssessment": ("occurrenceDateTime", "occurrencePeriod"),
    "ClinicalImpression": ("effectiveDateTime", "effectivePeriod", "date"),
    "FamilyMemberHistory": ("date",),
    "DetectedIssue": ("identifiedDateTime", "identifiedPeriod"),
    "AdverseEvent": ("date", "recordedDate"),
    "QuestionnaireResponse": ("authored",),
    "Communication": ("sent", "received"),
    "CommunicationRequest": ("occurrenceDateTime", "occurrencePeriod", "authoredOn"),
    "List": ("date",),
    "Provenance": ("occurredPeriod", "occurredDateTime", "recorded"),
    "Consent": ("dateTime",),
    "Flag": ("period",),
    "Coverage": ("period",),
}

#: Who authored a record, per resource type: the elements holding a Reference to the
#: practitioner, role or organisation that recorded, asserted, requested, performed or
#: wrote it (dots walk into backbone elements such as ``performer.actor``).
_AUTHOR_ELEMENTS: dict[str, tuple[str, ...]] = {
    "Observation": ("performer",),
    "DiagnosticReport": ("performer", "resultsInterpreter"),
    "Condition": ("recorder", "asserter"),
    "AllergyIntolerance": ("recorder", "asserter"),
    "MedicationRequest": ("requester", "recorder", "performer"),
    "MedicationStatement": ("informationSource",),
    "MedicationAdministration": ("performer.actor",),
    "MedicationDispense": ("performer.actor",),
    "Encounter": ("participant.individual", "serviceProvider"),
    "EpisodeOfCare": ("careManager", "managingOrganization"),
    "Immunization": ("performer.actor",),
    "Procedure": ("recorder", "asserter", "performer.actor", "performer.onBehalfOf"),
    "DocumentReference": ("author", "authenticator", "custodian"),
    "Composition": ("author", "attester.party", "custodian"),
    "CarePlan": ("author", "contributor"),
    "CareTeam": ("managingOrganization",),
    "ServiceRequest": ("requester", "performer"),
    "DeviceRequest": ("requester", "performer"),
    "DeviceUseStatement": ("source",),
    "NutritionOrder": ("orderer",),
    "Task": ("requester", "owner"),
    "Appointment": ("participant.actor",),
    "ImagingStudy": ("referrer", "interpreter"),
    "Media": ("operator",),
    "Specimen": ("collection.collector",),
    "Claim": ("provider", "enterer"),
    "ExplanationOfBenefit": ("provider", "enterer"),
    "Goal": ("expressedBy",),
    "RiskAssessment": ("performer",),
    "ClinicalImpression": ("assessor",),
    "DetectedIssue": ("author",),
    "AdverseEvent": ("recorder",),
    "QuestionnaireResponse": ("author",),
    "Communication": ("sender",),
    "CommunicationRequest": ("requester", "sender"),
    "List": ("source",),
    "Provenance": ("agent.who", "agent.onBehalfOf"),
    "Consent": ("performer", "organization"),
    "Flag": ("author",),
    "Basic": ("author",),
}


@dataclass(frozen=True, slots=True)
class ClinicalTime:
    """When a record happened, as POSIX seconds, with the uncertainty of partial dates.

    The record spans an interval whose start lies in [``start_lo``, ``start_hi``] and
    whose end lies in [``end_lo``, ``end_hi``]. A precise instant has all four equal; a
    bare year or month widens both ranges to the whole year or month; a Period with no
    end is ongoing (``end`` is +inf) and one with no start began at an unknown time.
    Keeping "might" apart from "certainly" is what lets a deny apply on a possible
    overlap while a permit needs a certain one.
    """

    start_lo: float
    start_hi: float
    end_lo: float
    end_hi: float

    def may_overlap(self, lo: float, hi: float) -> bool:
        """Whether the record could fall (at least partly) within [lo, hi]."""
        return self.start_lo <= hi and self.end_hi >= lo

    def surely_overlaps(self, lo: float, hi: float) -> bool:
        """Whether the record falls (at least partly) within [lo, hi] however its
        partial dates are completed."""
        return self.start_hi <= hi and self.end_lo >= lo


@dataclass(frozen=True, slots=True)
class ResourceFacts:
    """What the consent rules may look at in one resource, computed once.

    ``time`` is None when the record carries no readable clinical date. ``authors``
    holds ``Type/id`` keys and ``identifier:system|value`` keys of the references that
    authored it; ``links`` the ``Type/id`` keys it points at through clinical links.
    """

    resource_type: str
    labels: frozenset[str]
    codings: frozenset[Coding]
    time: ClinicalTime | None = None
    authors: frozenset[str] = frozenset()
    links: frozenset[str] = frozenset()


def parse_fhir_time(value: str, *, end: bool) -> datetime:
    """A FHIR date, dateTime or instant as an aware UTC datetime.

    A partial value stands for the whole of its year, month or day: ``end`` picks its
    last moment rather than its first. Raises ValueError on anything else.
    """
    if len(value) == 4:  # YYYY
        day = date(int(value), 12 if end else 1, 31 if end else 1)
    elif len(value) == 7:  # YYYY-MM
        year, month = int(value[:4]), int(value[5:7])
        day = date(year, month, 1)
        if end:
            day = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
    elif len(value) == 10:
        day = date.fromisoformat(value)
    else:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    moment = time.max if end else time.min
    return datetime.combine(day, moment, tzinfo=UTC)


def time_bounds(value: str) -> tuple[float, float]:
    """The first and last moment (POSIX seconds) a FHIR date/dateTime may stand for."""
    if len(value) > 10:  # a full dateTime or instant: one moment
        moment = parse_fhir_time(value, end=False).timestamp()
        return moment, moment
    return (
        parse_fhir_time(value, end=False).timestamp(),
        parse_fhir_time(value, end=True).timestamp(),
    )


def _period_time(start: Any, end: Any) -> ClinicalTime | None:
    has_start, has_end = isinstance(start, str), isinstance(end, str)
    if not (has_start or has_end):
        return None
    end_lo, end_hi = time_bounds(end) if has_end else (math.inf, math.inf)
    start_lo, start_hi = time_bounds(start) if has_start else (-math.inf, end_hi)
    return ClinicalTime(start_lo, start_hi, end_lo, end_hi)


def _walk(value: Any, path: Sequence[str]) -> Iterator[Any]:
    """The values at a dotted path, stepping through lists at every level."""
    if isinstance(value, list):
        for item in value:
            yield from _walk(item, path)
    elif not path:
        yield value
    elif isinstance(value, dict):
        inner = value.get(path[0])
        if inner is not None:
            yield from _walk(inner, path[1:])


def clinical_time(resource: Mapping[str, Any]) -> ClinicalTime | None:
    """When the record happened clinically, or None when it carries no readable date."""
    spec = _TIME_ELEMENTS.get(str(resource.get("resourceType")))
    if not spec:
        return None
    for element in spec:
        try:
            if isinstance(element, tuple):
                found = _period_time(resource.get(element[0]), resource.get(element[1]))
            else:
                value = next(_walk(resource, element.split(".")), None)
                if isinstance(value, str):
                    lo, hi = time_bounds(value)
                    found = ClinicalTime(lo, hi, lo, hi)
                elif isinstance(value, dict):
                    found = _period_time(value.get("start"), value.get("end"))
                else:
                    found = None
        except ValueError:
            found = None  # unreadable: try the next element, else the date is unknown
        if found is not None:
            return found
    return None


def reference_key(reference: str) -> str:
    """``Type/id`` from a relative, absolute or versioned reference."""
    path = reference.split("/_history/", 1)[0].rstrip("/")
    parts = path.split("/")
    return "/".join(parts[-2:])


def identifier_key(system: Any, value: Any) -> str:
    """How an author identifier is compared: exact system and value."""
    return f"identifier:{system or ''}|{value}"


def author_keys(resource: Mapping[str, Any]) -> frozenset[str]:
    """Keys of the references to whoever authored the record (see ``_AUTHOR_ELEMENTS``)."""
    spec = _AUTHOR_ELEMENTS.get(str(resource.get("resourceType")))
    if not spec:
        return frozenset()
    found: set[str] = set()
    for element in spec:
        for ref in _walk(resource, element.split(".")):
            if not isinstance(ref, dict):
                continue
            target = ref.get("reference")
            if isinstance(target, str) and "/" in target:
                found.add(reference_key(target))
            ident = ref.get("identifier")
            if isinstance(ident, dict) and ident.get("value"):
                found.add(identifier_key(ident.get("system"), ident["value"]))
    return frozenset(found)


def _codings_of(value: Any, out: set[Coding]) -> None:
    if isinstance(value, list):
        for item in value:
            _codings_of(item, out)
    elif isinstance(value, dict):
        if "coding" in value:
            _codings_of(value["coding"], out)
        system, code = value.get("system"), value.get("code")
        if isinstance(system, str) and isinstance(code, str):
            out.add((system, code))


def codings(resource: Mapping[str, Any]) -> frozenset[Coding]:
    """Every (system, code) that describes the resource's content, plus its meta.security."""
    out: set[Coding] = set()
    for element in _CODED_ELEMENTS:
        value = resource.get(element)
        if value is not None:
            _codings_of(value, out)
    meta = resource.get("meta")
    if isinstance(meta, dict) and "security" in meta:
        _codings_of(meta["security"], out)
    return frozenset(out)


def _references(value: Any, out: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _references(item, out)
    elif isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str):
            out.append(ref)
        for key, inner in value.items():
            if key != "reference" and isinstance(inner, dict | list):
                _references(inner, out)


class SensitivityClassifier:
    """Puts resources in sensitive categories according to the rules data."""

    def __init__(self, rules: Mapping[str, Any], *, cache_size: int = 200_000) -> None:
        self._label_systems = frozenset(rules.get("label_systems", ()))
        self._exact: dict[Coding, set[str]] = {}
        self._prefixes: dict[str, list[tuple[str, str]]] = {}
        self.categories: dict[str, str] = {}
        for category, spec in rules["categories"].items():
            self.categories[category] = spec.get("display", category)
            for system, codes in spec.get("codes", {}).items():
                for code in codes:
                    self._exact.setdefault((system, code), set()).add(category)
            for system, prefixes in spec.get("prefixes", {}).items():
                for prefix in prefixes:
                    self._prefixes.setdefault(system, []).append((prefix, category))
        self._propagate = tuple(rules.get("propagate_through", ()))
        self.cache_size = cache_size
        self._remembered: dict[tuple[bytes, bool, bool, bool], ResourceFacts] = {}

    @classmethod
    def default(cls) -> SensitivityClassifier:
        return _default_classifier()

    def categories_of_codings(self, found: Iterable[Coding]) -> frozenset[str]:
        result: set[str] = set()
        for system, code in found:
            if system in self._label_systems and code in self.categories:
                result.add(code)
            exact = self._exact.get((system, code))
            if exact:
                result.update(exact)
            for prefix, category in self._prefixes.get(system, ()):
                if code.startswith(prefix):
                    result.add(category)
        return frozenset(result)

    def links_of(self, resource: Mapping[str, Any]) -> frozenset[str]:
        """``Type/id`` of every record this one points at through a clinical link
        (the rules' ``propagate_through`` elements, walked to any depth)."""
        found: list[str] = []
        for element in self._propagate:
            inner = resource.get(element)
            if inner is not None:
                _references(inner, found)
        return frozenset(reference_key(ref) for ref in found) if found else frozenset()

    def facts(
        self,
        resource: Mapping[str, Any],
        *,
        with_time: bool = True,
        with_authors: bool = True,
        with_links: bool = True,
    ) -> ResourceFacts:
        """The facts of one resource on its own (no inherited categories).

        The ``with_*`` switches skip details no rule in force looks at (each costs a
        few microseconds per resource); a skipped detail reads as absent.
        """
        found = codings(resource)
        return ResourceFacts(
            resource_type=str(resource.get("resourceType", "")),
            labels=self.categories_of_codings(found),
            codings=found,
            time=clinical_time(resource) if with_time else None,
            authors=author_keys(resource) if with_authors else frozenset(),
            links=self.links_of(resource) if with_links else frozenset(),
        )

    def remembered_facts(
        self,
        resource: Mapping[str, Any],
        digest: bytes | None,
        *,
        with_time: bool = True,
        with_authors: bool = True,
        with_links: bool = True,
    ) -> ResourceFacts:
        """:meth:`facts`, remembered by ``digest`` (the content's, see federation/fanout.py):
        a record is classified once, not on every request that returns it. Facts are
        immutable and depend on the content alone, so sharing them is safe."""
        if digest is None or self.cache_size == 0:
            return self.facts(
                resource, with_time=with_time, with_authors=with_authors, with_links=with_links
            )
        key = (digest, with_time, with_authors, with_links)
        found = self._remembered.get(key)
        if found is None:
            found = self.facts(
                resource, with_time=with_time, with_authors=with_authors, with_links=with_links
            )
            if len(self._remembered) >= self.cache_size:
                # Drop the oldest tenth: dicts keep insertion order, so this is FIFO.
                for old in list(islice(self._remembered, max(1, self.cache_size // 10))):
                    self._remembered.pop(old, None)
            self._remembered[key] = found
        return found

    def facts_for_all(
        self,
        resources: Sequence[Mapping[str, Any]],
        origins: Sequence[str],
        *,
        digests: Sequence[bytes | None] | None = None,
        with_time: bool = True,
        with_authors: bool = True,
        with_links: bool = True,
    ) -> list[ResourceFacts]:
        """Facts for a set of resources, with categories inherited along clinical links.

        ``origins`` says which node each resource came from: references are local to a
        node, so ``Encounter/1`` at one node is not ``Encounter/1`` at another. The
        ``with_*`` switches are as for :meth:`facts`; links are still followed for
        inherited categories when ``with_links`` is off, just not kept.
        """
        facts = [
            self.remembered_facts(
                r, d, with_time=with_time, with_authors=with_authors, with_links=with_links
            )
            for r, d in zip(resources, digests or [None] * len(resources), strict=True)
        ]
        if not any(f.labels for f in facts):
            return facts
        link_sets = (
            [f.links for f in facts] if with_links else [self.links_of(r) for r in resources]
        )
        keys = [
            f"{o}|{r.get('resourceType')}/{r.get('id')}"
            for r, o in zip(resources, origins, strict=True)
        ]
        links = [
            [f"{origin}|{ref}" for ref in found]
            for found, origin in zip(link_sets, origins, strict=True)
        ]
        labels = {key: f.labels for key, f in zip(keys, facts, strict=True)}
        # Chains are short (observation -> encounter -> condition); iterate to a fixed point.
        for _ in range(len(self._propagate) + 1):
            changed = False
            for key, targets in zip(keys, links, strict=True):
                inherited = labels[key]
                for target in targets:
                    extra = labels.get(target)
                    if extra and not extra <= inherited:
                        inherited = inherited | extra
                if inherited != labels[key]:
                    labels[key] = inherited
                    changed = True
            if not changed:
                break
        return [
            f if labels[k] == f.labels else replace(f, labels=labels[k])
            for k, f in zip(keys, facts, strict=True)
        ]


@lru_cache(maxsize=1)
def _default_classifier() -> SensitivityClassifier:
    text = resources.files("healthycity.exchange").joinpath("data/sensitive_codes.json")
    return SensitivityClassifier(orjson.loads(text.read_bytes()))
