"""The workspace shell: sign in and out (password or OIDC), the home page, a record's
history, and account administration.

A record's history and the accounts list have ``.json`` and ``.csv`` twins (web.twins,
private): the same handler answers them, so the same sign-in and role checks apply.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core import auth, throttle
from healthycity.core.audit import Actor, acting_as, changed_fields, history
from healthycity.core.auth_models import ROLE_LABELS, ROLES, Account
from healthycity.core.errors import Invalid, NotFound
from healthycity.core.web import csrf
from healthycity.core.web.records import FormField, error_list
from healthycity.core.web.twins import Page, Table, twin_routes
from healthycity.core.web.workspace import (
    FORM_ERROR_STATUS,
    SESSION_COOKIE,
    actor_for,
    auth_settings,
    clear_session_cookie,
    current_principal,
    errors_from,
    install,
    read_session,
    safe_next,
    see_other,
    sessions,
    set_session_cookie,
    settings_of,
    unit_of_work,
    viewer,
    writer,
    ws_page,
    ws_render,
)

router = APIRouter(include_in_schema=False)

# The record types whose history can be shown, and where each one's page is.
HISTORY_PAGES: dict[str, str] = {
    "programme": "/workspace/programmes/{id}",
    "proposal": "/workspace/proposals/{id}",
    "fund": "/workspace/devolution",
    "devolution_area": "/workspace/devolution",
    "pilot": "/workspace/devolution",
    "pledge": "/workspace/devolution",
    "account": "/workspace/accounts",
}


class SignIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


def _anonymous_token(request: Request) -> str:
    secret = settings_of(request).secret_key
    cookie = request.cookies.get(csrf.ANON_COOKIE)
    if cookie is not None and csrf.anonymous_token_valid(secret, cookie):
        return cookie
    return csrf.new_anonymous_token(secret)


def _sign_in_page(
    request: Request, *, errors: dict[str, str] | None = None, email: str = "", status: int = 200
) -> Response:
    token = _anonymous_token(request)
    fields = [FormField("email", "Email address"), FormField("password", "Password")]
    response = ws_render(
        request,
        "workspace/sign_in.html",
        "Sign in",
        None,
        status_code=status,
        anonymous_token=token,
        email=email,
        errors=errors or {},
        error_list=error_list(errors or {}, fields),
        error_title=bool(errors),
        next=safe_next(request.query_params.get("next")),
        oidc=auth_settings(request).oidc_enabled,
        password_changed=request.query_params.get("done") == "password",
    )
    response.set_cookie(
        csrf.ANON_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=settings_of(request).environment != "development",
        path="/workspace",
    )
    return response


def _client(request: Request) -> str:
    return throttle.client_address(request.client.host if request.client else None)


def _minutes_until(until: datetime) -> int:
    return max(1, math.ceil((until - datetime.now(UTC)).total_seconds() / 60))


LOCKED_MESSAGE = (
    "There have been too many attempts to sign in. Wait {minutes} and try again, "
    "or ask an administrator to unlock the account."
)


def _locked_message(until: datetime) -> str:
    minutes = _minutes_until(until)
    return LOCKED_MESSAGE.format(minutes=f"{minutes} minute{'s' if minutes != 1 else ''}")


def _locked_page(request: Request, until: datetime, email: str) -> Response:
    """The answer while an email or address is locked: the same whether or not an account
    has the email (the count is kept for every email typed), with HTTP 429 and when to
    come back."""
    response = _sign_in_page(request, errors={"": _locked_message(until)}, email=email, status=429)
    response.headers["Retry-After"] = str(_minutes_until(until) * 60)
    return response


@router.get("/workspace/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    if current_principal(request) is not None:
        return see_other(safe_next(request.query_params.get("next")))
    return _sign_in_page(request)


@router.post("/workspace/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/workspace",  # noqa: A002 - the form field's name
) -> Response:
    secret = settings_of(request).secret_key
    try:
        csrf.verify_anonymous(secret, request.cookies.get(csrf.ANON_COOKIE), csrf_token)
    except csrf.CsrfError as exc:
        return _sign_in_page(request, errors={"": str(exc)}, email=email, status=403)
    try:
        form = SignIn(email=email, password=password)
    except ValidationError:
        errors = {}
        if not email.strip():
            errors["email"] = "Enter your email address"
        if not password:
            errors["password"] = "Enter your password"  # noqa: S105 - a message
        return _sign_in_page(
            request,
            errors=errors or {"email": "Enter a valid email"},
            email=email,
            status=FORM_ERROR_STATUS,
        )
    limits = throttle.Limits.from_settings(auth_settings(request))
    attempt = throttle.Attempt(auth.normalise_email(form.email), _client(request))
    with sessions(request)() as session, session.begin():
        refused_until = throttle.reserve(session, attempt, limits)
    if refused_until is not None:
        auth.spend_verify_time(form.password)
        return _locked_page(request, refused_until, email)
    token: str | None = None
    locked_until: datetime | None = None
    with sessions(request)() as session, session.begin():
        account = auth.verify_password(session, form.email, form.password)
        if account is None:
            locked_until = throttle.failed(session, attempt, limits)
        else:
            throttle.succeeded(session, attempt)
            old = request.cookies.get(SESSION_COOKIE)
            if old:
                auth.end_session(session, old)
            token, _row = auth.start_session(
                session, account, hours=auth_settings(request).session_hours
            )
    if token is None:
        if locked_until is not None:
            return _locked_page(request, locked_until, email)
        return _sign_in_page(
            request,
            errors={"email": "Enter a correct email address and password"},
            email=email,
            status=FORM_ERROR_STATUS,
        )
    response = see_other(safe_next(next))
    set_session_cookie(request, response, token)
    response.delete_cookie(csrf.ANON_COOKIE, path="/workspace")
    return response


@router.post("/workspace/sign-out")
async def sign_out(request: Request) -> Response:
    await writer(request)
    with sessions(request)() as session, session.begin():
        auth.end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = see_other("/workspace/sign-in")
    clear_session_cookie(request, response)
    return response


@router.get("/workspace", response_class=HTMLResponse)
def home(request: Request) -> Response:
    principal = viewer(request)
    from healthycity.assurance.service import proposals_by_status
    from healthycity.portfolio.service import register_counts

    with read_session(request) as session:
        by_status = proposals_by_status(session)
        counts = {**register_counts(session), "proposals": sum(n for _, n in by_status)}
    return ws_render(
        request,
        "workspace/home.html",
        "Workspace",
        principal,
        counts=counts,
        proposals=by_status,
        can_admin=auth.is_allowed(principal, auth.VIEW, auth.ACCOUNT),
    )


def _cell(value: Any) -> Any:
    """A before/after value as one CSV cell: lists and mappings as compact JSON."""
    if isinstance(value, list | dict):
        import json

        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def _history_table(rows: list[dict[str, Any]]) -> Table:
    """One row per field changed, newest change first (a change with no fields, such as
    a sign-in refused, is one row with the field blank)."""
    out: list[list[Any]] = []
    for row in rows:
        r = row["record"]
        head = [r.at.isoformat(), r.actor, r.action, r.record_type, r.record_id]
        changes = row["changes"] or [(None, None, None)]
        out.extend([*head, name, _cell(before), _cell(after)] for name, before, after in changes)
    return Table(
        ["at", "actor", "action", "record_type", "record_id", "field", "before", "after"], out
    )


@twin_routes(router, "/workspace/history/{record_type}/{record_id:path}", private=True)
def record_history(request: Request, record_type: str, record_id: str) -> Page:
    """Every change to a record and to what belongs to it: who, when, before and after."""
    principal = viewer(request)
    if record_type not in auth.RECORD_TYPES:
        raise NotFound(f"no record type {record_type!r}")
    auth.authorize(principal, auth.VIEW, record_type)
    with read_session(request) as session:
        records = history(session, record_type, record_id)
    if not records:
        raise NotFound(f"no history for {record_type} {record_id}")
    rows: list[dict[str, Any]] = [
        {
            "record": r,
            "changes": changed_fields(r),
        }
        for r in reversed(records)
    ]
    page = HISTORY_PAGES.get(record_type, "/workspace").format(id=record_id)
    data = [
        {
            "at": row["record"].at.isoformat(),
            "actor": row["record"].actor,
            "action": row["record"].action,
            "record_type": row["record"].record_type,
            "record_id": row["record"].record_id,
            "before": row["record"].before,
            "after": row["record"].after,
        }
        for row in rows
    ]
    return ws_page(
        principal,
        Page(
            "workspace/history.html",
            f"History of {record_type.replace('_', ' ')} {record_id}",
            context={
                "rows": rows,
                "back": page,
                "twin_base": f"/workspace/history/{record_type}/{quote(record_id)}",
            },
            data=data,
            table=_history_table(rows),
            filename=f"history-{record_type}-{record_id}".replace("/", "-"),
        ),
    )


# ------------------------------------------------------------------------- accounts


def _listing(session: Session) -> list[dict[str, Any]]:
    """The accounts page's rows, each with its lock (the email's), if it has one now."""
    rows = list(session.scalars(select(Account).order_by(Account.email)))
    locks = throttle.locks(session, throttle.ACCOUNT_SCOPE, [a.email for a in rows])
    return [
        {
            "account": a,
            "role": ROLE_LABELS.get(a.role, a.role),
            "programmes": sorted(a.owned(auth.PROGRAMME)),
            "locked_until": locks.get(a.email),
        }
        for a in rows
    ]


def _accounts_table(listing: list[dict[str, Any]]) -> Table:
    return Table(
        ["id", "name", "email", "role", "programmes_led", "active", "locked_until"],
        [
            [
                row["account"].id,
                row["account"].display_name,
                row["account"].email,
                row["role"],
                " ".join(row["programmes"]),
                row["account"].active,
                row["locked_until"].isoformat() if row["locked_until"] else None,
            ]
            for row in listing
        ],
    )


@twin_routes(router, "/workspace/accounts", private=True)
def accounts(request: Request) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.ACCOUNT)
    with read_session(request) as session:
        listing = _listing(session)
    return ws_page(
        principal,
        Page(
            "workspace/accounts.html",
            "Accounts",
            context={
                "listing": listing,
                "roles": [(r, ROLE_LABELS[r]) for r in ROLES],
                "values": {},
                "errors": {},
                "error_list": [],
            },
            table=_accounts_table(listing),
            filename="accounts",
        ),
    )


@router.post("/workspace/accounts", response_class=HTMLResponse)
async def add_account(request: Request) -> Response:
    principal = await writer(request)
    auth.authorize(principal, auth.CREATE, auth.ACCOUNT)
    form = await request.form()
    values: dict[str, Any] = {
        "email": str(form.get("email", "")),
        "display_name": str(form.get("display_name", "")),
        "role": str(form.get("role", "")),
        "password": str(form.get("password", "")) or None,
        "programmes": [p.strip() for p in str(form.get("programmes", "")).split() if p.strip()],
    }
    try:
        from healthycity.workspace.accounts import AccountIn

        data = AccountIn.model_validate(values)
        with unit_of_work(request, principal) as session:
            auth.create_account(
                session,
                data.email,
                data.role,
                display_name=data.display_name,
                password=data.password,
                programmes=tuple(data.programmes),
            )
    except (ValidationError, Invalid, auth.AccountError) as exc:
        errors = (
            {exc.field or "email": str(exc)[:1].upper() + str(exc)[1:]}
            if isinstance(exc, auth.AccountError)
            else errors_from(exc)
        )
        with read_session(request) as session:
            listing = _listing(session)
        fields = [
            FormField(n, n) for n in ("email", "display_name", "role", "password", "programmes")
        ]
        return ws_render(
            request,
            "workspace/accounts.html",
            "Accounts",
            principal,
            status_code=FORM_ERROR_STATUS,
            listing=listing,
            roles=[(r, ROLE_LABELS[r]) for r in ROLES],
            values=values | {"programmes": " ".join(values["programmes"]), "password": ""},
            errors=errors,
            error_list=error_list(errors, fields),
            error_title=True,
        )
    return see_other("/workspace/accounts")


@router.post("/workspace/accounts/{account_id}/unlock", response_class=HTMLResponse)
async def unlock_account(request: Request, account_id: int) -> Response:
    """An administrator lifts the lock on an account's email (audited as unlocked)."""
    principal = await writer(request)
    auth.authorize(principal, auth.EDIT, auth.ACCOUNT)
    with unit_of_work(request, principal) as session:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound(f"no account {account_id}")
        throttle.unlock(session, throttle.ACCOUNT_SCOPE, account.email)
    return see_other("/workspace/accounts")


# ------------------------------------------------------------------ passwords

_NEW_PASSWORD_FIELDS = (
    FormField("password", "New password"),
    FormField("confirm", "Confirm your new password"),
)


def _new_password_errors(password: str, confirm: str, email: str) -> dict[str, str]:
    """The account password policy (core.passwords), in the words the form shows."""
    if not password:
        return {"password": "Enter a new password"}  # noqa: S105 - a message
    try:
        auth.check_password_policy(password, email)
    except auth.AccountError as exc:
        message = str(exc).replace("the password", "Your new password", 1)
        return {"password": message}
    if password != confirm:
        return {"confirm": "The passwords do not match"}  # noqa: S105 - a message
    return {}


def _no_store(response: Response) -> Response:
    """Keep a page holding a reset token out of caches and out of other sites' logs."""
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _reset_page(
    request: Request,
    token: str,
    *,
    email: str | None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    anonymous = _anonymous_token(request)
    errors = errors or {}
    response = ws_render(
        request,
        "workspace/reset_password.html",
        "Set a new password" if email else "This link cannot be used",
        None,
        status_code=status,
        anonymous_token=anonymous,
        token=token,
        email=email,
        errors=errors,
        error_list=error_list(errors, list(_NEW_PASSWORD_FIELDS)),
        error_title=bool(errors),
        minimum=auth.MIN_PASSWORD_LENGTH,
    )
    response.set_cookie(
        csrf.ANON_COOKIE,
        anonymous,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=settings_of(request).environment != "development",
        path="/workspace",
    )
    return _no_store(response)


@router.get("/workspace/reset-password", response_class=HTMLResponse)
def reset_password_form(request: Request, token: str = "") -> Response:
    """The page a reset link opens: the token is checked here but spent only on saving."""
    with read_session(request) as session:
        account = auth.reset_link_account(session, token)
        email = account.email if account else None
    return _reset_page(request, token, email=email, status=200 if email else 404)


@router.post("/workspace/reset-password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    token: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    secret = settings_of(request).secret_key
    with read_session(request) as session:
        account = auth.reset_link_account(session, token)
        email = account.email if account else None
    if email is None:
        return _reset_page(request, token, email=None, status=404)
    try:
        csrf.verify_anonymous(secret, request.cookies.get(csrf.ANON_COOKIE), csrf_token)
    except csrf.CsrfError as exc:
        return _reset_page(request, token, email=email, errors={"": str(exc)}, status=403)
    errors = _new_password_errors(password, confirm, email)
    if errors:
        return _reset_page(request, token, email=email, errors=errors, status=FORM_ERROR_STATUS)
    actor = Actor(f"password reset link ({email})")
    with sessions(request)() as session, session.begin(), acting_as(session, actor):
        done = auth.use_reset_link(session, token, password)
    if done is None:  # spent or expired between the check and now
        return _reset_page(request, token, email=None, status=404)
    response = see_other("/workspace/sign-in?done=password")
    clear_session_cookie(request, response)
    return _no_store(response)


_CHANGE_FIELDS = (FormField("current", "Current password"), *_NEW_PASSWORD_FIELDS)


def _change_page(
    request: Request,
    principal: auth.Principal,
    *,
    has_password: bool,
    errors: dict[str, str] | None = None,
    status: int = 200,
    changed: bool = False,
) -> Response:
    errors = errors or {}
    return _no_store(
        ws_render(
            request,
            "workspace/change_password.html",
            "Change your password",
            principal,
            status_code=status,
            has_password=has_password,
            changed=changed,
            errors=errors,
            error_list=error_list(errors, list(_CHANGE_FIELDS)),
            error_title=bool(errors),
            minimum=auth.MIN_PASSWORD_LENGTH,
        )
    )


@router.get("/workspace/account/password", response_class=HTMLResponse)
def change_password_form(request: Request) -> Response:
    principal = viewer(request)
    with read_session(request) as session:
        account = session.get(Account, principal.account_id)
        has_password = bool(account and account.password_hash)
    return _change_page(
        request,
        principal,
        has_password=has_password,
        changed=request.query_params.get("changed") == "1",
    )


@router.post("/workspace/account/password", response_class=HTMLResponse)
async def change_password(request: Request) -> Response:
    """The signed-in person changes their own password; the current one is required.

    A wrong current password counts as a failed sign-in (throttled, audited and able to
    lock the account), so a borrowed session cannot be used to guess it. On success
    every session of the account ends, this browser gets a new one.
    """
    principal = await writer(request)
    form = await request.form()
    current = str(form.get("current", ""))
    password = str(form.get("password", ""))
    confirm = str(form.get("confirm", ""))
    with read_session(request) as session:
        account = session.get(Account, principal.account_id)
        has_password = bool(account and account.password_hash)
    if not has_password:
        return _change_page(request, principal, has_password=False, status=409)
    errors = {} if current else {"current": "Enter your current password"}
    errors |= _new_password_errors(password, confirm, principal.email)
    if errors:
        return _change_page(
            request, principal, has_password=True, errors=errors, status=FORM_ERROR_STATUS
        )
    limits = throttle.Limits.from_settings(auth_settings(request))
    attempt = throttle.Attempt(principal.email, _client(request), actor_for(principal))
    with sessions(request)() as session, session.begin():
        refused_until = throttle.reserve(session, attempt, limits)
    if refused_until is not None:
        auth.spend_verify_time(current)
        return _change_page(
            request,
            principal,
            has_password=True,
            errors={"": _locked_message(refused_until)},
            status=429,
        )
    token: str | None = None
    locked_until: datetime | None = None
    with unit_of_work(request, principal) as session:
        account = session.get(Account, principal.account_id)
        if account is None or not auth.password_matches(account, current):
            locked_until = throttle.failed(session, attempt, limits)
        else:
            throttle.succeeded(session, attempt)
            auth.set_password(session, account, password, reset=False)
            token, _row = auth.start_session(
                session, account, hours=auth_settings(request).session_hours
            )
    if token is None:
        message = (
            _locked_message(locked_until) if locked_until else "Your current password is not right"  # noqa: S105 - a message
        )
        return _change_page(
            request,
            principal,
            has_password=True,
            errors={"" if locked_until else "current": message},
            status=429 if locked_until else FORM_ERROR_STATUS,
        )
    response = see_other("/workspace/account/password?changed=1")
    set_session_cookie(request, response, token)
    return _no_store(response)


def register(app: FastAPI) -> None:
    """Mount sign-in, the workspace home, history and accounts (and OIDC when configured)."""
    from healthycity.core.web.records import api_router, form_router
    from healthycity.workspace import oidc
    from healthycity.workspace.accounts import ACCOUNT

    install(app)
    app.include_router(api_router([ACCOUNT]))
    app.include_router(form_router([ACCOUNT]))
    app.include_router(router)
    app.include_router(oidc.router)
