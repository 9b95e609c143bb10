"""The open API of the partners: ``GET /api/v1/organisations`` (no sign-in)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request

from healthycity.core.web.workspace import read_session
from healthycity.geography import service

router = APIRouter(prefix="/api/v1", tags=["organisations"])


@router.get("/organisations", summary="The partner organisations with their ODS and ONS codes")
def organisations(request: Request, kind: str | None = None) -> list[dict[str, Any]]:
    """Every partner organisation by name: kind, ODS code, the ONS codes of the areas it
    wholly covers, its sub-region and whether it is a party to the collaboration
    agreement. ``kind`` filters (ccg, council, national_body…)."""
    with read_session(request) as session:
        rows = service.organisations(session)
    return [
        {
            "slug": o.slug,
            "name": o.name,
            "kind": o.kind,
            "ods_code": o.ods_code,
            "ons_codes": list(o.ons_codes),
            "sub_region": o.sub_region,
            "party_to_agreement": o.party_to_agreement,
        }
        for o in rows
        if kind is None or o.kind == kind
    ]


def register(app: FastAPI) -> None:
    app.include_router(router)
