"""The audit trail: every request, allowed or refused, as a FHIR AuditEvent in a keyed chain.

The chain is core's tamper-evident log (:mod:`healthycity.core.tamper`): each row's MAC
(HMAC-SHA256 under ``HEALTHYCITY_EXCHANGE_AUDIT_KEY``, never stored in the database)
covers its own content and the previous row's MAC, so editing any row, deleting one, or
recomputing the chain without the key breaks it in a way :func:`verify` reports; signed
checkpoints written outside the database (``audit_checkpoint_path``) catch a tail cut
off with the head wound back. Rows are appended in the *caller's* transaction, the one
in which the access decision was taken: the decision and its record commit together or
not at all, so no response leaves the exchange unrecorded. Appends are serialised on
the single chain-head row (a row lock on PostgreSQL, the write lock on SQLite), which
keeps the chain linear under concurrent requests.

Database triggers (see the migrations) refuse UPDATE and DELETE as well; the chain is
what catches anyone who bypasses them. Rows written before migration 0005 carry the
old unkeyed SHA-256 link; the head row's ``legacy_until`` says where they end, and
every checkpoint seals that boundary (docs/decisions/0016-tamper-evident-audit.md).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import orjson
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

import healthycity.core.tamper as tamper
from healthycity.exchange.models import AuditHead, AuditRecord
from healthycity.exchange.settings import ExchangeSettings

GENESIS_HASH = tamper.GENESIS
VerifyReport = tamper.Report
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


def _material(row: Mapping[str, Any]) -> bytes:
    return orjson.dumps(
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


def _row_hash(row: Mapping[str, Any], key: bytes | None = None) -> str:
    """The row's link: HMAC under ``key``; without one, the unkeyed SHA-256 of the rows
    before the cut-over (and all that someone without the key can compute)."""
    if key is None:
        return hashlib.sha256(_material(row)).hexdigest()
    return tamper.link_mac(key, row["seq"], row["prev_hash"], _material(row))


_configured: list[tamper.TamperLog] = []


def log_for(settings: ExchangeSettings) -> tamper.TamperLog:
    """The exchange log's key and checkpoint sink, from its settings."""
    secret = settings.audit_key.get_secret_value() if settings.audit_key else None
    key = tamper.resolve_key(
        secret, environment=settings.environment, setting="HEALTHYCITY_EXCHANGE_AUDIT_KEY"
    )
    return tamper.TamperLog(
        name="exchange",
        key=key,
        sink=tamper.FileSink(settings.audit_checkpoint_path),
        every=settings.audit_checkpoint_every,
    )


def configure(log: tamper.TamperLog | None) -> None:
    """Use ``log`` for this process's appends and checks (``None``: read the settings
    again on next use). The app and the command line call it with their settings."""
    _configured.clear()
    if log is not None:
        _configured.append(log)


def current_log() -> tamper.TamperLog:
    if not _configured:
        _configured.append(log_for(ExchangeSettings()))
    return _configured[0]


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
    log = current_log()
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
        row["hash"] = previous = _row_hash(row, log.key)
        rows.append(row)
    connection.execute(insert(_EVENTS), rows)
    connection.execute(update(_HEAD).where(_HEAD.c.id == 1).values(hash=previous))
    if log.due(first - 1, int(last_seq)):
        seal = _seal(connection, int(last_seq), previous)
        tamper.after_commit(session, "exchange", partial(log.checkpoint, **seal))
    return [row["seq"] for row in rows]


def _seal(connection: Any, seq: int, head: str) -> dict[str, Any]:
    """What a checkpoint of the chain ending at ``seq``/``head`` says."""
    legacy_until = connection.execute(select(_HEAD.c.legacy_until).where(_HEAD.c.id == 1)).scalar()
    legacy_until = int(legacy_until or 0)
    wanted = {1, legacy_until} if seq else set()
    found = connection.execute(
        select(_EVENTS.c.seq, _EVENTS.c.hash).where(_EVENTS.c.seq.in_(wanted))
    ).all()
    macs = {int(row.seq): str(row.hash) for row in found}
    if seq == 1:
        macs[1] = head
    legacy = (
        (legacy_until, macs.get(legacy_until, "missing")) if legacy_until else (0, GENESIS_HASH)
    )
    return {"origin": macs.get(1, GENESIS_HASH), "seq": seq, "head": head, "legacy": legacy}


def checkpoint(session: Session, log: tamper.TamperLog | None = None) -> tamper.Checkpoint:
    """Sign and write a checkpoint of the chain as committed (``audit checkpoint``)."""
    log = log or current_log()
    connection = session.connection()
    seq, head = connection.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).one()
    return log.checkpoint(**_seal(connection, int(seq), str(head)))


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


def verify(
    session: Session, *, max_problems: int = 20, log: tamper.TamperLog | None = None
) -> tamper.Report:
    """Walk the chain from the start; report edits, deletions, truncation and any
    disagreement with the checkpoints outside the database."""
    log = log or current_log()
    head = session.execute(
        select(AuditHead.seq, AuditHead.hash, AuditHead.legacy_until).where(AuditHead.id == 1)
    ).first()
    columns = [getattr(AuditRecord, name) for name in _COLUMNS]
    result = session.execute(select(*columns).order_by(AuditRecord.seq)).yield_per(2000)
    links = (
        tamper.Link(row["seq"], row["prev_hash"], row["hash"], _material(row))
        for row in (dict(zip(_COLUMNS, values, strict=True)) for values in result)
    )
    return tamper.verify_log(
        log,
        links,
        head=(head.seq, head.hash) if head else None,
        legacy_until=head.legacy_until if head else 0,
        max_problems=max_problems,
    )


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
