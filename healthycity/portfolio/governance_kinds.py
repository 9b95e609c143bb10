"""Forum meetings, forum decisions and fund grants as record kinds.

`core.web.records` turns each into ``/api/v1/<plural>`` and ``/workspace/<plural>/…``
forms, checked against the access policy (`core.auth.POLICY`: everyone signed in reads
them, the portfolio office adds, changes and deletes them) and audited on every change.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core import auth
from healthycity.core.web.records import FormField, RecordKind
from healthycity.portfolio import funds, governance
from healthycity.portfolio.models import (
    FUND_CATEGORIES,
    GRANT_STATUS_LABELS,
    MEETING_STATUS_LABELS,
    ForumDecision,
    ForumMeeting,
    FundGrant,
)
from healthycity.portfolio.schemas import DecisionIn, GrantIn, MeetingIn

DATE_HINT = "For example, 2018-07-31"
BACK_GOVERNANCE = "/workspace/governance"


def _int_key(text: str) -> int:
    return int(text)


def _forum_default(request: Request) -> dict[str, Any]:
    forum = request.query_params.get("forum")
    return {"forum_slug": forum} if forum else {}


def _forum_field(session: Session) -> tuple[FormField, ...]:
    names = governance.forum_names(session)
    return (FormField("forum_slug", "Forum", kind="select", options=tuple(names.items())),)


def _ordered(model: type[Any], *order: Any) -> Any:
    def listing(session: Session) -> list[Any]:
        return list(session.scalars(select(model).order_by(*order)))

    return listing


MEETING = RecordKind(
    name=auth.MEETING,
    plural="forum-meetings",
    label="forum meeting",
    model=ForumMeeting,
    schema=MeetingIn,
    fields=(
        FormField("held_on", "Date of the meeting", kind="date", hint=DATE_HINT),
        FormField("title", "Title", hint="Optional, like 'Annual meeting'"),
        FormField("status", "Status", kind="select", options=tuple(MEETING_STATUS_LABELS.items())),
        FormField(
            "papers",
            "Papers",
            kind="lines",
            hint="Links to the agenda, papers and minutes, one https:// address a line",
        ),
        FormField("note", "Office note", kind="textarea", hint="Private: never published"),
    ),
    more_fields=_forum_field,
    parse_key=_int_key,
    key_of=lambda row: str(row.id),
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=lambda row: governance.current(row, governance.MEETING_FIELDS),
    create=lambda session, data, _p: governance.create_meeting(session, data),
    update=lambda session, row, data, _p: governance.update_meeting(session, row, data),
    listing=_ordered(ForumMeeting, ForumMeeting.held_on, ForumMeeting.id),
    return_url=lambda _row: BACK_GOVERNANCE,
    title_of=lambda row: f"the meeting of {row.held_on:%-d %B %Y}",
    defaults=_forum_default,
)

DECISION = RecordKind(
    name=auth.DECISION,
    plural="forum-decisions",
    label="forum decision",
    model=ForumDecision,
    schema=DecisionIn,
    fields=(
        FormField("meeting_id", "Meeting", kind="number", hint="The meeting's number, if any"),
        FormField("decided_on", "Date of the decision", kind="date", hint=DATE_HINT),
        FormField("title", "Title"),
        FormField("decision", "What was decided", kind="textarea"),
        FormField("decided_by", "Decided by", hint="The forum, or who took it for the forum"),
        FormField(
            "programmes", "Programmes", kind="lines", hint="Programme identifiers, one a line"
        ),
        FormField("pledges", "Pledges", kind="lines", hint="Pledge numbers (ids), one a line"),
        FormField(
            "published",
            "Published",
            kind="select",
            options=(("no", "No: workspace only"), ("yes", "Yes: on the public pages")),
        ),
        FormField("note", "Office note", kind="textarea", hint="Private: never published"),
    ),
    more_fields=_forum_field,
    parse_key=_int_key,
    key_of=lambda row: str(row.id),
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=lambda row: (
        governance.current(row, governance.DECISION_FIELDS)
        | {"published": "yes" if row.published else "no"}
    ),
    create=lambda session, data, _p: governance.create_decision(session, data),
    update=lambda session, row, data, _p: governance.update_decision(session, row, data),
    listing=_ordered(ForumDecision, ForumDecision.decided_on, ForumDecision.id),
    return_url=lambda _row: BACK_GOVERNANCE,
    title_of=lambda row: row.title,
    defaults=_forum_default,
)

GRANT = RecordKind(
    name=auth.GRANT,
    plural="fund-grants",
    label="fund grant",
    model=FundGrant,
    schema=GrantIn,
    fields=(
        FormField("fund_period", "Fund (financial year)", kind="year", hint="Like 2018/19"),
        FormField("category", "Category", kind="select", options=FUND_CATEGORIES),
        FormField(
            "recipient_kind",
            "For a pilot or a programme",
            kind="select",
            options=(("pilot", "Pilot"), ("programme", "Programme")),
        ),
        FormField("recipient", "Pilot or programme", hint="Its identifier, like estates"),
        FormField("recipient_name", "Recipient", hint="The organisation receiving the money"),
        FormField("amount", "Amount", kind="money", hint="Pounds and pence, like 250000.00"),
        FormField("awarded_on", "Date awarded", kind="date", hint=DATE_HINT),
        FormField("purpose", "Purpose", kind="textarea"),
        FormField("status", "Status", kind="select", options=tuple(GRANT_STATUS_LABELS.items())),
        FormField("note", "Office note", kind="textarea", hint="Private: never published"),
    ),
    parse_key=_int_key,
    key_of=lambda row: str(row.id),
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=funds.grant_input,
    create=lambda session, data, _p: funds.create_grant(session, data),
    update=lambda session, row, data, _p: funds.update_grant(session, row, data),
    listing=_ordered(FundGrant, FundGrant.fund_period, FundGrant.id),
    return_url=lambda _row: "/workspace/devolution",
    title_of=lambda row: f"grant {row.id} to {row.recipient_name or row.recipient}",
    immutable=("fund_period",),
    defaults=lambda request: (
        {"fund_period": request.query_params["fund"]} if "fund" in request.query_params else {}
    ),
)

KINDS: tuple[RecordKind, ...] = (MEETING, DECISION, GRANT)
