"""The forums' meetings and decisions: the public page ``/governance/decisions`` (with
``.json`` and ``.csv`` twins: meetings, and published decisions only, never the office's
notes) and the portfolio office's workspace page ``/workspace/governance``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, FastAPI, Request

from healthycity.core import auth
from healthycity.core.web.twins import Page, Table, twin_routes
from healthycity.core.web.workspace import install, read_session, viewer, ws_page
from healthycity.portfolio import governance
from healthycity.portfolio.models import MEETING_STATUS_LABELS, ForumDecision, ForumMeeting

router = APIRouter(include_in_schema=False)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def meeting_table(rows: list[ForumMeeting], names: dict[str, str]) -> Table:
    return Table(
        ["meeting", "forum", "forum_name", "held_on", "title", "status", "papers"],
        [
            [
                m.id,
                m.forum_slug,
                names.get(m.forum_slug, m.forum_slug),
                _day(m.held_on),
                m.title,
                m.status,
                " ".join(m.papers or []),
            ]
            for m in rows
        ],
    )


def decision_table(rows: list[ForumDecision], names: dict[str, str]) -> Table:
    """Decisions as the public sees them: no ``published`` flag (all are) and no note."""
    return Table(
        [
            "decision",
            "forum",
            "forum_name",
            "meeting",
            "decided_on",
            "title",
            "what_was_decided",
            "decided_by",
            "programmes",
            "pledges",
        ],
        [
            [
                d.id,
                d.forum_slug,
                names.get(d.forum_slug, d.forum_slug),
                d.meeting_id,
                _day(d.decided_on),
                d.title,
                d.decision,
                d.decided_by,
                " ".join(d.programmes or []),
                " ".join(str(n) for n in d.pledges or []),
            ]
            for d in rows
        ],
    )


@twin_routes(router, "/governance/decisions")
def public_decisions(request: Request) -> Page:
    with read_session(request) as session:
        names = governance.forum_names(session)
        meetings = governance.meetings(session)
        decisions = governance.decisions(session, published_only=True)
    meeting_rows = meeting_table(meetings, names)
    decision_rows = decision_table(decisions, names)
    return Page(
        "portfolio/public_decisions.html",
        "Forum meetings and decisions",
        context={
            "names": names,
            "meetings": meetings,
            "decisions": decisions,
            "status_labels": MEETING_STATUS_LABELS,
            "download_tables": (("meetings", "the meetings"),),
            "illustrative": False,
        },
        data={"meetings": meeting_rows.records(), "decisions": decision_rows.records()},
        table=decision_rows,
        tables={"meetings": meeting_rows},
        filename="governance-decisions",
    )


@twin_routes(router, "/workspace/governance", private=True)
def workspace_governance(request: Request) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.DECISION)
    with read_session(request) as session:
        names = governance.forum_names(session)
        meetings = governance.meetings(session)
        decisions = governance.decisions(session, published_only=False)
        data: dict[str, Any] = {
            "meetings": [
                governance.current(m, ("id", *governance.MEETING_FIELDS)) for m in meetings
            ],
            "decisions": [
                governance.current(d, ("id", *governance.DECISION_FIELDS)) for d in decisions
            ],
        }
    allowed = {
        f"{action}_{name}": auth.is_allowed(principal, action, record)
        for name, record in (("meeting", auth.MEETING), ("decision", auth.DECISION))
        for action in (auth.CREATE, auth.EDIT, auth.DELETE)
    }
    return ws_page(
        principal,
        Page(
            "portfolio/governance.html",
            "Forum meetings and decisions",
            context={
                "names": names,
                "meetings": meetings,
                "decisions": decisions,
                "status_labels": MEETING_STATUS_LABELS,
                "allowed": allowed,
                "download_tables": (("meetings", "the meetings"),),
                "illustrative": False,
            },
            data=data,
            table=decision_table(decisions, names),
            tables={"meetings": meeting_table(meetings, names)},
            filename="workspace-governance",
        ),
    )


def register(app: FastAPI) -> None:
    install(app)
    app.include_router(router)
