"""The disposals pipeline on the web: a record kind (forms + JSON API), the workspace list,
and the public pipeline with receipts by sub-region.

Workspace: ``/workspace/disposals`` (with private ``.json``/``.csv`` twins), the generic
forms at ``/workspace/disposals/new`` and ``/<id>/edit``, and ``/api/v1/disposals``; the
estates role and the portfolio office change them (`core.auth.POLICY`), everyone
signed in reads them. Public: ``/estates/disposals`` lists the entries marked published
(never their notes or who entered them) with the receipts each sub-region's plan has
brought in and expects, so "London receipts stay in London" can be seen.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.orm import Session

from healthycity.core import auth
from healthycity.core.charts import render_svg
from healthycity.core.web.records import FormField, RecordKind, api_router, form_router
from healthycity.core.web.twins import Page, Table, money, twin_routes
from healthycity.core.web.workspace import install, read_session, viewer, ws_page
from healthycity.estates import charts, disposals
from healthycity.estates.models import FORUMS, STAGE_LABELS, STAGES, Disposal
from healthycity.estates.register import SUBREGIONS

router = APIRouter(include_in_schema=False)
STAGE_COLOURS = {
    "candidate": "grey",
    "approved": "blue",
    "marketed": "yellow",
    "sold": "green",
    "withdrawn": "red",
}

KIND = RecordKind(
    name=auth.DISPOSAL,
    plural="disposals",
    label="disposal",
    model=Disposal,
    schema=disposals.DisposalIn,
    fields=(
        FormField("name", "Name", hint="What is being disposed of, like 'Former nurses' home'"),
        FormField("org_code", "Organisation (ODS code)", hint="From the estates register", width=5),
        FormField("site_code", "Site code", hint="The site's ERIC code, like RAL01", width=10),
        FormField(
            "site_description",
            "Site description",
            hint="For land ERIC does not cover (GP premises, NHS Property Services): "
            "where it is and what it is",
        ),
        FormField(
            "subregion",
            "Sub-region",
            kind="select",
            hint="Taken from the register when the site has one",
            options=(("", "From the register"), *SUBREGIONS.items()),
        ),
        FormField("stage", "Stage", kind="select", options=tuple(STAGE_LABELS.items())),
        FormField("stage_on", "Date the stage was reached", kind="date"),
        FormField(
            "forum",
            "Business case decided by",
            kind="select",
            hint="Needed from approval on",
            options=(("", "Not decided yet"), *FORUMS.items()),
        ),
        FormField("expected_receipt", "Expected receipt", kind="money"),
        FormField("actual_receipt", "Actual receipt", kind="money", hint="Once sold"),
        FormField("homes_enabled", "Homes enabled", kind="number", width=5),
        FormField("expected_completion", "Expected completion", kind="date"),
        FormField("withdrawn_reason", "Why it was withdrawn", kind="textarea"),
        FormField("notes", "Notes", kind="textarea", hint="Never shown on the public site"),
        FormField(
            "published",
            "Show on the public pipeline",
            kind="select",
            options=(("no", "No"), ("yes", "Yes")),
        ),
    ),
    parse_key=int,
    key_of=lambda row: str(row.id),
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=disposals.current,
    create=lambda session, data, principal: disposals.create(session, data, principal.label),
    update=lambda session, row, data, _p: disposals.update(session, row, data),
    delete=disposals.delete,
    listing=lambda session: disposals.listing(session),
    return_url=lambda _row: "/workspace/disposals",
    title_of=lambda row: row.name,
    to_json=disposals.workspace_json,
    defaults=lambda _request: {"stage": "candidate", "published": "no"},
)
KINDS: tuple[RecordKind, ...] = (KIND,)

PUBLIC_COLUMNS = [
    "id",
    "name",
    "organisation",
    "site",
    "site_name",
    "site_description",
    "subregion",
    "stage",
    "stage_since",
    "forum",
    "expected_receipt",
    "actual_receipt",
    "homes_enabled",
    "expected_completion",
    "withdrawn_reason",
]


def _row(entry: dict[str, Any]) -> list[Any]:
    since = entry["stages"][-1]["reached_on"] if entry["stages"] else None
    values = entry | {
        "stage_since": since.isoformat() if since else None,
        "forum": entry["forum_name"],
        "expected_receipt": money(entry["expected_receipt"]),
        "actual_receipt": money(entry["actual_receipt"]),
        "expected_completion": (
            entry["expected_completion"].isoformat() if entry["expected_completion"] else None
        ),
    }
    return [values[c] for c in PUBLIC_COLUMNS]


def receipts_table(found: list[disposals.Receipts]) -> Table:
    """Receipts per sub-region and London's total (the chart's table twin)."""
    return Table(
        [
            "code",
            "subregion",
            "in_pipeline",
            "sold",
            "withdrawn",
            "expected_receipts",
            "actual_receipts",
            "homes_enabled",
        ],
        [
            [
                r.code,
                r.name,
                r.in_pipeline,
                r.sold,
                r.withdrawn,
                money(r.expected_receipts),
                money(r.actual_receipts),
                r.homes_enabled,
            ]
            for r in found
        ],
    )


def receipts_chart(found: list[disposals.Receipts]) -> dict[str, Any]:
    """The receipts chart, its words and its table, for `estates/macros.html`'s figure."""
    rows = [r for r in found if r.code != "LONDON"]
    total = found[-1]
    description = (
        "Bars of disposal receipts for each London sub-region: received from sites sold, "
        "and expected from sites still in the pipeline. In all, "
        f"£{total.actual_receipts:,.0f} received and £{total.expected_receipts:,.0f} "
        f"expected, enabling {total.homes_enabled:,} homes."
    )
    spec = charts.receipts_bars(
        [
            {"place": r.name, "kind": kind, "kind_order": i, "pounds": float(amount)}
            for r in rows
            for i, (kind, amount) in enumerate(
                (("received", r.actual_receipts), ("expected", r.expected_receipts))
            )
        ]
    )
    return {
        "name": "receipts",
        "title": "Disposal receipts by sub-region",
        "description": description,
        "svg": render_svg(spec, description),
        "table": receipts_table(found),
    }


def _site_key(row: Disposal) -> tuple[str, str]:
    return (row.org_code or "", row.site_code or "")


def public_pipeline(session: Session) -> tuple[list[Disposal], list[disposals.Receipts]]:
    rows = disposals.listing(session, published_only=True)
    return rows, disposals.receipts(rows)


@twin_routes(router, "/estates/disposals")
def public_disposals(request: Request) -> Page:
    with read_session(request) as session:
        rows, found = public_pipeline(session)
        names = disposals.site_names(session, rows)
        entries = [disposals.public_json(r, names.get(_site_key(r))) for r in rows]
    chart = receipts_chart(found) if rows else None
    table = Table(PUBLIC_COLUMNS, [_row(e) for e in entries])
    receipts = receipts_table(found)
    return Page(
        "estates/disposals.html",
        "London's NHS estate: the disposals pipeline",
        context={
            "entries": entries,
            "receipts": found,
            "chart": chart,
            "stage_labels": STAGE_LABELS,
            "stage_colours": STAGE_COLOURS,
        },
        data={"disposals": table.records(), "receipts": receipts.records()},
        table=table,
        tables={"receipts": receipts},
        filename="estates-disposals",
    )


@twin_routes(router, "/workspace/disposals", private=True)
def workspace_disposals(request: Request) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.DISPOSAL)
    with read_session(request) as session:
        rows = disposals.listing(session)
        names = disposals.site_names(session, rows)
        entries = [
            disposals.workspace_json(r) | {"site_name": names.get(_site_key(r))} for r in rows
        ]
    found = disposals.receipts(rows)
    receipts = receipts_table(found)
    table = Table(
        [*PUBLIC_COLUMNS, "published", "notes"],
        [[*_row(e), "yes" if e["published"] else "no", e["notes"]] for e in entries],
    )
    return ws_page(
        principal,
        Page(
            "estates/workspace_disposals.html",
            "Estates disposals pipeline",
            context={
                "entries": entries,
                "receipts": found,
                "stage_labels": STAGE_LABELS,
                "stage_colours": STAGE_COLOURS,
                "stages": STAGES,
                "can_create": auth.is_allowed(principal, auth.CREATE, auth.DISPOSAL),
                "can_edit": auth.is_allowed(principal, auth.EDIT, auth.DISPOSAL),
            },
            data={"disposals": table.records(), "receipts": receipts.records()},
            table=table,
            tables={"receipts": receipts},
            filename="estates-disposals-workspace",
        ),
    )


def register(app: FastAPI) -> None:
    """Mount the disposals' forms, JSON API, workspace list and public pipeline."""
    install(app)
    app.include_router(api_router(KINDS))
    app.include_router(form_router(KINDS))
    app.include_router(router)
