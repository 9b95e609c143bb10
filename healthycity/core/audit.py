"""The audit trail: every change to a workspace record, written in the same transaction.

Recording is not left to each service function (one forgotten call would lose history).
Any model that mixes in `Audited` is watched by SQLAlchemy's flush events: each insert,
update and delete the ORM performs — cascades and orphan removals included — writes an
`AuditRecord` row on the same connection, so the change and its record commit or roll
back together. A change with no acting person named on the session is refused.

`AuditRecord`, the trail's table, lives here with the code that writes it, so the
account tables (`auth_models`) can mix in `Audited` without a cycle back to this module.

Records are append-only: the ORM refuses to change them, and triggers created by the migration
refuse UPDATE and DELETE in the database itself. Triggers can be dropped by whoever owns
the database, so the trail is also a keyed chain (core's tamper-evident log,
:mod:`healthycity.core.tamper`): each record has a chain position ``seq`` and a MAC under
``HEALTHYCITY_AUDIT_KEY`` over its content and its predecessor's MAC, and signed
checkpoints are written outside the database. ``healthycity audit verify`` checks both.
Records written before migration 0011 have no ``seq``; every checkpoint seals them by
count and digest (docs/decisions/0016-tamper-evident-audit.md).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, Session, mapped_column, object_session

from healthycity.core import tamper
from healthycity.core.db import Base
from healthycity.core.models import utcnow
from healthycity.core.settings import Settings, get_settings

ACTOR_KEY = "healthycity.actor"
CREATE, UPDATE, DELETE = "create", "update", "delete"
# Actions of `record_event`: things that happened to an account rather than changes to a row.
SIGN_IN_FAILED = "sign-in failed"
SIGN_IN_REFUSED = "sign-in refused"
LOCKED = "locked"
UNLOCKED = "unlocked"
PASSWORD_CHANGED = "password changed"  # noqa: S105 - an action's name
PASSWORD_RESET = "password reset"  # noqa: S105 - an action's name
RESET_LINK_ISSUED = "reset link issued"
TOKEN_ISSUED = "token issued"  # noqa: S105 - an action's name
TOKEN_REVOKED = "token revoked"  # noqa: S105 - an action's name
# A change the policy refused: written in its own transaction, after the refused one
# rolled back, with what was asked for (core.web.workspace.audit_refusals).
WRITE_REFUSED = "write refused"


class AuditRecord(Base):
    """One change to one record: who, when, what, and the record before and after.

    Append-only: the ORM refuses to update or delete these rows and the database has
    triggers that refuse it too (created by the migration that made the table).
    """

    __tablename__ = "audit_record"
    __table_args__ = (
        Index("ix_audit_record_record", "record_type", "record_id"),
        Index("ix_audit_record_parent", "parent_type", "parent_id"),
        Index("ix_audit_record_seq", "seq", unique=True),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(254))
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(200))
    parent_type: Mapped[str | None] = mapped_column(String(40))
    parent_id: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The chain (None on records written before it existed: sealed by the checkpoints).
    seq: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    prev_mac: Mapped[str | None] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The single row naming the newest link of the trail's chain; writers lock it."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    mac: Mapped[str] = mapped_column(String(64))


class AuditError(RuntimeError):
    """A change could not be attributed, or someone tried to rewrite history."""


@dataclass(frozen=True)
class Actor:
    """Who is making a change: an account, or a named system process (the pack loader)."""

    label: str
    account_id: int | None = None


SYSTEM_PACK_LOADER = Actor("system: pack loader")
SYSTEM_CLI = Actor("system: command line")


class Audited:
    """Mixin for tables whose every change is recorded.

    ``__audit_type__`` names the record type (as the policy and the history pages do);
    ``__audit_redact__`` lists columns never copied into the trail (password hashes).
    ``audit_parent()`` may name the record this one belongs to, so a programme's page can
    show the history of its spend, milestones and risks with its own.
    """

    __audit_type__: ClassVar[str]
    __audit_redact__: ClassVar[frozenset[str]] = frozenset()

    def audit_parent(self) -> tuple[str, str] | None:
        return None


@contextmanager
def acting_as(session: Session, actor: Actor) -> Iterator[Session]:
    """Attribute the changes made inside the block to ``actor``, then restore the previous.

    Pending changes are flushed on the way out, while the actor is still known, so a
    commit after the block cannot write them unattributed.
    """
    previous = session.info.get(ACTOR_KEY)
    session.info[ACTOR_KEY] = actor
    try:
        yield session
        session.flush()
    finally:
        if previous is None:
            session.info.pop(ACTOR_KEY, None)
        else:
            session.info[ACTOR_KEY] = previous


def to_json_value(value: Any) -> Any:
    """Make a column value JSON-safe without losing meaning (money stays exact text)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return str(value)


def _as_stored(column: Any, value: Any) -> Any:
    """A Decimal at its column's scale (2.7 is stored, and recorded, as 2.70)."""
    scale = getattr(getattr(column, "type", None), "scale", None)
    if isinstance(value, Decimal) and isinstance(scale, int) and value.is_finite():
        return value.quantize(Decimal(1).scaleb(-scale))
    return value


def snapshot(obj: Any, *, inserted: bool = False) -> dict[str, Any]:
    """The record's column values as JSON, minus redacted columns.

    Only loaded values are read (reading others would query mid-flush). A column never
    set on a new row is NULL unless the database supplies a default, so a creation's
    record is complete.
    """
    state = inspect(obj)
    redact: frozenset[str] = getattr(obj, "__audit_redact__", frozenset())
    out: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in redact:
            continue
        if attr.key in state.dict:
            out[attr.key] = to_json_value(_as_stored(attr.columns[0], state.dict[attr.key]))
        elif inserted and all(column.server_default is None for column in attr.columns):
            out[attr.key] = None
    return out


def _before(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    before = snapshot(obj)
    for key in before:
        history = state.attrs[key].history
        if history.deleted:
            column = state.mapper.column_attrs[key].columns[0]
            before[key] = to_json_value(_as_stored(column, history.deleted[0]))
    return before


def record_key(obj: Any) -> str:
    """A record's primary key as text; composite keys are joined with '/'."""
    values = inspect(obj).mapper.primary_key_from_instance(obj)
    return "/".join(str(v) for v in values)


def _actor_for(obj: Any) -> Actor:
    session = object_session(obj)
    actor = session.info.get(ACTOR_KEY) if session is not None else None
    if not isinstance(actor, Actor):
        raise AuditError(
            f"a change to {obj.__audit_type__} {record_key(obj)} has no actor; "
            "wrap it in core.audit.acting_as(session, actor)"
        )
    return actor


def _write(
    connection: Connection,
    obj: Any,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:

    actor = _actor_for(obj)
    parent = obj.audit_parent()
    values: dict[str, Any] = {
        "at": dt.datetime.now(dt.UTC),
        "actor_id": actor.account_id,
        "actor": actor.label,
        "record_type": obj.__audit_type__,
        "record_id": record_key(obj),
        "parent_type": parent[0] if parent else None,
        "parent_id": parent[1] if parent else None,
        "action": action,
        "before": before,
        "after": after,
    }
    values.update(_link(connection, object_session(obj), values))
    connection.execute(insert(AuditRecord), values)


def _after_insert(_mapper: Mapper[Any], connection: Connection, obj: Any) -> None:
    _write(connection, obj, CREATE, None, snapshot(obj, inserted=True))


def _after_update(_mapper: Mapper[Any], connection: Connection, obj: Any) -> None:
    before, after = _before(obj), snapshot(obj)
    if before != after:
        _write(connection, obj, UPDATE, before, after)


def _after_delete(_mapper: Mapper[Any], connection: Connection, obj: Any) -> None:
    _write(connection, obj, DELETE, _before(obj), None)


event.listen(Audited, "after_insert", _after_insert, propagate=True)
event.listen(Audited, "after_update", _after_update, propagate=True)
event.listen(Audited, "after_delete", _after_delete, propagate=True)


@event.listens_for(Session, "before_flush")
def _refuse_rewriting_history(session: Session, _context: object, _instances: object) -> None:

    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditRecord):
            raise AuditError("audit records are append-only")


def record_event(
    session: Session,
    record_type: str,
    record_id: str,
    action: str,
    details: dict[str, Any] | None = None,
    *,
    parent: tuple[str, str] | None = None,
    actor: Actor | None = None,
) -> None:
    """Write an audit record for something that is not a row change.

    Sign-in failures, lockouts, unlocks and password changes leave no column change the
    flush events could see (password hashes are redacted from the trail), so the code
    that does them names them here. The record is added to ``session`` and commits or
    rolls back with the rest of its transaction. ``actor`` defaults to the session's.
    """

    who = actor or session.info.get(ACTOR_KEY)
    if not isinstance(who, Actor):
        raise AuditError(f"the event {action!r} on {record_type} {record_id} has no actor")
    session.add(
        AuditRecord(
            at=dt.datetime.now(dt.UTC),
            actor_id=who.account_id,
            actor=who.label[:254],
            record_type=record_type,
            record_id=record_id[:200],
            parent_type=parent[0] if parent else None,
            parent_id=parent[1] if parent else None,
            action=action,
            before=None,
            after=to_json_value(details) if details is not None else None,
        )
    )


def history(
    session: Session, record_type: str, record_id: str, *, include_children: bool = True
) -> list[AuditRecord]:
    """Every change to one record (and, by default, to the records that belong to it)."""
    from sqlalchemy import and_, or_

    own = and_(AuditRecord.record_type == record_type, AuditRecord.record_id == record_id)
    condition = own
    if include_children:
        condition = or_(
            own,
            and_(AuditRecord.parent_type == record_type, AuditRecord.parent_id == record_id),
        )
    query = select(AuditRecord).where(condition).order_by(AuditRecord.id)
    return list(session.scalars(query))


def changed_fields(record: AuditRecord) -> list[tuple[str, Any, Any]]:
    """(field, before, after) for the fields an audit record shows changing."""
    before = record.before or {}
    after = record.after or {}
    keys = sorted(set(before) | set(after))
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


# --------------------------------------------------------------------- the keyed chain

_HEAD: Any = AuditChainHead.__table__
_RECORDS: Any = AuditRecord.__table__
_CHAINED: tuple[str, ...] = ("at", "actor_id", "actor", "record_type", "record_id")
_CHAINED += ("parent_type", "parent_id", "action", "before", "after")
_configured: list[tamper.TamperLog] = []


def log_for(settings: Settings) -> tamper.TamperLog:
    """The trail's key and checkpoint sink, from the settings; a missing or weak
    ``HEALTHYCITY_AUDIT_KEY`` is refused outside development."""
    secret = settings.audit_key.get_secret_value() if settings.audit_key else None
    key = tamper.resolve_key(
        secret, environment=settings.environment, setting="HEALTHYCITY_AUDIT_KEY"
    )
    return tamper.TamperLog(
        name="workspace",
        key=key,
        sink=tamper.FileSink(settings.audit_checkpoint_path),
        every=settings.audit_checkpoint_every,
    )


def configure(log: tamper.TamperLog | None) -> None:
    """Chain with ``log`` in this process (``None``: read the settings on next use).
    The application calls it at start, so a bad key stops it there."""
    _configured.clear()
    if log is not None:
        _configured.append(log)


def current_log() -> tamper.TamperLog:
    if not _configured:
        _configured.append(log_for(get_settings()))
    return _configured[0]


def _at_text(value: Any) -> str:
    """A timestamp as UTC text with microseconds, however the engine hands it back."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return str(value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"))


def _material(values: Any) -> bytes:
    """The bytes a record's MAC covers: every column but its id and chain fields."""
    fields = [values[name] for name in _CHAINED]
    fields[0] = _at_text(fields[0])
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def _link(
    connection: Connection, session: Session | None, values: dict[str, Any]
) -> dict[str, Any]:
    """Claim the next chain position on the head row (its lock serialises writers) and
    return the record's chain fields; schedule a checkpoint when one is due."""
    log = current_log()
    seq, prev = connection.execute(
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(seq=_HEAD.c.seq + 1)
        .returning(_HEAD.c.seq, _HEAD.c.mac)
    ).one()
    mac = tamper.link_mac(log.key, int(seq), str(prev), _material(values))
    connection.execute(update(_HEAD).where(_HEAD.c.id == 1).values(mac=mac))
    if session is not None and log.due(int(seq) - 1, int(seq)):
        seal = _seal(connection, int(seq), mac)
        tamper.after_commit(session, "workspace", partial(log.checkpoint, **seal))
    return {"seq": int(seq), "prev_mac": str(prev), "mac": mac}


@event.listens_for(AuditRecord, "before_insert")
def _chain_added_record(_mapper: Mapper[Any], connection: Connection, record: AuditRecord) -> None:
    if record.at is None:
        record.at = dt.datetime.now(dt.UTC)
    values = {name: getattr(record, name) for name in _CHAINED}
    for name, value in _link(connection, object_session(record), values).items():
        setattr(record, name, value)


def _legacy(connection: Connection) -> tuple[int, str]:
    """Count and SHA-256 digest of the records written before the chain existed."""
    digest, count = hashlib.sha256(), 0
    rows = connection.execute(
        select(_RECORDS.c.id, *(_RECORDS.c[name] for name in _CHAINED))
        .where(_RECORDS.c.seq.is_(None))
        .order_by(_RECORDS.c.id)
    ).mappings()
    for row in rows:
        count += 1
        digest.update(b"%d\n" % row["id"] + _material(row) + b"\n")
    return (count, digest.hexdigest() if count else tamper.GENESIS)


def _seal(connection: Connection, seq: int, head: str) -> dict[str, Any]:
    origin = head if seq == 1 else None
    if origin is None and seq:
        origin = connection.execute(select(_RECORDS.c.mac).where(_RECORDS.c.seq == 1)).scalar()
    return {
        "origin": origin or tamper.GENESIS,
        "seq": seq,
        "head": head,
        "legacy": _legacy(connection),
    }


def checkpoint(session: Session, log: tamper.TamperLog | None = None) -> tamper.Checkpoint:
    """Sign and write a checkpoint of the trail as committed (``audit checkpoint``)."""
    log = log or current_log()
    connection = session.connection()
    seq, head = connection.execute(select(_HEAD.c.seq, _HEAD.c.mac).where(_HEAD.c.id == 1)).one()
    return log.checkpoint(**_seal(connection, int(seq), str(head)))


def verify(
    session: Session, *, max_problems: int = 20, log: tamper.TamperLog | None = None
) -> tamper.Report:
    """Check the trail: every chained record against its MAC and predecessor, the head
    row, the records from before the chain, and every checkpoint outside the database."""
    log = log or current_log()
    connection = session.connection()
    head = connection.execute(select(_HEAD.c.seq, _HEAD.c.mac).where(_HEAD.c.id == 1)).first()
    rows = connection.execute(
        select(
            _RECORDS.c.seq, _RECORDS.c.prev_mac, _RECORDS.c.mac, *(_RECORDS.c[n] for n in _CHAINED)
        )
        .where(_RECORDS.c.seq.is_not(None))
        .order_by(_RECORDS.c.seq)
        .execution_options(yield_per=2000)
    ).mappings()
    links = (
        tamper.Link(row["seq"], row["prev_mac"] or "", row["mac"] or "", _material(row))
        for row in rows
    )
    return tamper.verify_log(
        log,
        links,
        head=(int(head.seq), str(head.mac)) if head else None,
        legacy=_legacy(connection),
        max_problems=max_problems,
    )
