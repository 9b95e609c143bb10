"""Abuse resistance for answering without an account, with no third-party service and
no captcha (which shuts out people using assistive technology).

- Keyed hashes: addresses, emails and receipt codes are stored only as HMAC-SHA256 with a
  key derived from the site's ``secret_key`` and a context string of this module's own,
  so the hashes mean nothing elsewhere and no new setting is needed. A plain hash of an
  IPv4 address could be reversed by trying all four billion; a keyed one cannot without
  the key.
- A signed start time in the form: a submission sooner than `Policy.min_seconds` after
  the form was drawn is a script; an old or altered one is a forged form.
- A honeypot field people do not see (hidden from screen readers too) that scripts fill.
- Rate limits per address and per consultation, counted from `Attempt` rows in the
  database so every worker process agrees.
Every refusal is counted in `Refusal` and written in the same transaction as nothing
else: no answer is ever stored for a refused submission.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from healthycity.engagement.models import Attempt, Refusal

_CONTEXT = b"healthycity.engagement.v1"
ANSWER, PROPOSAL, VOTE = "answer", "proposal", "vote"
HONEYPOT = "website"
STARTED = "started"

HONEYPOT_FILLED, TOO_FAST, RATE_LIMITED, DUPLICATE_EMAIL, FORGED, CLOSED = (
    "honeypot",
    "too_fast",
    "rate_limited",
    "duplicate_email",
    "forged",
    "closed",
)
REFUSAL_LABELS = {
    HONEYPOT_FILLED: "A field meant to stay empty was filled in",
    TOO_FAST: "Sent sooner than a person could fill in the form",
    RATE_LIMITED: "Too many answers from one address or at once",
    DUPLICATE_EMAIL: "An answer was already confirmed for the email address",
    FORGED: "The form had expired or did not come from this site",
    CLOSED: "The consultation was not open",
}


@dataclass(frozen=True)
class Policy:
    """The thresholds. Tests on loopback, where every respondent shares one address,
    set their own on ``app.state.engagement_policy``."""

    min_seconds: float = 5.0
    max_form_age: timedelta = timedelta(hours=6)
    per_address: int = 10
    per_consultation: int = 300
    window: timedelta = timedelta(hours=1)
    # Proposals are free text a moderator must read; votes are one click each.
    proposals_per_address: int = 5
    votes_per_address: int = 300

    def limits(self, kind: str) -> tuple[int, int]:
        """(per address, per consultation) in the window, for answers, proposals, votes."""
        if kind == PROPOSAL:
            return self.proposals_per_address, self.per_consultation
        if kind == VOTE:
            return self.votes_per_address, self.per_consultation * 20
        return self.per_address, self.per_consultation


def derived_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _CONTEXT, hashlib.sha256).digest()


def keyed_hash(secret_key: str, purpose: str, value: str) -> str:
    """HMAC of ``value`` for one ``purpose`` ("address", "email", "receipt"…)."""
    message = f"{purpose}\x00{value}".encode()
    return hmac.new(derived_key(secret_key), message, hashlib.sha256).hexdigest()


def start_token(secret_key: str, slug: str, now: float | None = None) -> str:
    """The form's signed start time, bound to its consultation."""
    moment = f"{(now if now is not None else time.time()):.3f}"
    return f"{moment}.{keyed_hash(secret_key, 'started', f'{slug}:{moment}')[:32]}"


def seconds_since_start(secret_key: str, slug: str, token: str, now: float | None = None) -> float:
    """How long ago the form was drawn; `ValueError` if the token is missing or altered."""
    moment, _, signature = token.rpartition(".")
    expected = keyed_hash(secret_key, "started", f"{slug}:{moment}")[:32]
    if not moment or not hmac.compare_digest(signature, expected):
        raise ValueError("the form's start time is missing or altered")
    return (now if now is not None else time.time()) - float(moment)


def refuse(session: Session, consultation_id: int | None, reason: str) -> None:
    """Count one refused submission."""
    session.add(Refusal(consultation_id=consultation_id, reason=reason, at=datetime.now(UTC)))
    session.flush()


def refusal_counts(session: Session, consultation_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Refusal.reason, func.count())
        .where(Refusal.consultation_id == consultation_id)
        .group_by(Refusal.reason)
    ).all()
    return {reason: int(count) for reason, count in rows}


def over_limit(
    session: Session,
    policy: Policy,
    consultation_id: int,
    address_hash: str,
    kind: str = ANSWER,
) -> bool:
    """Has this address, or this consultation, had its share of ``kind`` (answers,
    proposals or votes) in the window?

    Attempts older than the window are deleted on the way: they have done their job.
    """
    since = datetime.now(UTC) - policy.window
    session.execute(delete(Attempt).where(Attempt.at < since))
    recent = (
        select(func.count())
        .select_from(Attempt)
        .where(
            Attempt.consultation_id == consultation_id,
            Attempt.kind == kind,
            Attempt.at >= since,
        )
    )
    from_here = session.scalar(recent.where(Attempt.address_hash == address_hash)) or 0
    overall = session.scalar(recent) or 0
    per_address, per_consultation = policy.limits(kind)
    return from_here >= per_address or overall >= per_consultation


def count_attempt(
    session: Session, consultation_id: int, address_hash: str, kind: str = ANSWER
) -> None:
    session.add(
        Attempt(
            consultation_id=consultation_id,
            address_hash=address_hash,
            at=datetime.now(UTC),
            kind=kind,
        )
    )
