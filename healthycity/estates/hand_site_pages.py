"""Sites added by hand on the web: a record kind (forms + JSON API), the workspace list, and
the public list, each entry marked as entered by hand with who and when.

Workspace: ``/workspace/estate-sites`` (private ``.json``/``.csv`` twins), the generic
forms at ``/workspace/estate-sites/new`` and ``/<id>/edit``, and ``/api/v1/estate-sites``.
Who may add, change and delete them is policy data (`core.auth.POLICY`, record type
``estate_site``: the estates role and the portfolio office); everyone signed in reads
them. Public: ``/estates/hand-sites`` lists the entries marked published, never their
notes, and names the person by name only (never their email address).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.orm import Session

from healthycity.core import auth
from healthycity.core.web.records import FormField, RecordKind, api_router, form_router
from healthycity.core.web.twins import Page, Table, twin_routes
from healthycity.core.web.workspace import install, read_session, viewer, ws_page
from healthycity.estates import hand_sites
from healthycity.estates.models import HAND_SITE_KINDS, TENURES, HandSite
from healthycity.estates.register import SUBREGIONS

router = APIRouter(include_in_schema=False)

KIND = RecordKind(
    name=auth.ESTATE_SITE,
    plural="estate-sites",
    label="site added by hand",
    model=HandSite,
    schema=hand_sites.HandSiteIn,
    fields=(
        FormField("name", "Name", hint="The site's name, like 'Lordship Lane Health Centre'"),
        FormField("kind", "Kind of site", kind="select", options=tuple(HAND_SITE_KINDS.items())),
        FormField(
            "subregion",
            "Sub-region",
            kind="select",
            options=(("", "Choose a sub-region"), *SUBREGIONS.items()),
        ),
        FormField(
            "source",
            "Source",
            hint="Where these details came from, like 'NHS Property Services lease "
            "schedule, March 2017': needed for every site added by hand",
        ),
        FormField(
            "ods_code",
            "ODS code",
            hint="If it has one, like a GP practice's F84003. Not a site ERIC returns",
            width=10,
        ),
        FormField(
            "holder",
            "Held by",
            hint="Who owns or leases it, like NHS Property Services or the GP partnership",
        ),
        FormField(
            "tenure",
            "Tenure",
            kind="select",
            options=(("", "Not known"), *TENURES.items()),
        ),
        FormField("address", "Address"),
        FormField("postcode", "Postcode", width=10),
        FormField("latitude", "Latitude", hint="Decimal degrees, like 51.5033", width=10),
        FormField("longitude", "Longitude", hint="Decimal degrees, like -0.1196", width=10),
        FormField("gia_m2", "Gross internal floor area (m²)", kind="number", width=10),
        FormField("notes", "Notes", kind="textarea", hint="Never shown on the public site"),
        FormField(
            "published",
            "Show on the public estates pages",
            kind="select",
            options=(("no", "No"), ("yes", "Yes")),
        ),
    ),
    parse_key=int,
    key_of=lambda row: str(row.id),
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=hand_sites.current,
    create=lambda session, data, principal: hand_sites.create(session, data, principal.label),
    update=lambda session, row, data, principal: hand_sites.update(
        session, row, data, principal.label
    ),
    listing=lambda session: hand_sites.listing(session),
    return_url=lambda _row: "/workspace/estate-sites",
    title_of=lambda row: row.name,
    to_json=hand_sites.workspace_json,
    defaults=lambda _request: {"published": "no"},
)
KINDS: tuple[RecordKind, ...] = (KIND,)

COLUMNS = [
    "id",
    "name",
    "kind",
    "subregion",
    "ods_code",
    "holder",
    "tenure",
    "address",
    "postcode",
    "latitude",
    "longitude",
    "gia_m2",
    "source",
    "entered_by_hand",
    "added_by",
    "added_at",
    "changed_by",
    "changed_at",
]


def _row(entry: dict[str, Any]) -> list[Any]:
    values = entry | {
        "kind": entry["kind_name"],
        "tenure": entry["tenure_name"],
        "added_at": entry["added_at"].isoformat() if entry["added_at"] else None,
        "changed_at": entry["changed_at"].isoformat() if entry["changed_at"] else None,
        "entered_by_hand": "yes",
    }
    return [values[c] for c in COLUMNS]


def public_entries(session: Session) -> list[dict[str, Any]]:
    """The published hand-entered sites, as the public pages show them."""
    return [hand_sites.public_json(r) for r in hand_sites.listing(session, published_only=True)]


def hand_table(entries: list[dict[str, Any]]) -> Table:
    return Table(COLUMNS, [_row(e) for e in entries])


@twin_routes(router, "/estates/hand-sites")
def public_hand_sites(request: Request) -> Page:
    with read_session(request) as session:
        entries = public_entries(session)
    table = hand_table(entries)
    return Page(
        "estates/hand_sites.html",
        "London's NHS estate: sites added by hand",
        context={"entries": entries, "kinds": HAND_SITE_KINDS},
        data={"sites": table.records()},
        table=table,
        filename="estates-hand-sites",
    )


@twin_routes(router, "/workspace/estate-sites", private=True)
def workspace_hand_sites(request: Request) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.ESTATE_SITE)
    with read_session(request) as session:
        entries = [hand_sites.workspace_json(r) for r in hand_sites.listing(session)]
    table = Table(
        [*COLUMNS, "published", "notes"],
        [[*_row(e), "yes" if e["published"] else "no", e["notes"]] for e in entries],
    )
    return ws_page(
        principal,
        Page(
            "estates/workspace_hand_sites.html",
            "Sites added by hand",
            context={
                "entries": entries,
                "can_create": auth.is_allowed(principal, auth.CREATE, auth.ESTATE_SITE),
                "can_edit": auth.is_allowed(principal, auth.EDIT, auth.ESTATE_SITE),
            },
            data={"sites": table.records()},
            table=table,
            filename="estates-hand-sites-workspace",
        ),
    )


def register(app: FastAPI) -> None:
    """Mount the hand-entered sites' forms, JSON API, workspace list and public list."""
    install(app)
    app.include_router(api_router(KINDS))
    app.include_router(form_router(KINDS))
    app.include_router(router)
