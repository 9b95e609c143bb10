"""The public site and workspace as one FastAPI app, assembled from the module registry.

Each installed module's ``web`` entries add their routers (in `INSTALLED` order, so the
outcomes module's ``/`` comes first) and its ``static/`` folder is served at
``/static/<module>``; this file adds only the shell's own pages and error handling.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from healthycity import __version__
from healthycity.core.db import make_engine, session_factory
from healthycity.core.registry import modules, navigation, resolve
from healthycity.core.settings import Settings, get_settings
from healthycity.core.web.rendering import render
from healthycity.core.web.security import HeadAsGet, SecurityHeaders
from healthycity.web.response_cache import install as install_response_cache

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="healthycity",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    # Inside the security headers, so a page served again gets this request's headers.
    install_response_cache(app, settings)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeadAsGet)  # outermost: HEAD runs as GET through everything

    from healthycity.web.pages import router as shell_router

    app.include_router(shell_router)
    app.state.navigation = navigation()
    for module in modules():
        for name in module.web:
            resolve(f"{name}:register")(app)
        if module.static_dir is not None:
            app.mount(
                f"/static/{module.name}",
                StaticFiles(directory=module.static_dir),
                name=f"{module.name}-static",
            )
    # Last, so a module's own /static/<module> mount is matched before the shell's.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if request.url.path.startswith("/api/") or request.url.path.endswith(".json"):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=headers
            )
        title = "Page not found" if exc.status_code == 404 else "Sorry, there is a problem"
        response: HTMLResponse = render(
            request,
            "error.html",
            title=title,
            status_code=exc.status_code,
            message=str(exc.detail) if exc.status_code != 404 else "Check the address is right.",
        )
        response.headers.update(headers)
        return response

    return app
