"""Accounts as a record kind, so administrators manage them through the same API and
policy as every other record (and scripts can, with an administrator's token)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from healthycity.core import account_admin, auth, throttle
from healthycity.core.audit import snapshot
from healthycity.core.auth_models import PROGRAMME_LEAD, ROLES, Account
from healthycity.core.errors import Conflict, Invalid
from healthycity.core.web.records import FormField, RecordKind


class AccountIn(BaseModel):
    """An account as an administrator describes it; the password is never read back."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    display_name: str = Field(min_length=1, max_length=200)
    role: str
    # Only a cap on what is read: the password rules (ASVS 2.1, 12 to 128 characters) are
    # core.passwords', checked where the password is set, with the account's email.
    password: str | None = Field(None, max_length=1024)
    programmes: list[str] = Field(default_factory=list, max_length=100, validate_default=True)
    active: bool = True

    @field_validator("role")
    @classmethod
    def _known_role(cls, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"choose one of the roles: {', '.join(ROLES)}")
        return value

    @field_validator("programmes")
    @classmethod
    def _lead_leads_something(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """A programme lead with no programme could change nothing: refuse it."""
        if info.data.get("role") == PROGRAMME_LEAD and not value:
            raise ValueError(
                "a programme lead needs at least one programme: give the identifier of each "
                "programme they lead, like cancer"
            )
        return value


def _current(row: Account) -> dict[str, Any]:
    return {
        "email": row.email,
        "display_name": row.display_name,
        "role": row.role,
        "programmes": sorted(row.owned(auth.PROGRAMME)),
        "active": row.active,
    }


def _create(session: Session, data: Any, _principal: auth.Principal) -> Account:
    try:
        return auth.create_account(
            session,
            data.email,
            data.role,
            display_name=data.display_name,
            password=data.password or None,
            programmes=tuple(data.programmes),
        )
    except auth.AccountError as exc:
        raise Invalid({exc.field: str(exc)}) from None


def _update(session: Session, row: Account, data: Any, principal: auth.Principal) -> None:
    if row.id == principal.account_id and (data.role != row.role or not data.active):
        raise Invalid({"role": "you cannot change your own role or switch off your own account"})
    try:
        account_admin.refuse_losing_last_admin(session, row, role=data.role, active=data.active)
    except auth.AccountError as exc:
        raise Conflict(str(exc)) from None
    row.display_name = data.display_name
    row.role = data.role
    row.active = data.active
    if data.password:
        # An administrator's reset: it ends the account's sessions and is audited.
        try:
            auth.set_password(session, row, data.password, reset=True)
        except auth.AccountError as exc:
            raise Invalid({"password": str(exc)}) from None
    auth.set_programmes(session, row, tuple(data.programmes))
    session.flush()


def _delete(session: Session, row: Account) -> None:
    """Delete an account, unless it is the last active administrator (409)."""
    try:
        account_admin.refuse_losing_last_admin(session, row, active=False)
    except auth.AccountError as exc:
        raise Conflict(str(exc)) from None
    session.delete(row)
    session.flush()


def _json(row: Account) -> dict[str, Any]:
    body = snapshot(row)
    body["programmes"] = sorted(row.owned(auth.PROGRAMME))
    session = object_session(row)
    locks = throttle.locks(session, throttle.ACCOUNT_SCOPE, [row.email]) if session else {}
    until = locks.get(row.email)
    body["locked_until"] = until.isoformat() if until else None
    return body


ACCOUNT = RecordKind(
    name=auth.ACCOUNT,
    plural="accounts",
    label="account",
    model=Account,
    schema=AccountIn,
    fields=(
        FormField("email", "Email address"),
        FormField("display_name", "Name"),
        FormField("role", "Role", kind="select", options=tuple((r, r) for r in ROLES)),
        FormField(
            "password", "New password", kind="password", hint="Leave blank to keep the current one"
        ),
        FormField("programmes", "Programmes led", kind="lines"),
    ),
    parse_key=int,
    key_of=lambda row: str(row.id),
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=_current,
    create=_create,
    update=_update,
    listing=lambda session: list(session.scalars(select(Account).order_by(Account.email))),
    return_url=lambda _row: "/workspace/accounts",
    title_of=lambda row: row.email,
    to_json=_json,
    immutable=("email",),
    delete=_delete,
)
