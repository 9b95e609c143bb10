"""The workspace shell: sign in and out (password or OIDC), the home page, a record's
history, and account administration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthycity.core import auth, csrf
from healthycity.core.audit import changed_fields, history
from healthycity.core.auth_models import ROLE_LABELS, ROLES, Account
from healthycity.portfolio.service import Invalid, NotFound
from healthycity.workspace.records import FormField, error_list
from healthycity.workspace.web import (
    FORM_ERROR_STATUS,
    SESSION_COOKIE,
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
    with sessions(request)() as session, session.begin():
        account = auth.verify_password(session, form.email, form.password)
        if account is None:
            return _sign_in_page(
                request,
                errors={"email": "Enter a correct email address and password"},
                email=email,
                status=FORM_ERROR_STATUS,
            )
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            auth.end_session(session, old)
        token, _row = auth.start_session(
            session, account, hours=auth_settings(request).session_hours
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


def _count(session: Session, model: type[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


@router.get("/workspace", response_class=HTMLResponse)
def home(request: Request) -> Response:
    principal = viewer(request)
    from healthycity.assurance.models import STATUS_LABELS, Proposal
    from healthycity.portfolio.models import DevolutionArea, Pledge, Programme

    with read_session(request) as session:
        by_status = dict(
            session.execute(select(Proposal.status, func.count()).group_by(Proposal.status)).all()
        )
        counts = {
            "programmes": _count(session, Programme),
            "areas": _count(session, DevolutionArea),
            "pledges": _count(session, Pledge),
            "proposals": sum(by_status.values()),
        }
    return ws_render(
        request,
        "workspace/home.html",
        "Workspace",
        principal,
        counts=counts,
        proposals=[(STATUS_LABELS[s], by_status.get(s, 0)) for s in STATUS_LABELS],
        can_admin=auth.is_allowed(principal, auth.VIEW, auth.ACCOUNT),
    )


@router.get("/workspace/history/{record_type}/{record_id:path}", response_class=HTMLResponse)
def record_history(request: Request, record_type: str, record_id: str) -> Response:
    """Every change to a record and to what belongs to it: who, when, before and after."""
    principal = viewer(request)
    if record_type not in auth.RECORD_TYPES:
        raise NotFound(f"no record type {record_type!r}")
    auth.authorize(principal, auth.VIEW, record_type)
    with read_session(request) as session:
        records = history(session, record_type, record_id)
    if not records:
        raise NotFound(f"no history for {record_type} {record_id}")
    rows = [
        {
            "record": r,
            "changes": changed_fields(r),
        }
        for r in reversed(records)
    ]
    page = HISTORY_PAGES.get(record_type, "/workspace").format(id=record_id)
    return ws_render(
        request,
        "workspace/history.html",
        f"History of {record_type.replace('_', ' ')} {record_id}",
        principal,
        rows=rows,
        back=page,
    )


# ------------------------------------------------------------------------- accounts


@router.get("/workspace/accounts", response_class=HTMLResponse)
def accounts(request: Request) -> Response:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.ACCOUNT)
    with read_session(request) as session:
        rows = list(session.scalars(select(Account).order_by(Account.email)))
        listing = [
            {
                "account": a,
                "role": ROLE_LABELS.get(a.role, a.role),
                "programmes": sorted(a.owned(auth.PROGRAMME)),
            }
            for a in rows
        ]
    return ws_render(
        request,
        "workspace/accounts.html",
        "Accounts",
        principal,
        listing=listing,
        roles=[(r, ROLE_LABELS[r]) for r in ROLES],
        values={},
        errors={},
        error_list=[],
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
        errors = {"email": str(exc)} if isinstance(exc, auth.AccountError) else errors_from(exc)
        with read_session(request) as session:
            rows = list(session.scalars(select(Account).order_by(Account.email)))
            listing = [
                {
                    "account": a,
                    "role": ROLE_LABELS.get(a.role, a.role),
                    "programmes": sorted(a.owned(auth.PROGRAMME)),
                }
                for a in rows
            ]
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


def register(app: FastAPI) -> None:
    """Mount sign-in, the workspace home, history and accounts (and OIDC when configured)."""
    from healthycity.workspace import oidc
    from healthycity.workspace.accounts import ACCOUNT
    from healthycity.workspace.records import api_router, form_router

    install(app)
    app.include_router(api_router([ACCOUNT]))
    app.include_router(form_router([ACCOUNT]))
    app.include_router(router)
    app.include_router(oidc.router)
