"""Public pages of the partnership's governance: the decision-making forums, the
sub-regional and place-based partnerships, the parties to the collaboration agreement
with its shared objectives, and the organisations with their ODS and ONS codes.

Everything here is public by nature (the pack's facts and decisions the portfolio office
publishes), so the pages need no sign-in; each has ``.json`` and ``.csv`` twins.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.orm import Session

from healthycity.core import registry
from healthycity.core.web.twins import Page, Table, twin_routes
from healthycity.core.web.workspace import install, read_session
from healthycity.geography import service

router = APIRouter(include_in_schema=False)

GOVERNANCE_TABLES = (
    ("organisations", "the organisations and their codes"),
    ("partnerships", "the partnerships by sub-region"),
    ("objectives", "the shared objectives"),
)


def organisation_table(rows: list[service.OrganisationView]) -> Table:
    return Table(
        ["slug", "name", "kind", "ods_code", "ons_codes", "sub_region", "party_to_agreement"],
        [
            [
                o.slug,
                o.name,
                o.kind,
                o.ods_code,
                " ".join(o.ons_codes),
                o.sub_region,
                o.party_to_agreement,
            ]
            for o in rows
        ],
    )


@twin_routes(router, "/governance")
def governance(request: Request) -> Page:
    with read_session(request) as session:
        forums = service.forums(session)
        subs = service.partnerships_by_sub_region(session)
        organisations = service.organisations(session)
        objectives = service.shared_objectives(session)
        # Meetings and published decisions, from whichever module keeps them (the hook).
        forum_links = {f.slug: registry.related(session, "forum", f.slug) for f in forums}
    forum_table = Table(
        ["forum", "name", "kind", "chair", "members", "remit"],
        [[f.slug, f.name, f.kind, f.chair, "; ".join(f.members), f.remit] for f in forums],
    )
    partnerships = Table(
        ["sub_region_code", "sub_region", "kind", "name", "ons_codes"],
        [
            [s.code, s.name, o.kind, o.name, " ".join(o.ons_codes)]
            for s in subs
            for o in (*s.planning_groups, *s.partnerships)
        ],
    )
    objective_table = Table(
        ["number", "objective", "text"], [[o.number, o.slug, o.text] for o in objectives]
    )
    orgs = organisation_table(organisations)
    tables = {
        "organisations": orgs,
        "partnerships": partnerships,
        "objectives": objective_table,
    }
    data = {
        "forums": [
            r | {"meetings_and_decisions": [vars(x) for x in forum_links[r["forum"]]]}
            for r in forum_table.records()
        ],
        "partnerships": partnerships.records(),
        "parties": [o for o in orgs.records() if o["party_to_agreement"]],
        "shared_objectives": objective_table.records(),
        "organisations": orgs.records(),
    }
    return Page(
        "geography/governance.html",
        "How the partnership is governed",
        context={
            "forums": forums,
            "forum_links": forum_links,
            "sub_regions": subs,
            "parties": [o for o in organisations if o.party_to_agreement],
            "organisations": organisations,
            "objectives": objectives,
            "download_tables": GOVERNANCE_TABLES,
            "illustrative": False,
        },
        data=data,
        table=forum_table,
        tables=tables,
        filename="governance",
    )


def site_paths(session: Session) -> list[str]:
    """The public governance page for the static site."""
    _ = session
    return ["/governance"]


def register(app: FastAPI) -> None:
    """Mount the public governance page."""
    install(app)
    app.include_router(router)
