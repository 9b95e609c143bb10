"""Render a page: the shared context every template needs, and its HTML response."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from healthycity.core.registry import navigation
from healthycity.core.web.templating import environment


def page_context(request: Request, title: str) -> dict[str, Any]:
    root = request.scope.get("root_path", "").rstrip("/")
    state = request.app.state
    return {
        "title": title,
        "root_path": root,
        "asset_root": f"{root}/static",
        "asset_path": f"{root}/static/nhsuk/assets",
        # No nonce in the page: its one inline script is allowed by hash (core.web.security),
        # so the same page is the same bytes for every visitor and can be served again.
        "csp_nonce": "",
        "navigation": [
            {"href": f"{root}{href}", "text": text, "current": request.url.path == href}
            for text, href in getattr(state, "navigation", None) or navigation()
        ],
        "illustrative": bool(getattr(state, "illustrative", lambda: False)()),
        # "N of M indicators show published figures", for the banner (outcomes sets it).
        "data_note": str(getattr(state, "data_note", lambda: "")()),
    }


def render(
    request: Request, template: str, title: str, status_code: int = 200, **values: Any
) -> HTMLResponse:
    context = page_context(request, title)
    context.update(values)
    html = environment().get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code)
