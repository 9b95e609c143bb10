"""Consultations: the workflow, taking part, receipts, moderation and retention.

A consultation moves draft → published → closed. It is open to answers while published
and today lies between its opening and closing dates. Once published, every change is a
new version: the stored questions change, a frozen copy is kept, and each answer records
the version it answered, so results can always say what people were asked. Drafts may be
edited in place and deleted; nothing published is ever deleted from the workspace.

This module is the engagement module's public face for others: `consultations_about`
lists the consultations (and "you said, we did") that concern a commitment, indicator,
programme or service change.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from healthycity.core.errors import Conflict, Invalid, NotFound
from healthycity.engagement.models import (
    CLOSED,
    DRAFT,
    HELD,
    PUBLISHED,
    REJECTED,
    SHOWN,
    STATUS_LABELS,
    Consultation,
    ConsultationVersion,
    Moderation,
    Response,
)
from healthycity.engagement.notify import forget_email, forget_responses
from healthycity.engagement.questions import TEXT
from healthycity.engagement.schemas import ConsultationIn

FIELDS = (
    "slug",
    "title",
    "purpose",
    "audience",
    "opens_on",
    "closes_on",
    "links",
    "privacy_notice",
    "retention_days",
    "confirm_email",
    "co_production",
)
RECEIPT_PREFIX = "HC-"


def get(session: Session, key: int | str) -> Consultation:
    """A consultation by id or slug."""
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        row = session.get(Consultation, int(key))
    else:
        row = session.scalars(select(Consultation).where(Consultation.slug == key)).first()
    if row is None:
        raise NotFound(f"no consultation {key}")
    return row


def public(session: Session) -> list[Consultation]:
    """Published and closed consultations, newest first: never drafts."""
    query = (
        select(Consultation)
        .where(Consultation.status.in_((PUBLISHED, CLOSED)))
        .order_by(Consultation.opens_on.desc(), Consultation.id.desc())
    )
    return list(session.scalars(query))


def consultations_about(session: Session, kind: str, key: str) -> list[Consultation]:
    """Public consultations linked to one commitment, indicator, programme or service change."""
    wanted = f"{kind}:{key}"
    return [c for c in public(session) if wanted in c.links]


def is_open(consultation: Consultation, today: date | None = None) -> bool:
    today = today or datetime.now(UTC).date()
    return (
        consultation.status == PUBLISHED
        and consultation.opens_on <= today <= consultation.closes_on
    )


def as_input(row: Consultation) -> dict[str, Any]:
    """The stored values as the schema takes them (questions as the form's lines)."""
    from healthycity.engagement.questions import format_lines

    values = {name: getattr(row, name) for name in FIELDS}
    values["questions"] = format_lines(row.questions)
    # As the form's yes/no choices, so an edit starts from what is stored.
    for name in ("confirm_email", "co_production"):
        values[name] = "yes" if values[name] else "no"
    return values


def _apply(row: Consultation, data: ConsultationIn) -> None:
    values = data.model_dump()
    for name in FIELDS:
        setattr(row, name, values[name])
    row.questions = data.question_dicts()


def _snapshot(session: Session, row: Consultation) -> None:
    document = {
        name: getattr(row, name) for name in FIELDS if name not in ("opens_on", "closes_on")
    }
    document |= {
        "opens_on": row.opens_on.isoformat(),
        "closes_on": row.closes_on.isoformat(),
        "questions": row.questions,
    }
    session.add(ConsultationVersion(consultation_id=row.id, version=row.version, document=document))


def _slug_free(session: Session, slug: str, own_id: int | None) -> None:
    clash = session.scalars(select(Consultation).where(Consultation.slug == slug)).first()
    if clash is not None and clash.id != own_id:
        raise Invalid({"slug": f"another consultation already uses the address {slug}"})


def create(session: Session, data: ConsultationIn, created_by: str) -> Consultation:
    _slug_free(session, data.slug, None)
    row = Consultation(status=DRAFT, version=0, created_by=created_by)
    _apply(row, data)
    session.add(row)
    session.flush()
    return row


def update(session: Session, row: Consultation, data: ConsultationIn) -> None:
    """Edit a draft in place; edit a published one as its next version."""
    if row.status == CLOSED:
        raise Conflict("a closed consultation cannot be changed; publish a response instead")
    if row.status == PUBLISHED and data.slug != row.slug:
        raise Invalid({"slug": "the address of a published consultation cannot change"})
    _slug_free(session, data.slug, row.id)
    before = (as_input(row), row.questions)
    _apply(row, data)
    if row.status == PUBLISHED and (as_input(row), row.questions) != before:
        row.version += 1
        session.flush()
        _snapshot(session, row)
    session.flush()


def remove(session: Session, row: Consultation) -> None:
    if row.status != DRAFT:
        raise Conflict("only a draft consultation can be deleted; close it instead")
    session.delete(row)
    session.flush()


def publish(session: Session, row: Consultation) -> None:
    if row.status != DRAFT:
        raise Conflict(f"this consultation is {STATUS_LABELS[row.status].lower()} already")
    row.status = PUBLISHED
    row.version = 1
    row.published_at = datetime.now(UTC)
    session.flush()
    _snapshot(session, row)
    session.flush()


def close(session: Session, row: Consultation) -> None:
    if row.status != PUBLISHED:
        raise Conflict("only a published consultation can be closed")
    row.status = CLOSED
    row.closed_at = datetime.now(UTC)
    session.flush()


def respond(session: Session, row: Consultation, we_did: str) -> None:
    """Publish the partnership's response: only once the consultation has closed."""
    if row.status != CLOSED:
        raise Conflict("publish the response once the consultation has closed")
    row.we_did = we_did
    session.flush()


# ------------------------------------------------------------------------ taking part


@dataclass(frozen=True)
class Submitted:
    """What the respondent is told once: their receipt code, and whether to confirm."""

    receipt: str
    confirm_token: str | None
    response_id: int


def submit(
    session: Session,
    row: Consultation,
    answers: dict[str, Any],
    *,
    receipt_hash: Any,
    email_hash: str | None = None,
) -> Submitted:
    """Store one answer (the caller has done the abuse checks) and hold its free text.

    ``receipt_hash`` is a function from the receipt code to its keyed hash, so the code
    itself is never stored. With confirmation on, the answer counts only once confirmed;
    an earlier unconfirmed answer with the same email is replaced.
    """
    receipt = RECEIPT_PREFIX + secrets.token_urlsafe(12)
    confirm_token = secrets.token_urlsafe(24) if email_hash else None
    if email_hash:
        session.execute(
            delete(Response).where(
                Response.consultation_id == row.id,
                Response.email_hash == email_hash,
                Response.confirmed.is_(False),
            )
        )
    response = Response(
        consultation_id=row.id,
        version=row.version,
        answers=answers,
        receipt_hash=receipt_hash(receipt),
        email_hash=email_hash,
        confirm_hash=receipt_hash(confirm_token) if confirm_token else None,
        confirmed=email_hash is None,
        submitted_at=datetime.now(UTC),
    )
    session.add(response)
    session.flush()
    for question in row.questions:
        if question["kind"] == TEXT and question["id"] in answers:
            session.add(
                Moderation(
                    consultation_id=row.id,
                    response_id=response.id,
                    question=question["id"],
                    decision=HELD,
                )
            )
    session.flush()
    return Submitted(receipt, confirm_token, response.id)


def confirmed_email_exists(session: Session, row: Consultation, email_hash: str) -> bool:
    query = select(Response.id).where(
        Response.consultation_id == row.id,
        Response.email_hash == email_hash,
        Response.confirmed.is_(True),
    )
    return session.scalars(query).first() is not None


def confirm(session: Session, confirm_hash: str) -> Response:
    response = session.scalars(
        select(Response).where(Response.confirm_hash == confirm_hash)
    ).first()
    if response is None:
        raise NotFound("that confirmation link is not valid, or has been used")
    response.confirmed = True
    response.confirm_hash = None
    session.flush()
    return response


def by_receipt(session: Session, receipt_hash: str) -> Response:
    response = session.scalars(
        select(Response).where(Response.receipt_hash == receipt_hash)
    ).first()
    if response is None:
        raise NotFound("no answer has that receipt code; it may have been withdrawn or erased")
    return response


def withdraw(session: Session, response: Response) -> None:
    """Delete the answer, its moderation, any address left to be told, and its place in
    every result."""
    forget_responses(session, [response.id])
    session.execute(delete(Moderation).where(Moderation.response_id == response.id))
    session.delete(response)
    session.flush()


def erase_email(session: Session, email_hash: str) -> tuple[int, int]:
    """Erasure on request: every answer confirmed with this (hashed) email address, and
    every address left to be told "you said, we did". Returns (answers, addresses).

    An answer whose address was given only to be told is anonymous once the address is
    gone, so it stays in the results; one confirmed with the address goes with it."""
    ids = list(session.scalars(select(Response.id).where(Response.email_hash == email_hash)))
    addresses = forget_email(session, email_hash)
    if ids:
        forget_responses(session, ids)
        session.execute(delete(Moderation).where(Moderation.response_id.in_(ids)))
        session.execute(delete(Response).where(Response.id.in_(ids)))
    return len(ids), addresses


def counted(session: Session, row: Consultation) -> list[Response]:
    """The answers that count: confirmed ones (an unconfirmed email is not yet an answer)."""
    query = (
        select(Response)
        .where(Response.consultation_id == row.id, Response.confirmed.is_(True))
        .order_by(Response.id)
    )
    return list(session.scalars(query))


# ------------------------------------------------------------------------- moderation


def moderation_queue(session: Session, row: Consultation) -> list[tuple[Moderation, str]]:
    """Free-text answers still held, oldest first, with their text."""
    query = (
        select(Moderation, Response)
        .join(Response, Response.id == Moderation.response_id)
        .where(Moderation.consultation_id == row.id, Moderation.decision == HELD)
        .order_by(Moderation.id)
    )
    return [(m, str(r.answers.get(m.question, ""))) for m, r in session.execute(query).all()]


def moderate(
    session: Session,
    item_id: int,
    decision: str,
    reason: str,
    moderator: str,
    theme: str | None = None,
) -> Moderation:
    if decision not in (SHOWN, REJECTED):
        raise Invalid({"decision": "choose whether to publish the answer"})
    if not reason.strip():
        raise Invalid({"reason": "record the reason for the decision"})
    item = session.get(Moderation, item_id)
    if item is None:
        raise NotFound(f"no answer {item_id} to moderate")
    item.decision = decision
    item.reason = reason.strip()[:2000]
    item.theme = (theme or "").strip()[:100] or None
    item.moderator = moderator
    item.decided_at = datetime.now(UTC)
    session.flush()
    return item


def published_comments(session: Session, row: Consultation) -> list[tuple[str, str, str | None]]:
    """(question id, text, theme) of every free-text answer a moderator published."""
    query = (
        select(Moderation, Response)
        .join(Response, Response.id == Moderation.response_id)
        .where(
            Moderation.consultation_id == row.id,
            Moderation.decision == SHOWN,
            Response.confirmed.is_(True),
        )
        .order_by(Moderation.id)
    )
    return [
        (m.question, str(r.answers.get(m.question, "")), m.theme)
        for m, r in session.execute(query).all()
    ]


# -------------------------------------------------------------------------- retention


def purge(session: Session, today: date | None = None) -> dict[str, int]:
    """Erase the answers of every consultation whose retention period has ended.

    The period runs from the closing date. Counts already published are kept only as the
    partnership's written response; the answers themselves go.
    """
    today = today or datetime.now(UTC).date()
    erased: dict[str, int] = {}
    for row in session.scalars(select(Consultation).where(Consultation.status != DRAFT)):
        if row.closes_on + timedelta(days=row.retention_days) >= today:
            continue
        ids = list(session.scalars(select(Response.id).where(Response.consultation_id == row.id)))
        if ids:
            forget_responses(session, ids)
            session.execute(delete(Moderation).where(Moderation.response_id.in_(ids)))
            session.execute(delete(Response).where(Response.id.in_(ids)))
            erased[row.slug] = len(ids)
    session.flush()
    return erased
