"""The consent engine: what a citizen has said about sharing, applied to every response.

A citizen states their wishes once, as FHIR Consent resources. The engine reads them
into a small tree of provisions and answers, for one requester and one resource,
"may this be shared?". It follows HAPI FHIR's consent service in shape: a session is
*started* for a request (which may reject it outright, as with a full opt-out), each
candidate resource is asked *can_see* (withhold or not) and then *will_see* (redact what
remains), and the session is *completed* with the counts the audit trail records.
:func:`release` runs those hooks in order and is the one choke point every response
passes through.

Semantics, chosen to be explainable to a citizen:

- With no Consent on file, records are shared (the NHS default for direct care).
- A provision applies when all of its conditions match: actor (the requesting
  organisation or practitioner), purpose, period, action, and data conditions
  (security label / sensitive category, code, resource type, ``dataPeriod``, and
  ``data`` references with their ``meaning``).
- ``dataPeriod`` matches a record whose clinical time (see
  :mod:`~healthycity.exchange.sensitivity`) overlaps the period. A partial date stands
  for its whole year/month/day: a deny applies when the record *could* overlap, a permit
  only when it *certainly* does. A record with no readable date could be from any time.
- ``data.meaning``: ``instance`` is the referenced record only; ``dependents`` (as the
  FHIR code system defines it) adds records that point at it through a clinical link;
  ``related`` adds the records *it* points at through a clinical link, which the engine
  can only know when that record is in the same response; ``authoredby`` matches records
  whose recorder/performer/author/... reference is the named practitioner, role or
  organisation (by ``Type/id``, or by identifier system and value).
- The most specific applicable provision decides; a nested provision without a type is
  an exception to its parent (the opposite type). The root's type, when missing, comes
  from ``policyRule`` (OPTOUT means deny).
- Across several Consents, any deny wins.
- A condition the engine cannot evaluate for a record (an unsupported condition, a
  missing date, a ``related`` record absent from the response) never widens sharing:
  the record is withheld if it would be withheld whichever way the condition went.
  In effect an undeterminable condition counts as met for a deny (and for reaching the
  denials nested under a permit) and as not met for a permit.
- Break-glass overrides every withholding, but the engine still works out what it would
  have withheld so the audit record says exactly what the emergency exposed.
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from healthycity.exchange.access.sensitivity import (
    ResourceFacts,
    SensitivityClassifier,
    identifier_key,
    parse_fhir_time,
    reference_key,
)

Effect = Literal["permit", "deny"]
PERMIT: Effect = "permit"
DENY: Effect = "deny"

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
_READ_ACTIONS = frozenset({"access", "use", "disclose"})
Meaning = Literal["instance", "related", "dependents", "authoredby"]
_MEANINGS: dict[str, Meaning] = {
    "instance": "instance",
    "related": "related",
    "dependents": "dependents",
    "authoredby": "authoredby",
}
_MEANING_TEXT: dict[str, str] = {
    "instance": "record",
    "related": "record and what it refers to",
    "dependents": "record and what refers to it",
    "authoredby": "authored by named author",
}
#: Patient elements withheld on a restricted record, as PDS does for "S"-flagged patients.
_RESTRICTED_PATIENT_ELEMENTS = ("address", "telecom", "contact", "generalPractitioner")


class ConsentFormatError(ValueError):
    """A Consent the engine cannot read safely (it is rejected, never half-applied)."""


class Verdict(enum.Enum):
    """How a request may proceed, decided once at start."""

    PROCEED = "proceed"  # filter each resource
    REJECT = "reject"  # nothing may be shared with this requester
    AUTHORIZED = "authorized"  # consent does not restrict (self-access, break-glass)


@dataclass(frozen=True, slots=True)
class Requester:
    """Who is asking, as far as consent rules care."""

    organisation: str | None
    practitioner: str | None
    purpose: str = "TREAT"


@dataclass(frozen=True, slots=True)
class DataItem:
    """One ``provision.data`` entry: the record(s) named and how far the rule reaches.

    ``keys`` are ``Type/id`` (and, for ``authoredby``, ``identifier:system|value``).
    """

    meaning: Meaning
    keys: frozenset[str]


@dataclass(frozen=True, slots=True)
class EvaluationContext:
    """What one response lets the engine know beyond a single record: for each record
    named by a ``related`` condition that is present in the response, the
    ``(origin, Type/id)`` of every record it points at through a clinical link."""

    origin: str = ""
    related_targets: Mapping[str, frozenset[tuple[str, str]]] = field(default_factory=dict)


_NO_CONTEXT = EvaluationContext()


@dataclass(frozen=True, slots=True)
class Provision:
    """One rule of a Consent; ``children`` are its exceptions."""

    effect: Effect
    organisations: frozenset[str] = frozenset()
    practitioners: frozenset[str] = frozenset()
    other_actors: bool = False  # actors the requester can never be (patients, groups)
    purposes: frozenset[str] = frozenset()
    starts: datetime | None = None
    ends: datetime | None = None
    reading: bool = True  # False when the listed actions do not include reading
    labels: frozenset[str] = frozenset()
    codes: frozenset[tuple[str, str]] = frozenset()
    classes: frozenset[str] = frozenset()
    data: tuple[DataItem, ...] = ()
    #: ``dataPeriod`` as POSIX seconds, first and last moment (open ends are infinite).
    data_period: tuple[float, float] | None = None
    data_period_text: str = ""
    unsupported: tuple[str, ...] = ()
    children: tuple[Provision, ...] = ()

    @property
    def has_data_conditions(self) -> bool:
        return bool(
            self.labels
            or self.codes
            or self.classes
            or self.data
            or self.data_period is not None
            or self.unsupported
        )

    @property
    def records(self) -> frozenset[str]:
        """The records named by ``instance`` conditions (``Type/id``)."""
        return frozenset(k for item in self.data if item.meaning == "instance" for k in item.keys)

    def matches_requester(self, who: Requester, now: datetime) -> bool:
        """Whether the requester-side conditions hold (always determinable)."""
        if not self.reading:
            return False
        if self.starts is not None and now < self.starts:
            return False
        if self.ends is not None and now > self.ends:
            return False
        if self.purposes and who.purpose not in self.purposes:
            return False
        if self.organisations or self.practitioners or self.other_actors:
            return (who.organisation is not None and who.organisation in self.organisations) or (
                who.practitioner is not None and who.practitioner in self.practitioners
            )
        return True

    def matches_data(
        self, facts: ResourceFacts, ref: str, context: EvaluationContext = _NO_CONTEXT
    ) -> bool | None:
        """Whether the data conditions hold for this record: True, False, or None when
        that cannot be determined (the caller resolves None against sharing)."""
        if self.labels and not (self.labels & facts.labels):
            return False
        if self.codes and not (self.codes & facts.codings):
            return False
        if self.classes and facts.resource_type not in self.classes:
            return False
        result: bool | None = None if self.unsupported and not self.data else True
        if self.data_period is not None:
            when = facts.time
            if when is None:
                result = None
            elif not when.may_overlap(*self.data_period):
                return False
            elif not when.surely_overlaps(*self.data_period):
                result = None
        if self.data:
            # Entries are alternatives: with an unevaluable one among them, "no match"
            # among the others is not an answer.
            found = _data_match(self.data, facts, ref, context)
            if found is False and not self.unsupported:
                return False
            if found is not True:
                result = None
        return result

    def always_denies(self, who: Requester, now: datetime) -> bool:
        """Whether, for ``who``, every resource this provision covers is denied.

        Used only to reject a request early; answering False when unsure is safe,
        because each resource is still checked one by one. A permit with an unsupported
        condition can never apply, so it is no exception here.
        """
        applicable = [
            c
            for c in self.children
            if c.matches_requester(who, now) and not (c.effect == PERMIT and c.unsupported)
        ]
        if any(not c.has_data_conditions and c.always_denies(who, now) for c in applicable):
            return True
        if self.effect == PERMIT:
            return False
        return all(c.always_denies(who, now) for c in applicable)

    def describe(self) -> str:
        parts: list[str] = [self.effect]
        if self.labels:
            parts.append("category " + ",".join(sorted(self.labels)))
        if self.codes:
            parts.append("code " + ",".join(sorted(c for _, c in self.codes)))
        if self.classes:
            parts.append("type " + ",".join(sorted(self.classes)))
        if self.data_period is not None:
            parts.append("data period " + self.data_period_text)
        meanings = dict.fromkeys(_MEANING_TEXT[item.meaning] for item in self.data)
        parts.extend(meanings)
        if self.unsupported:
            parts.append("unevaluable " + ",".join(sorted(set(self.unsupported))))
        if self.organisations or self.practitioners:
            parts.append("to named recipient")
        if len(parts) == 1:
            parts.append("all")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class ConsentDirective:
    """One active privacy Consent, compiled."""

    consent_id: str
    root: Provision


def _data_match(
    items: Sequence[DataItem], facts: ResourceFacts, ref: str, context: EvaluationContext
) -> bool | None:
    """Whether any ``data`` item covers this record (True), none can (False), or one
    might but the response does not say (None)."""
    unknown = False
    for item in items:
        if ref in item.keys and item.meaning != "authoredby":
            return True
        if item.meaning == "dependents":
            if not item.keys.isdisjoint(facts.links):
                return True
        elif item.meaning == "authoredby":
            if not item.keys.isdisjoint(facts.authors):
                return True
        elif item.meaning == "related":
            for key in item.keys:
                targets = context.related_targets.get(key)
                if targets is None:
                    unknown = True  # the named record is not in this response
                elif (context.origin, ref) in targets:
                    return True
    return None if unknown else False


def _parse_instant(value: Any, *, end: bool) -> datetime:
    """A Consent's date or dateTime as an aware UTC instant (a partial date covers its
    whole year, month or day); an unreadable one makes the Consent unreadable."""
    try:
        return parse_fhir_time(str(value), end=end)
    except ValueError as error:
        raise ConsentFormatError(f"unreadable date {value!r}") from error


def _data_period(period: Any) -> tuple[tuple[float, float], str]:
    if not isinstance(period, Mapping):
        raise ConsentFormatError("dataPeriod must be a Period")
    start, end = period.get("start"), period.get("end")
    lo = _parse_instant(start, end=False).timestamp() if start is not None else -math.inf
    hi = _parse_instant(end, end=True).timestamp() if end is not None else math.inf
    return (lo, hi), f"{start or 'open'} to {end or 'open'}"


def _data_items(entries: Iterable[Mapping[str, Any]]) -> tuple[tuple[DataItem, ...], bool]:
    """The ``data`` entries the engine can evaluate, and whether any it cannot."""
    items: list[DataItem] = []
    unsupported = False
    for entry in entries:
        meaning = entry.get("meaning") or "instance"
        ref = entry.get("reference") or {}
        keys: set[str] = set()
        target = ref.get("reference")
        if isinstance(target, str) and "/" in target:
            keys.add(reference_key(target))
        identifier = ref.get("identifier") or {}
        if meaning == "authoredby" and identifier.get("value"):
            keys.add(identifier_key(identifier.get("system"), identifier["value"]))
        known = _MEANINGS.get(meaning) if isinstance(meaning, str) else None
        if known is None or not keys:
            unsupported = True
            continue
        items.append(DataItem(known, frozenset(keys)))
    return tuple(items), unsupported


def _codes_of(concepts: Iterable[Mapping[str, Any]]) -> frozenset[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for concept in concepts:
        for coding in concept.get("coding", [concept]):
            system, code = coding.get("system", ""), coding.get("code")
            if isinstance(system, str) and isinstance(code, str):
                found.add((system, code))
    return frozenset(found)


def _actor_keys(actors: Iterable[Mapping[str, Any]]) -> tuple[set[str], set[str], bool]:
    organisations: set[str] = set()
    practitioners: set[str] = set()
    other = False
    for actor in actors:
        ref = actor.get("reference") or {}
        target = ref.get("reference")
        identifier = ref.get("identifier") or {}
        if isinstance(target, str) and "/" in target:
            kind, _, ident = target.rstrip("/").rpartition("/")
            kind = kind.rsplit("/", 1)[-1]
            if kind == "Organization":
                organisations.add(ident)
            elif kind in ("Practitioner", "PractitionerRole"):
                practitioners.add(ident)
            else:
                other = True
        elif identifier.get("value"):
            if identifier.get("system") == ODS_SYSTEM or ref.get("type") == "Organization":
                organisations.add(str(identifier["value"]))
            else:
                practitioners.add(str(identifier["value"]))
        else:
            other = True
    return organisations, practitioners, other


def _compile(node: Mapping[str, Any], effect: Effect) -> Provision:
    organisations, practitioners, other = _actor_keys(node.get("actor", []))
    period = node.get("period") or {}
    actions = {code for _, code in _codes_of(node.get("action", []))}
    data, data_unsupported = _data_items(node.get("data", []))
    unsupported = ("data",) if data_unsupported else ()
    data_period, data_period_text = (
        _data_period(node["dataPeriod"]) if "dataPeriod" in node else (None, "")
    )
    labels = {code for _, code in _codes_of(node.get("securityLabel", []))}
    children = tuple(
        _compile(child, child.get("type") or (DENY if effect == PERMIT else PERMIT))
        for child in node.get("provision", [])
    )
    return Provision(
        effect=effect,
        organisations=frozenset(organisations),
        practitioners=frozenset(practitioners),
        other_actors=other,
        purposes=frozenset(code for _, code in _codes_of(node.get("purpose", []))),
        starts=_parse_instant(period["start"], end=False) if "start" in period else None,
        ends=_parse_instant(period["end"], end=True) if "end" in period else None,
        reading=not actions or bool(actions & _READ_ACTIONS),
        labels=frozenset(labels),
        codes=_codes_of(node.get("code", [])),
        classes=frozenset(code for _, code in _codes_of(node.get("class", []))),
        data=data,
        data_period=data_period,
        data_period_text=data_period_text,
        unsupported=unsupported,
        children=children,
    )


def compile_consent(resource: Mapping[str, Any]) -> ConsentDirective | None:
    """A directive from a FHIR Consent, or None when it does not govern sharing now.

    Only ``active`` patient-privacy Consents govern sharing. Raises ConsentFormatError
    for a resource that is not a Consent or whose provision types are not permit/deny.
    """
    if resource.get("resourceType") != "Consent":
        raise ConsentFormatError("not a Consent resource")
    if resource.get("status") != "active":
        return None
    scope_codes = {code for _, code in _codes_of([resource.get("scope") or {}])}
    if scope_codes and "patient-privacy" not in scope_codes:
        return None
    policy_rule = {code for _, code in _codes_of([resource.get("policyRule") or {}])}
    root = resource.get("provision") or {}
    root_type = root.get("type") or (DENY if "OPTOUT" in policy_rule else PERMIT)
    _check_types(root)
    try:
        compiled = _compile(root, root_type)
    except (AttributeError, TypeError, KeyError, ValueError) as error:
        if isinstance(error, ConsentFormatError):
            raise
        raise ConsentFormatError(f"unreadable provision: {error}") from error
    return ConsentDirective(str(resource.get("id", "")), compiled)


def _check_types(node: Mapping[str, Any]) -> None:
    kind = node.get("type")
    if kind is not None and kind not in (PERMIT, DENY):
        raise ConsentFormatError(f"provision type must be permit or deny, not {kind!r}")
    for child in node.get("provision", []):
        _check_types(child)


@dataclass(frozen=True, slots=True)
class Decision:
    """The worst case (for sharing) of one provision subtree for one record.

    ``provision`` is the deciding provision (None: the subtree says nothing) and
    ``uncertain`` says an undeterminable condition was resolved against sharing on the
    way, which the audit reason mentions.
    """

    provision: Provision | None
    uncertain: bool = False

    @property
    def denies(self) -> bool:
        return self.provision is not None and self.provision.effect == DENY


_SILENT = Decision(None)


def _decide(
    node: Provision,
    who: Requester,
    now: datetime,
    facts: ResourceFacts | None,
    ref: str,
    context: EvaluationContext = _NO_CONTEXT,
) -> Decision:
    """What decides for this requester and record, taking the worst case whenever a
    condition cannot be determined.

    Outcomes are ordered deny < silent < permit (silent is never better than permit:
    under a deny parent it leaves the deny in force). A provision whose data conditions
    cannot be determined may or may not apply, so its outcome is the worse of "silent"
    and what it would decide if it applied: a deny (its own or a nested one) stands,
    while a permit falls back to silent. The subtree outcome is monotone in its
    children's, so combining children's worst cases is itself a safe worst case.
    """
    if not node.matches_requester(who, now):
        return _SILENT
    applies: bool | None
    if facts is None:
        applies = None if node.has_data_conditions else True
    else:
        applies = node.matches_data(facts, ref, context)
    if applies is False:
        return _SILENT
    outcome = Decision(node)
    permit: Decision | None = None
    uncertain = False
    for child in node.children:
        decided = _decide(child, who, now, facts, ref, context)
        if decided.denies:
            outcome = decided
            break
        if decided.provision is not None and permit is None:
            permit = decided
        uncertain = uncertain or decided.uncertain
    else:
        if permit is not None:
            outcome = permit
        elif uncertain and node.effect == DENY:
            outcome = Decision(node, uncertain=True)  # an exception could not be confirmed
    if applies is None:
        if outcome.denies:
            return Decision(outcome.provision, uncertain=True)
        return Decision(None, uncertain=True)
    return outcome


@dataclass
class ConsentOutcome:
    """What a completed session did; the audit record carries it."""

    verdict: Verdict
    returned: int = 0
    withheld: int = 0
    redacted: int = 0
    overridden: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


def _requirements(
    directives: Sequence[ConsentDirective],
) -> tuple[frozenset[str], bool, bool, bool]:
    """What the directives' conditions look at: the records named by ``related``
    conditions, and whether any rule needs clinical times, authors or links."""
    seeds: set[str] = set()
    time = authors = links = False
    pending = [d.root for d in directives]
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        time = time or node.data_period is not None
        for item in node.data:
            if item.meaning == "related":
                seeds.update(item.keys)
                links = True
            elif item.meaning == "dependents":
                links = True
            elif item.meaning == "authoredby":
                authors = True
    return frozenset(seeds), time, authors, links


class ConsentSession:
    """Consent applied to one request; call the hooks through :func:`release`."""

    def __init__(
        self,
        directives: Sequence[ConsentDirective],
        requester: Requester,
        *,
        now: datetime,
        mode: Literal["normal", "break-glass", "self"] = "normal",
    ) -> None:
        self.directives = tuple(directives)
        self.requester = requester
        self.now = now
        self.mode = mode
        self.outcome = ConsentOutcome(Verdict.PROCEED)
        self._related_seeds, self.needs_time, self.needs_authors, self.needs_links = _requirements(
            self.directives
        )

    def start(self) -> Verdict:
        """Decide once for the whole request: reject on a whole-record denial."""
        verdict = Verdict.PROCEED
        if self.mode != "normal":
            verdict = Verdict.AUTHORIZED
        elif any(self._whole_record_denied(d) for d in self.directives):
            verdict = Verdict.REJECT
        self.outcome.verdict = verdict
        return verdict

    def _whole_record_denied(self, directive: ConsentDirective) -> bool:
        root = directive.root
        return (
            root.matches_requester(self.requester, self.now)
            and not root.has_data_conditions
            and root.always_denies(self.requester, self.now)
        )

    def reason_withheld(
        self, facts: ResourceFacts, ref: str, context: EvaluationContext = _NO_CONTEXT
    ) -> str | None:
        """Why the consent rules withhold this resource, or None if they allow it."""
        for directive in self.directives:
            decided = _decide(directive.root, self.requester, self.now, facts, ref, context)
            if decided.provision is not None and decided.denies:
                reason = decided.provision.describe()
                return f"{reason} (undetermined, withheld)" if decided.uncertain else reason
        return None

    def related_seeds(self) -> frozenset[str]:
        """Records named by ``related`` conditions: the response is searched for them."""
        return self._related_seeds

    def can_see(
        self,
        facts: ResourceFacts,
        ref: str,
        *,
        origin: str = "",
        related_targets: Mapping[str, frozenset[tuple[str, str]]] | None = None,
    ) -> bool:
        """Whether the requester may see this resource at all.

        ``origin`` and ``related_targets`` (from :func:`release`) let ``related``
        conditions be evaluated; without them those conditions are undeterminable and
        resolved against sharing.
        """
        if self.outcome.verdict is Verdict.REJECT:
            self.outcome.withheld += 1
            self.outcome.reasons["deny all"] += 1
            return False
        context = EvaluationContext(origin, related_targets) if related_targets else _NO_CONTEXT
        reason = self.reason_withheld(facts, ref, context)
        if reason is None:
            return True
        if self.outcome.verdict is Verdict.AUTHORIZED:
            self.outcome.overridden += int(self.mode == "break-glass")
            return True
        self.outcome.withheld += 1
        self.outcome.reasons[reason] += 1
        return False

    def will_see(self, resource: Mapping[str, Any], withheld: frozenset[str]) -> dict[str, Any]:
        """The resource as it may be shown: references to withheld records removed, and a
        restricted patient's contact details redacted (unless self or break-glass)."""
        # No copy unless something changes: candidates are the exchange's own dicts, and
        # copying 150 of them per request was measurable.
        shown: Mapping[str, Any] = resource
        changed = False
        if withheld:
            stripped = _without_references(shown, withheld)
            if stripped is not shown:
                shown = stripped
                changed = True
        if (
            resource.get("resourceType") == "Patient"
            and self.mode == "normal"
            and _is_restricted(resource)
        ):
            for element in _RESTRICTED_PATIENT_ELEMENTS:
                if element in shown:
                    shown = {k: v for k, v in shown.items() if k != element}
                    changed = True
        if changed:
            self.outcome.redacted += 1
        self.outcome.returned += 1
        return shown if isinstance(shown, dict) else dict(shown)

    def complete(self) -> ConsentOutcome:
        return self.outcome


def _is_restricted(resource: Mapping[str, Any]) -> bool:
    for label in (resource.get("meta") or {}).get("security", []):
        if label.get("system") == CONFIDENTIALITY_SYSTEM and label.get("code") in ("R", "V"):
            return True
    return False


def _without_references(value: Any, withheld: frozenset[str]) -> Any:
    """A copy of ``value`` with every Reference to a withheld record dropped.

    Returns ``value`` itself (not a copy) when nothing needed removing, so the common
    case allocates nothing.
    """
    if isinstance(value, dict):
        out: dict[str, Any] | None = None
        for key, inner in value.items():
            if isinstance(inner, dict) and _points_to(inner, withheld):
                out = out if out is not None else dict(value)
                del out[key]
                continue
            if isinstance(inner, dict | list):
                new = _without_references(inner, withheld)
                if new is not inner:
                    out = out if out is not None else dict(value)
                    out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        changed = False
        items: list[Any] = []
        for inner in value:
            if isinstance(inner, dict) and _points_to(inner, withheld):
                changed = True
                continue
            new = _without_references(inner, withheld) if isinstance(inner, dict | list) else inner
            changed = changed or new is not inner
            if isinstance(new, dict) and not new and inner:
                continue  # an element that held only the withheld reference goes entirely
            items.append(new)
        return items if changed else value
    return value


def _points_to(element: Mapping[str, Any], withheld: frozenset[str]) -> bool:
    ref = element.get("reference")
    return isinstance(ref, str) and reference_key(ref) in withheld


@dataclass(frozen=True, slots=True)
class Candidate:
    """A resource offered for release, and the node it came from."""

    resource: Mapping[str, Any]
    origin: str
    #: The digest of the resource as its node sent it (federation/fanout.py), when known: lets
    #: the classifier remember what it found in the same content last time.
    digest: bytes | None = None

    @property
    def ref(self) -> str:
        return f"{self.resource.get('resourceType')}/{self.resource.get('id')}"


@dataclass(frozen=True)
class Release:
    """What may leave the exchange, and the consent outcome to audit."""

    resources: list[tuple[dict[str, Any], str]]
    outcome: ConsentOutcome


def _related_targets(
    seeds: frozenset[str], candidates: Sequence[Candidate], facts: Sequence[ResourceFacts]
) -> dict[str, frozenset[tuple[str, str]]]:
    """For each ``related`` record present in this response, what it points at.

    Only the named record's own links are used, never a chain through other records,
    so whether a record is covered depends on the named record alone: when it is in
    the response the answer is exact, and when it is not the condition is
    undeterminable and resolved against sharing (a deny covers everything else it
    names; a permit covers nothing). Withholding the named record itself for another
    reason does not change what it points at.
    """
    if not seeds:
        return {}
    found: dict[str, set[tuple[str, str]]] = {}
    for candidate, fact in zip(candidates, facts, strict=True):
        ref = candidate.ref
        if ref in seeds:
            found.setdefault(ref, set()).update((candidate.origin, t) for t in fact.links)
    return {key: frozenset(targets) for key, targets in found.items()}


def release(
    session: ConsentSession,
    candidates: Sequence[Candidate],
    classifier: SensitivityClassifier | None = None,
    *,
    context: Sequence[Candidate] = (),
) -> Release:
    """The choke point: start, can_see each candidate, will_see each survivor, complete.

    ``context`` holds the person's other records in this answer that will not be shown
    (another type than was asked for, or refused by the role policy): they are never
    released, but what candidates inherit from them (an encounter *for* an HIV
    diagnosis) still counts, so withholding them cannot unmask a candidate.
    """
    classifier = classifier or SensitivityClassifier.default()
    verdict = session.start()
    if verdict is Verdict.REJECT:
        for _ in candidates:
            session.outcome.withheld += 1
            session.outcome.reasons["deny all"] += 1
        return Release([], session.complete())
    everything = [*candidates, *context]
    facts = classifier.facts_for_all(
        [c.resource for c in everything],
        [c.origin for c in everything],
        digests=[c.digest for c in everything],
        with_time=session.needs_time,
        with_authors=session.needs_authors,
        with_links=session.needs_links,
    )
    related_targets = _related_targets(session.related_seeds(), everything, facts)
    facts = facts[: len(candidates)]
    kept: list[Candidate] = []
    withheld: set[str] = set()
    for candidate, fact in zip(candidates, facts, strict=True):
        if session.can_see(
            fact, candidate.ref, origin=candidate.origin, related_targets=related_targets
        ):
            kept.append(candidate)
        else:
            withheld.add(candidate.ref)
    frozen = frozenset(withheld)
    shown = [(session.will_see(c.resource, frozen), c.origin) for c in kept]
    return Release(shown, session.complete())
