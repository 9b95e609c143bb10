"""Web plumbing of the signed-in workspace: who is asking, CSRF, units of work, errors.

Every workspace route goes through three helpers, so the rules hold everywhere:
- `viewer(request)` — the signed-in principal, or 401 / a redirect to the sign-in page;
- `writer(request)` — the same, plus the CSRF check for cookie-authenticated requests
  (the form field or the ``X-CSRF-Token`` header; bearer-token calls need neither);
- `unit_of_work(request, principal)` — one transaction whose changes are attributed to
  the principal in the audit trail.
Access decisions themselves are never made here: routes call `core.auth.authorize`. A
write the policy refuses is audited here, though ("write refused", with what was asked
for), in a transaction of its own since the refused one rolls back: by `unit_of_work`
for refusals inside it (an import's refused rows included) and by the 403 handler for
the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from healthycity.core.audit import WRITE_REFUSED, Actor, acting_as, record_event
from healthycity.core.auth import (
    AuthSettings,
    Forbidden,
    Principal,
    collecting_refusals,
    principal_from_session,
    principal_from_token,
)
from healthycity.core.auth_models import ROLE_LABELS
from healthycity.core.errors import Conflict, Invalid, NotFound
from healthycity.core.web import csrf
from healthycity.core.web.rendering import render
from healthycity.core.web.twins import Page

SESSION_COOKIE = "hc_session"
# A form shown again with its error summary is an ordinary page, answered 200 as GOV.UK
# and NHS services do; the JSON API answers 422 for the same refusal.
FORM_ERROR_STATUS = 200
_UNSET = object()


class SignInRequired(Exception):
    """The request needs a signed-in person."""


def settings_of(request: Request) -> Any:
    return request.app.state.settings


def auth_settings(request: Request) -> AuthSettings:
    value = getattr(request.app.state, "auth_settings", None)
    if value is None:
        value = AuthSettings()
        request.app.state.auth_settings = value
    return value


def sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


@contextmanager
def read_session(request: Request) -> Iterator[Session]:
    with sessions(request)() as session:
        yield session


def is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.endswith(".json") or path.endswith(".csv")


def current_principal(request: Request) -> Principal | None:
    """The person behind this request (bearer token or session cookie), cached per request."""
    cached = getattr(request.state, "principal", _UNSET)
    if cached is None or isinstance(cached, Principal):
        return cached
    principal: Principal | None = None
    header = request.headers.get("authorization", "")
    with read_session(request) as session:
        if header.lower().startswith("bearer "):
            principal = principal_from_token(session, header[7:].strip())
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            if cookie:
                principal = principal_from_session(session, cookie)
    request.state.principal = principal
    return principal


def viewer(request: Request) -> Principal:
    principal = current_principal(request)
    if principal is None:
        raise SignInRequired()
    return principal


async def writer(request: Request) -> Principal:
    """The principal of a request that changes something, after the CSRF check."""
    principal = viewer(request)
    if principal.via == "token":
        return principal
    submitted = request.headers.get(csrf.HEADER)
    if submitted is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(csrf.FIELD)
        submitted = value if isinstance(value, str) else None
    try:
        csrf.verify(principal.csrf_token, submitted)
    except csrf.CsrfError as exc:
        raise Forbidden(str(exc)) from None
    return principal


def actor_for(principal: Principal) -> Actor:
    return Actor(principal.label, account_id=principal.account_id)


@contextmanager
def unit_of_work(request: Request, principal: Principal) -> Iterator[Session]:
    """One transaction, attributed to ``principal``; any error rolls all of it back.

    Every refusal of the policy met inside it is audited afterwards, whether the refusal
    ended the request (403) or was reported with others (an import's rows, 422).
    """
    with collecting_refusals() as refused:
        try:
            with (
                sessions(request)() as session,
                session.begin(),
                acting_as(session, actor_for(principal)),
            ):
                yield session
        finally:
            if refused:
                audit_refusals(request, principal, refused)


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def audit_refusals(request: Request, principal: Principal, refusals: list[Forbidden]) -> None:
    """Write each refused write to the audit trail, in a transaction of its own.

    The record is filed under the refused record type with the request's path as its id
    (so a record's own history shows only its changes), and says what was asked: the
    action, the programme it belongs to, the protected fields and the reason.
    """
    pending = [r for r in refusals if not r.audited]
    if not pending:
        return
    with (
        sessions(request)() as session,
        session.begin(),
        acting_as(session, actor_for(principal)),
    ):
        for refusal in pending:
            record_event(
                session,
                refusal.record_type or "request",
                request.url.path,
                WRITE_REFUSED,
                {
                    "method": request.method,
                    "action": refusal.action,
                    "owner": refusal.owner,
                    "fields": list(refusal.fields),
                    "reason": str(refusal)[:500],
                },
            )
            refusal.audited = True


def safe_next(target: str | None, default: str = "/workspace") -> str:
    """Only local paths: never let a sign-in link send someone to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def errors_from(exc: ValidationError | Invalid) -> dict[str, str]:
    """Field -> message from a pydantic error or a domain refusal ("" for the whole form)."""
    if isinstance(exc, Invalid):
        return exc.errors
    errors: dict[str, str] = {}
    for error in exc.errors():
        location = [str(part) for part in error["loc"] if not isinstance(part, int)]
        field = (
            ".".join(location[:2])
            if location[:1] == ["allocations"]
            else (location[0] if location else "")
        )
        message = str(error["msg"]).removeprefix("Value error, ")
        errors.setdefault(field, message[:1].upper() + message[1:])
    return errors


def ws_render(
    request: Request,
    template: str,
    title: str,
    principal: Principal | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    """Render a workspace page: the shared shell plus who is signed in and their token."""
    return render(
        request,
        template,
        title=title,
        status_code=status_code,
        principal=principal,
        role_label=ROLE_LABELS.get(principal.role, principal.role) if principal else None,
        csrf_token=principal.csrf_token if principal else None,
        **values,
    )


def ws_page(principal: Principal, page: Page) -> Page:
    """A workspace `Page` (web.twins) with who is signed in added to its context.

    Pages with data are built as `Page`s and registered with
    ``twin_routes(..., private=True)``, so their ``.json`` and ``.csv`` twins run the same
    handler (the same sign-in and `authorize` calls) and are never cached.
    """
    page.context.update(
        principal=principal,
        role_label=ROLE_LABELS.get(principal.role, principal.role),
        csrf_token=principal.csrf_token,
    )
    return page


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=auth_settings(request).session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings_of(request).environment != "development",
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        httponly=True,
        samesite="lax",
        secure=settings_of(request).environment != "development",
        path="/",
    )


def install(app: FastAPI) -> None:
    """Once per app: the error handlers every signed-in route relies on."""
    if getattr(app.state, "workspace_installed", False):
        return
    app.state.workspace_installed = True
    _add_filters()

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired) -> Response:
        if is_api(request) or request.method != "GET":
            return JSONResponse(
                {"detail": "sign in, or send an API token as 'Authorization: Bearer …'"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return see_other(f"/workspace/sign-in?next={target}")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        principal = getattr(request.state, "principal", None)
        if request.method in _WRITES and isinstance(principal, Principal) and not exc.audited:
            from starlette.concurrency import run_in_threadpool

            await run_in_threadpool(audit_refusals, request, principal, [exc])
        return _error(request, 403, "You do not have permission to do this", str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _error(request, 404, "Page not found", str(exc))

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> Response:
        return _error(request, 409, "This cannot be done now", str(exc))

    @app.exception_handler(Invalid)
    async def _invalid(request: Request, exc: Invalid) -> Response:
        return JSONResponse({"detail": str(exc), "errors": exc.errors}, status_code=422)


def _add_filters() -> None:
    """Formatting the workspace's templates share (money as the seed reports print it)."""
    from healthycity.core.money import pounds
    from healthycity.core.web.templating import environment

    environment().filters.setdefault("pounds", pounds)


def _error(request: Request, status: int, title: str, message: str) -> Response:
    if is_api(request):
        return JSONResponse({"detail": message}, status_code=status)
    principal = getattr(request.state, "principal", None)
    return ws_render(
        request,
        "workspace/error.html",
        title,
        principal if isinstance(principal, Principal) else None,
        status_code=status,
        message=message,
    )
