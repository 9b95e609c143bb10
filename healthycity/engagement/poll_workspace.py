"""The portfolio office's poll forms: a poll series and its waves as a workspace record
kind (``/workspace/polls``: add, change, delete, history; and ``/api/v1/polls``).

The same policy rows govern the form and the JSON API (record type ``poll``: the
portfolio office creates, changes and deletes; everyone signed in may read), and every
change goes through `core.web.workspace.unit_of_work`, so it is attributed and audited,
wave by wave. The form is refused whole, as the loader is, when a wave lacks its sample
size or the series its question wording.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import select

from healthycity.core import auth
from healthycity.core.audit import snapshot
from healthycity.core.web.records import FormField, RecordKind, api_router, form_router
from healthycity.core.web.twins import Page, Table, twin_routes
from healthycity.core.web.workspace import install, read_session, viewer, ws_page
from healthycity.engagement import polls
from healthycity.engagement.models import PollSeries
from healthycity.engagement.schemas import PollFormIn

POLL = auth.POLL
router = APIRouter(include_in_schema=False)
WAVES_HINT = (
    "One wave a line: fieldwork start | fieldwork end | sample size | percent agreeing | "
    "weighting | design effect | margin of error (the last two may be left empty). "
    "Dates as 2019-03-01."
)


def _json(row: PollSeries) -> dict[str, Any]:
    return snapshot(row) | {"waves": polls.as_input(row)["waves"].splitlines()}


KIND = RecordKind(
    name=POLL,
    plural="polls",
    label="poll series",
    model=PollSeries,
    schema=PollFormIn,
    fields=(
        FormField("slug", "Web address", hint="Lower case and hyphens, like engagement-in-design"),
        FormField("title", "Title"),
        FormField("question_wording", "Exact question wording", kind="textarea"),
        FormField("sponsor", "Sponsor", hint="Who commissioned and paid for the poll"),
        FormField("agency", "Fieldwork agency"),
        FormField("population", "Population", kind="textarea"),
        FormField("sampling_frame", "Sampling frame", kind="textarea"),
        FormField("mode", "Mode", hint="Online, telephone, face to face…"),
        FormField(
            "indicator_id", "Indicator it measures (optional)", hint="The outcomes indicator id"
        ),
        FormField("waves", "Waves of fieldwork", kind="textarea", hint=WAVES_HINT),
    ),
    parse_key=int,
    key_of=lambda row: str(row.id),
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=polls.as_input,
    create=lambda session, data, _p: polls.save_form(session, None, data),
    update=lambda session, row, data, _p: polls.update_form(session, row, data),
    delete=polls.remove,
    listing=lambda session: list(session.scalars(select(PollSeries).order_by(PollSeries.id))),
    return_url=lambda row: f"/workspace/polls/{row.id}",
    title_of=lambda row: row.title,
    to_json=_json,
)


@twin_routes(router, "/workspace/polls", private=True)
def poll_list(request: Request) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, POLL)
    with read_session(request) as session:
        rows = polls.series_list(session)
        counts = {r.id: len(polls.stored_waves(session, r)) for r in rows}
    table = Table(
        ["id", "slug", "title", "sponsor", "waves"],
        [[r.id, r.slug, r.title, r.sponsor, counts[r.id]] for r in rows],
    )
    return ws_page(
        principal,
        Page(
            "engagement/ws_polls.html",
            "Polls",
            context={
                "rows": rows,
                "counts": counts,
                "can_create": auth.is_allowed(principal, auth.CREATE, POLL),
            },
            table=table,
            filename="polls",
        ),
    )


@twin_routes(router, "/workspace/polls/{series_id:int}", private=True)
def poll_detail(request: Request, series_id: int) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, POLL)
    with read_session(request) as session:
        row = polls.get_series_by_id(session, series_id)
        estimates = polls.waves(session, row)
        data = _json(row)
    table = Table(
        ["fieldwork_start", "fieldwork_end", "sample_size", "percent", "lower_95", "upper_95"],
        [
            [
                e.wave.fieldwork_start,
                e.wave.fieldwork_end,
                e.wave.sample_size,
                e.wave.percent,
                e.lower,
                e.upper,
            ]
            for e in estimates
        ],
    )
    return ws_page(
        principal,
        Page(
            "engagement/ws_poll.html",
            row.title,
            context={
                "row": row,
                "estimates": estimates,
                "can_edit": auth.is_allowed(principal, auth.EDIT, POLL),
                "can_delete": auth.is_allowed(principal, auth.DELETE, POLL),
            },
            data=data,
            table=table,
            filename=f"poll-{row.id}",
        ),
    )


def register(app: FastAPI) -> None:
    """Mount the poll forms, their JSON API and the workspace's poll pages."""
    install(app)
    app.include_router(form_router((KIND,)))
    app.include_router(api_router((KIND,)))
    app.include_router(router)
