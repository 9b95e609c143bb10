"""The audit trail: every request, allowed or refused, as a FHIR AuditEvent in a hash chain.

Each row's hash covers its own content and the previous row's hash, so editing any row,
deleting one, or cutting rows off the end breaks the chain in a way :func:`verify`
reports. Rows are appended in the *caller's* transaction, the one in which the access
decision was taken: the decision and its record commit together or not at all, so no
response leaves the exchange unrecorded. Appends are serialised on the single chain-head
row (a row lock on PostgreSQL, the write lock on SQLite), which keeps the chain linear
under concurrent requests.

Database triggers (see the migration) refuse UPDATE and DELETE as well; the chain is
what catches anyone who bypasses them. It cannot, on its own, catch someone able to
rewrite the whole table *and* the head consistently: publish the head hash
(``audit verify`` prints it) somewhere they cannot reach if that matters.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from healthycity.exchange.models import AuditHead, AuditRecord

GENESIS_HASH = "0" * 64
_HEAD: Table = AuditHead.__table__  # type: ignore[assignment]
_EVENTS: Table = AuditRecord.__table__  # type: ignore[assignment]
ROLE_SYSTEM = "https://fhir.nhs.uk/Id/sds-role-code"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
UNAUTHENTICATED_SYSTEM = "urn:healthycity:exchange:unauthenticated"

#: AuditEvent.outcome: 0 success, 4 minor failure (refused), 8 serious failure.
Outcome = Literal["0", "4", "8", "12"]


@dataclass
class AuditEntry:
    """What happened, in the exchange's terms; :func:`audit_event` makes it FHIR."""

    interaction: str  # FHIR restful-interaction: read, search-type, operation, create
    action: str  # what was asked, e.g. "search Observation", "$everything"
    outcome: Outcome
    outcome_desc: str
    subject: str
    role: str
    organisation: str | None
    issuer: str | None
    purpose: str = "TREAT"
    person_id: str | None = None
    query: str | None = None
    client_address: str | None = None
    returned: Mapping[str, int] = field(default_factory=dict)
    withheld: int = 0
    withheld_reasons: Mapping[str, int] = field(default_factory=dict)
    redacted: int = 0
    overridden: int = 0
    break_glass_reason: str | None = None
    node_issues: tuple[str, ...] = ()

    @property
    def action_code(self) -> str:
        return {"create": "C", "update": "U", "delete": "D", "operation": "E"}.get(
            self.interaction, "R"
        )


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def audit_event(entry: AuditEntry, *, event_id: str, recorded: str) -> dict[str, Any]:
    """The FHIR R4 AuditEvent for ``entry`` (IHE BALP-style, REST interaction)."""
    agents: list[dict[str, Any]] = [
        {
            "type": {"coding": [_coding(ROLE_SYSTEM, entry.role)]},
            "who": {
                "identifier": {
                    "system": entry.issuer or UNAUTHENTICATED_SYSTEM,
                    "value": entry.subject,
                }
            },
            "requestor": True,
        }
    ]
    if entry.client_address:
        agents[0]["network"] = {"address": entry.client_address, "type": "2"}
    if entry.organisation:
        agents.append(
            {
                "type": {
                    "coding": [
                        _coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV")
                    ]
                },
                "who": {"identifier": {"system": ODS_SYSTEM, "value": entry.organisation}},
                "requestor": False,
            }
        )
    entities: list[dict[str, Any]] = []
    if entry.person_id:
        entities.append(
            {
                "what": {"reference": f"Patient/{entry.person_id}"},
                "type": _coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1"),
                "role": _coding("http://terminology.hl7.org/CodeSystem/object-role", "1"),
            }
        )
    if entry.query:
        entities.append(
            {
                "type": _coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2"),
                "role": _coding("http://terminology.hl7.org/CodeSystem/object-role", "24"),
                "query": base64.b64encode(entry.query.encode()).decode(),
            }
        )
    details = [
        {"type": "returned", "valueString": _counts(entry.returned) or "none"},
        {"type": "withheld", "valueString": str(entry.withheld)},
    ]
    if entry.withheld_reasons:
        details.append({"type": "withheld-reasons", "valueString": _counts(entry.withheld_reasons)})
    if entry.redacted:
        details.append({"type": "redacted", "valueString": str(entry.redacted)})
    if entry.break_glass_reason:
        details.append({"type": "break-glass-reason", "valueString": entry.break_glass_reason})
        details.append({"type": "break-glass-overrode", "valueString": str(entry.overridden)})
    for issue in entry.node_issues:
        details.append({"type": "node-issue", "valueString": issue})
    entities.append(
        {
            "type": _coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2"),
            "role": _coding("http://terminology.hl7.org/CodeSystem/object-role", "4"),
            "description": "disclosure summary",
            "detail": details,
        }
    )
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": event_id,
        "type": _coding(
            "http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation"
        ),
        "subtype": [_coding("http://hl7.org/fhir/restful-interaction", entry.interaction)],
        "action": entry.action_code,
        "recorded": recorded,
        "outcome": entry.outcome,
        "outcomeDesc": f"{entry.action}: {entry.outcome_desc}",
        "agent": agents,
        "source": {
            "observer": {"display": "healthycity pan-London exchange"},
            "type": [
                _coding(
                    "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "4",
                    "Application Server",
                )
            ],
        },
        "entity": entities,
    }
    if entry.purpose:
        event["purposeOfEvent"] = [
            {
                "coding": [
                    _coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", entry.purpose)
                ]
            }
        ]
    return event


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(counts.items()) if value)


def _row_hash(row: Mapping[str, Any]) -> str:
    material = orjson.dumps(
        [
            row["seq"],
            row["recorded"],
            row["person_id"],
            row["agent_subject"],
            row["agent_role"],
            row["agent_organisation"],
            row["action"],
            row["outcome"],
            row["body"],
            row["prev_hash"],
        ]
    )
    return hashlib.sha256(material).hexdigest()


def append(session: Session, entry: AuditEntry, *, now: datetime | None = None) -> int:
    """Append ``entry`` to the chain inside the caller's transaction; return its seq."""
    return append_many(session, [(entry, now or datetime.now(UTC))])[0]


def append_many(session: Session, entries: Sequence[tuple[AuditEntry, datetime]]) -> list[int]:
    """Append entries, in order, inside the caller's transaction; return their seqs.

    The first statement claims the sequence numbers on the chain-head row and reads the
    previous hash in one go; it takes the row's lock (the write lock on SQLite), so
    concurrent appends queue here and each batch sees its predecessor's hash. A batch
    costs three statements however many entries it holds, which is what lets the
    exchange record a busy minute's requests without queueing on the audit.
    """
    if not entries:
        return []
    connection = session.connection()  # Core statements: this runs on every request
    last_seq, head_hash = connection.execute(
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(seq=_HEAD.c.seq + len(entries))
        .returning(_HEAD.c.seq, _HEAD.c.hash)
    ).one()
    first = int(last_seq) - len(entries) + 1
    rows: list[dict[str, Any]] = []
    previous = str(head_hash)
    for offset, (entry, moment) in enumerate(entries):
        recorded = _timestamp(moment)
        body = orjson.dumps(
            audit_event(entry, event_id=str(uuid.uuid4()), recorded=recorded),
            option=orjson.OPT_SORT_KEYS,
        ).decode()
        row: dict[str, Any] = {
            "seq": first + offset,
            "recorded": recorded,
            "person_id": entry.person_id,
            "agent_subject": entry.subject[:200],
            "agent_role": entry.role[:40],
            "agent_organisation": (entry.organisation or "")[:40],
            "action": entry.action[:60],
            "outcome": entry.outcome,
            "body": body,
            "prev_hash": previous,
        }
        row["hash"] = previous = _row_hash(row)
        rows.append(row)
    connection.execute(insert(_EVENTS), rows)
    connection.execute(update(_HEAD).where(_HEAD.c.id == 1).values(hash=previous))
    return [row["seq"] for row in rows]


@dataclass
class VerifyReport:
    """The result of checking the whole chain."""

    rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_COLUMNS = (
    "seq",
    "recorded",
    "person_id",
    "agent_subject",
    "agent_role",
    "agent_organisation",
    "action",
    "outcome",
    "body",
    "prev_hash",
    "hash",
)


def verify(session: Session, *, max_problems: int = 20) -> VerifyReport:
    """Walk the chain from the start; report edits, deletions and truncation."""
    report = VerifyReport()
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    if head is None:
        report.problems.append("the chain head row is missing")
        return report
    report.head_seq, report.head_hash = head.seq, head.hash
    expected_seq, previous = 1, GENESIS_HASH
    columns = [getattr(AuditRecord, name) for name in _COLUMNS]
    result = session.execute(select(*columns).order_by(AuditRecord.seq)).yield_per(2000)
    for values in result:
        row = dict(zip(_COLUMNS, values, strict=True))
        report.rows += 1
        if row["seq"] != expected_seq:
            report.problems.append(
                f"rows {expected_seq}..{row['seq'] - 1} are missing (deleted)"
                if row["seq"] > expected_seq
                else f"sequence {row['seq']} is out of order"
            )
        if row["prev_hash"] != previous:
            report.problems.append(f"row {row['seq']} does not follow its predecessor")
        if _row_hash(row) != row["hash"]:
            report.problems.append(f"row {row['seq']} was altered after it was written")
        previous, expected_seq = row["hash"], row["seq"] + 1
        if len(report.problems) >= max_problems:
            report.problems.append("stopping: too many problems")
            return report
    if head.seq != expected_seq - 1 or head.hash != previous:
        if head.seq > expected_seq - 1:
            report.problems.append(
                f"rows {expected_seq}..{head.seq} are missing from the end (deleted)"
            )
        else:
            report.problems.append("the chain head does not match the last row (head altered)")
    return report


def events_for_person(session: Session, person_id: str) -> Iterator[dict[str, Any]]:
    """The AuditEvents recorded about one person, newest first (who saw their record)."""
    rows = session.execute(
        select(AuditRecord.body)
        .where(AuditRecord.person_id == person_id)
        .order_by(AuditRecord.seq.desc())
    ).scalars()
    for body in rows:
        event: dict[str, Any] = orjson.loads(body)
        yield event
