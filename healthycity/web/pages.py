"""Pages that belong to the shell: accessibility statement and service status.

The home page is the outcomes dashboard's (healthycity/outcomes/pages.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from healthycity import __version__
from healthycity.core.models import LoadedPack
from healthycity.core.web.rendering import render

router = APIRouter()


def _loaded_pack(request: Request) -> LoadedPack | None:
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        return session.scalars(select(LoadedPack)).first()


@router.get("/accessibility", response_class=HTMLResponse)
def accessibility(request: Request) -> HTMLResponse:
    return render(request, "accessibility.html", title="Accessibility statement")


@router.get("/health")
def health(request: Request) -> JSONResponse:
    """Liveness and readiness for operators: database reachable, at head, pack loaded."""
    from healthycity.core.migrate import current_revision, head_revision

    engine = request.app.state.engine
    body: dict[str, Any] = {"status": "ok", "version": __version__}
    try:
        revision = current_revision(engine)
        pack = _loaded_pack(request)
    except Exception as exc:  # noqa: BLE001 - the status page must answer whatever fails
        body.update(
            status="error",
            database={"ok": False, "engine": engine.dialect.name, "error": type(exc).__name__},
            pack=None,
        )
        return JSONResponse(body, status_code=503)
    head = head_revision()
    body["database"] = {
        "ok": revision == head,
        "engine": engine.dialect.name,
        "migration": revision,
        "head": head,
    }
    body["pack"] = pack.pack_id if pack else None
    if revision != head:
        body["status"] = "degraded"
    return JSONResponse(body, status_code=200 if revision == head else 503)
