"""Telling respondents who asked: "you said, we did" by email, once it is published.

A respondent who ticks the box leaves an email address for this one purpose. It has to
be read back to send the message, so it is kept encrypted (Fernet: AES-128-CBC with an
HMAC-SHA256 tag, from the maintained ``cryptography`` library) under a key derived from
``secret_key``, never in clear; a keyed hash beside it finds it for erasure on request.
Once the message is sent the address is deleted: it has done its job. It also goes with
its answer (withdrawal, erasure) and when the consultation's retention period ends.
Only confirmed answers are told (an unconfirmed email is not yet anyone's answer).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from healthycity.engagement.mail import Mailer, try_send
from healthycity.engagement.models import Consultation, Response, Subscriber

_CONTEXT = b"healthycity.engagement.v1/subscriber-email"


def _fernet(secret_key: str) -> Fernet:
    key = hmac.new(secret_key.encode(), _CONTEXT, hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, email: str) -> str:
    return _fernet(secret_key).encrypt(email.encode()).decode()


def unseal(secret_key: str, token: str) -> str | None:
    """The address, or None when the key has changed since (rotated ``secret_key``)."""
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def subscribe(
    session: Session, row: Consultation, response_id: int, email: str, email_hash: str, key: str
) -> None:
    session.add(
        Subscriber(
            consultation_id=row.id,
            response_id=response_id,
            email_encrypted=seal(key, email),
            email_hash=email_hash,
        )
    )
    session.flush()


def waiting(session: Session, row: Consultation) -> int:
    """How many confirmed respondents are still to be told."""
    return len(_pending(session, row))


def _pending(session: Session, row: Consultation) -> list[Subscriber]:
    query = (
        select(Subscriber)
        .join(Response, Response.id == Subscriber.response_id)
        .where(Subscriber.consultation_id == row.id, Response.confirmed.is_(True))
        .order_by(Subscriber.id)
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class Sent:
    sent: int
    failed: int
    # Addresses sealed under an earlier ``secret_key``: unreadable, so deleted.
    unreadable: int = 0


def tell(
    session: Session, row: Consultation, mailer: Mailer | None, key: str, base_url: str
) -> Sent:
    """Email the published response to everyone waiting; delete each address once sent.

    Nothing happens before the response is published, or without a mailer (the
    addresses wait, and are erased with the answers when the retention period ends).
    A failed send keeps its address for the next try (`healthycity engagement notify`).
    """
    if not row.we_did or mailer is None:
        return Sent(0, 0)
    sent = failed = unreadable = 0
    link = f"{base_url.rstrip('/')}/consultations/{row.slug}/results"
    body = (
        f"You asked to hear what the partnership did after {row.title}.\n\n"
        f"You said, we did:\n{row.we_did}\n\nThe results: {link}\n\n"
        "We have now deleted your email address. You will not hear from us again "
        "about this consultation."
    )
    for subscriber in _pending(session, row):
        email = unseal(key, subscriber.email_encrypted)
        if email is None:
            unreadable += 1
        elif try_send(mailer, email, f"You said, we did: {row.title}", body):
            sent += 1
        else:
            failed += 1
            continue
        session.delete(subscriber)
    session.flush()
    return Sent(sent, failed, unreadable)


def forget_responses(session: Session, response_ids: list[int]) -> None:
    """Delete the addresses of these answers (withdrawal, erasure, retention)."""
    if response_ids:
        session.execute(delete(Subscriber).where(Subscriber.response_id.in_(response_ids)))


def forget_email(session: Session, email_hash: str) -> int:
    found = session.execute(delete(Subscriber).where(Subscriber.email_hash == email_hash))
    return int(getattr(found, "rowcount", 0) or 0)
