"""The estates open data API: the summary and one organisation's years, as JSON.

Read-only and public, like the pages; the same service calls answer both, so the API
and the pages' ``.json`` twins cannot drift apart. Kept out of the outcomes OpenAPI
document for now (that document is generated and checked by the outcomes module).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from healthycity.core.errors import NotFound
from healthycity.core.web.twins import json_response
from healthycity.core.web.workspace import read_session
from healthycity.estates import service
from healthycity.estates.columns import normalise_year

router = APIRouter(include_in_schema=False)


@router.get("/api/v1/estates/years")
def years(request: Request) -> Response:
    """The years with site returns loaded."""
    with read_session(request) as session:
        return json_response({"years": service.years(session)})


@router.get("/api/v1/estates/summary/{year}")
def summary(request: Request, year: str) -> Response:
    """London, each sub-region and each organisation for one year (as ``estates summary``)."""
    chosen = normalise_year(year)
    if chosen is None:
        raise NotFound(f"{year!r} is not a financial year like 2016-17")
    with read_session(request) as session:
        return json_response(service.summary(session, chosen))


@router.get("/api/v1/estates/organisations/{code}")
def organisation(request: Request, code: str) -> Response:
    """One organisation's measures, year by year."""
    with read_session(request) as session:
        org = service.organisation(session, code)
        return json_response(
            {
                "code": org.code,
                "name": org.name,
                "subregion": org.subregion,
                "successor": org.successor_code,
                "years": service.organisation_years(session, code),
                "source": service.ATTRIBUTION,
                "caveat": service.CAVEAT,
            }
        )


def register(app: FastAPI) -> None:
    app.include_router(router)
