"""The forums' meetings and decisions, kept by the portfolio office.

A forum is one of the partnership's boards as the pack names them (geography's
organisations of kind "forum": London Health Board, Strategic Partnership Board…).
Meetings are public by nature (date, status, papers); a decision reaches the public
pages only once marked published, and the office's ``note`` on either never does.
Links are checked here, against the database: the forum, the meeting (of the same
forum), the programmes and the pledges a decision names must all exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.errors import Invalid
from healthycity.core.registry import Related
from healthycity.geography import service as geography
from healthycity.portfolio.models import (
    MEETING_STATUS_LABELS,
    ForumDecision,
    ForumMeeting,
    Pledge,
    Programme,
)
from healthycity.portfolio.schemas import DecisionIn, MeetingIn

MEETING_FIELDS = ("forum_slug", "held_on", "title", "status", "papers", "note")
DECISION_FIELDS = (
    "forum_slug",
    "meeting_id",
    "decided_on",
    "title",
    "decision",
    "decided_by",
    "programmes",
    "pledges",
    "published",
    "note",
)
# What the public sees of each (never ``note``).
PUBLIC_MEETING_FIELDS = ("id", "forum_slug", "held_on", "title", "status", "papers")
PUBLIC_DECISION_FIELDS = (
    "id",
    "forum_slug",
    "meeting_id",
    "decided_on",
    "title",
    "decision",
    "decided_by",
    "programmes",
    "pledges",
)


def forum_names(session: Session) -> dict[str, str]:
    """Forum slug → name, the decision-making forums first."""
    return {f.slug: f.name for f in geography.forums(session)}


def _check_forum(session: Session, slug: str) -> None:
    if slug not in forum_names(session):
        raise Invalid({"forum_slug": f"there is no forum {slug!r}"})


def _assign(row: Any, data: Any, fields: tuple[str, ...]) -> None:
    for name in fields:
        setattr(row, name, getattr(data, name))


def create_meeting(session: Session, data: MeetingIn) -> ForumMeeting:
    _check_forum(session, data.forum_slug)
    row = ForumMeeting()
    _assign(row, data, MEETING_FIELDS)
    session.add(row)
    session.flush()
    return row


def update_meeting(session: Session, row: ForumMeeting, data: MeetingIn) -> None:
    _check_forum(session, data.forum_slug)
    if data.forum_slug != row.forum_slug and session.scalar(
        select(ForumDecision.id).where(ForumDecision.meeting_id == row.id).limit(1)
    ):
        raise Invalid({"forum_slug": "decisions were taken at this meeting: keep its forum"})
    _assign(row, data, MEETING_FIELDS)
    session.flush()


def _check_decision(session: Session, data: DecisionIn) -> None:
    _check_forum(session, data.forum_slug)
    errors: dict[str, str] = {}
    if data.meeting_id is not None:
        meeting = session.get(ForumMeeting, data.meeting_id)
        if meeting is None:
            errors["meeting_id"] = f"there is no meeting {data.meeting_id}"
        elif meeting.forum_slug != data.forum_slug:
            errors["meeting_id"] = f"meeting {data.meeting_id} is not a meeting of this forum"
    missing = [s for s in data.programmes if session.get(Programme, s) is None]
    if missing:
        errors["programmes"] = "there is no programme " + ", ".join(repr(s) for s in missing)
    gone = [str(n) for n in data.pledges if session.get(Pledge, n) is None]
    if gone:
        errors["pledges"] = "there is no pledge " + ", ".join(gone)
    if errors:
        raise Invalid(errors)


def create_decision(session: Session, data: DecisionIn) -> ForumDecision:
    _check_decision(session, data)
    row = ForumDecision()
    _assign(row, data, DECISION_FIELDS)
    session.add(row)
    session.flush()
    return row


def update_decision(session: Session, row: ForumDecision, data: DecisionIn) -> None:
    _check_decision(session, data)
    _assign(row, data, DECISION_FIELDS)
    session.flush()


def current(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


def meetings(session: Session) -> list[ForumMeeting]:
    """Every meeting, latest first."""
    return list(
        session.scalars(select(ForumMeeting).order_by(ForumMeeting.held_on.desc(), ForumMeeting.id))
    )


def decisions(session: Session, *, published_only: bool) -> list[ForumDecision]:
    """Decisions, latest first; the public pages ask for the published ones only."""
    query = select(ForumDecision).order_by(ForumDecision.decided_on.desc(), ForumDecision.id)
    if published_only:
        query = query.where(ForumDecision.published.is_(True))
    return list(session.scalars(query))


def published_for_programme(session: Session, slug: str) -> list[ForumDecision]:
    """The published decisions that name a programme (JSON lists are filtered here, the
    same way on SQLite and PostgreSQL)."""
    return [d for d in decisions(session, published_only=True) if slug in (d.programmes or [])]


def related(session: Session, kind: str, key: str) -> list[Related]:
    """The registry's hook: a forum's meetings and published decisions, for the public
    governance page (which sits below this module and cannot import it)."""
    if kind != "forum":
        return []
    found: list[Related] = []
    for m in meetings(session):
        if m.forum_slug == key:
            status = MEETING_STATUS_LABELS.get(m.status, m.status)
            found.append(
                Related(
                    "Meetings",
                    f"{m.held_on:%-d %B %Y}" + (f": {m.title}" if m.title else ""),
                    f"/governance/decisions#meeting-{m.id}",
                    status,
                )
            )
    for d in decisions(session, published_only=True):
        if d.forum_slug == key:
            found.append(
                Related(
                    "Decisions",
                    d.title,
                    f"/governance/decisions#decision-{d.id}",
                    f"decided {d.decided_on:%-d %B %Y}",
                )
            )
    return found
