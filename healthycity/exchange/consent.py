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
  (security label / sensitive category, code, resource type, specific records).
- The most specific applicable provision decides; a nested provision without a type is
  an exception to its parent (the opposite type). The root's type, when missing, comes
  from ``policyRule`` (OPTOUT means deny).
- Across several Consents, any deny wins.
- A condition the engine cannot evaluate never widens sharing: it stops a *permit*
  from applying, and is ignored (so the deny applies more widely) for a *deny*.
- Break-glass overrides every withholding, but the engine still works out what it would
  have withheld so the audit record says exactly what the emergency exposed.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from healthycity.exchange.sensitivity import ResourceFacts, SensitivityClassifier

Effect = Literal["permit", "deny"]
PERMIT: Effect = "permit"
DENY: Effect = "deny"

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
_READ_ACTIONS = frozenset({"access", "use", "disclose"})
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
    records: frozenset[str] = frozenset()  # "Type/id"
    unsupported: tuple[str, ...] = ()
    children: tuple[Provision, ...] = ()

    @property
    def has_data_conditions(self) -> bool:
        return bool(self.labels or self.codes or self.classes or self.records)

    def matches_requester(self, who: Requester, now: datetime) -> bool:
        if self.unsupported and self.effect == PERMIT:
            return False
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

    def matches_data(self, facts: ResourceFacts, ref: str) -> bool:
        if self.labels and not (self.labels & facts.labels):
            return False
        if self.codes and not (self.codes & facts.codings):
            return False
        if self.classes and facts.resource_type not in self.classes:
            return False
        return not (self.records and ref not in self.records)

    def always_denies(self, who: Requester, now: datetime) -> bool:
        """Whether, for ``who``, every resource this provision covers is denied.

        Used only to reject a request early; answering False when unsure is safe,
        because each resource is still checked one by one.
        """
        applicable = [c for c in self.children if c.matches_requester(who, now)]
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
        if self.records:
            parts.append("record")
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


def _parse_instant(value: str, *, end: bool) -> datetime:
    """FHIR date or dateTime to an aware UTC instant; a date covers the whole day."""
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
    records: set[str] = set()
    unsupported: list[str] = []
    for item in node.get("data", []):
        ref = (item.get("reference") or {}).get("reference")
        if item.get("meaning") == "authoredby" or not isinstance(ref, str):
            unsupported.append("data")
        else:
            records.add("/".join(ref.split("/")[-2:]))
    if "dataPeriod" in node:
        unsupported.append("dataPeriod")
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
        records=frozenset(records),
        unsupported=tuple(unsupported),
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
    return ConsentDirective(str(resource.get("id", "")), _compile(root, root_type))


def _check_types(node: Mapping[str, Any]) -> None:
    kind = node.get("type")
    if kind is not None and kind not in (PERMIT, DENY):
        raise ConsentFormatError(f"provision type must be permit or deny, not {kind!r}")
    for child in node.get("provision", []):
        _check_types(child)


def _decide(
    node: Provision, who: Requester, now: datetime, facts: ResourceFacts | None, ref: str
) -> Provision | None:
    """The provision that decides for this requester and resource, if any applies."""
    if not node.matches_requester(who, now):
        return None
    if facts is None:
        if node.has_data_conditions:
            return None
    elif not node.matches_data(facts, ref):
        return None
    deciders = [d for child in node.children if (d := _decide(child, who, now, facts, ref))]
    for decider in deciders:
        if decider.effect == DENY:
            return decider
    return deciders[0] if deciders else node


@dataclass
class ConsentOutcome:
    """What a completed session did; the audit record carries it."""

    verdict: Verdict
    returned: int = 0
    withheld: int = 0
    redacted: int = 0
    overridden: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


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

    def reason_withheld(self, facts: ResourceFacts, ref: str) -> str | None:
        """Why the consent rules withhold this resource, or None if they allow it."""
        for directive in self.directives:
            decider = _decide(directive.root, self.requester, self.now, facts, ref)
            if decider is not None and decider.effect == DENY:
                return decider.describe()
        return None

    def can_see(self, facts: ResourceFacts, ref: str) -> bool:
        """Whether the requester may see this resource at all."""
        if self.outcome.verdict is Verdict.REJECT:
            self.outcome.withheld += 1
            self.outcome.reasons["deny all"] += 1
            return False
        reason = self.reason_withheld(facts, ref)
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
        shown: dict[str, Any] = dict(resource)
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
        return shown

    def complete(self) -> ConsentOutcome:
        return self.outcome


def _is_restricted(resource: Mapping[str, Any]) -> bool:
    for label in (resource.get("meta") or {}).get("security", []):
        if label.get("system") == CONFIDENTIALITY_SYSTEM and label.get("code") in ("R", "V"):
            return True
    return False


def reference_key(reference: str) -> str:
    """``Type/id`` from a relative, absolute or versioned reference."""
    path = reference.split("/_history/", 1)[0].rstrip("/")
    parts = path.split("/")
    return "/".join(parts[-2:])


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

    @property
    def ref(self) -> str:
        return f"{self.resource.get('resourceType')}/{self.resource.get('id')}"


@dataclass(frozen=True)
class Release:
    """What may leave the exchange, and the consent outcome to audit."""

    resources: list[tuple[dict[str, Any], str]]
    outcome: ConsentOutcome


def release(
    session: ConsentSession,
    candidates: Sequence[Candidate],
    classifier: SensitivityClassifier | None = None,
) -> Release:
    """The choke point: start, can_see each candidate, will_see each survivor, complete."""
    classifier = classifier or SensitivityClassifier.default()
    verdict = session.start()
    if verdict is Verdict.REJECT:
        for _ in candidates:
            session.outcome.withheld += 1
            session.outcome.reasons["deny all"] += 1
        return Release([], session.complete())
    facts = classifier.facts_for_all(
        [c.resource for c in candidates], [c.origin for c in candidates]
    )
    kept: list[Candidate] = []
    withheld: set[str] = set()
    for candidate, fact in zip(candidates, facts, strict=True):
        if session.can_see(fact, candidate.ref):
            kept.append(candidate)
        else:
            withheld.add(candidate.ref)
    frozen = frozenset(withheld)
    shown = [(session.will_see(c.resource, frozen), c.origin) for c in kept]
    return Release(shown, session.complete())
