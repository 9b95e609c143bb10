"""``/search?q=``: find an indicator or an area by name, ID or code.

Why on the server: the page must work without JavaScript, and the list it searches
(indicators and areas) is small enough to match in memory, cached per data version.
With no query the page lists everything A to Z, so the static export's copy of this
page is still a useful index when no server is there to answer a query.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from healthycity.core.web.twins import Page, twin_routes

router = APIRouter()


@twin_routes(router, "/search")
def search(request: Request, q: str | None = None) -> Page:
    from fastapi import HTTPException

    from healthycity.outcomes import dashboard as d
    from healthycity.outcomes.pages import page_cache

    sessions = request.app.state.sessions
    with sessions() as session:
        try:
            found = d.search(session, page_cache(request.app), q)
        except d.BadChoice as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
    title = f"Search results for “{found.query}”" if found.query else "Find an indicator or area"
    return Page(
        template="outcomes/search.html",
        title=title,
        context={"page": found},
        data={
            "query": found.query,
            "indicators": [{"title": h.title, "href": h.href} for h in found.indicators],
            "areas": [{"title": h.title, "detail": h.detail, "href": h.href} for h in found.areas],
        },
        table=found.table,
        filename="search",
    )
