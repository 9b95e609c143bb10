"""Operator actions on accounts, beside the ones sign-in needs: an account's API tokens
listed and revoked (each revocation audited, so a leaked token can be withdrawn at once
and the withdrawal is on record), and the rule that the workspace always keeps an
active administrator (without one, nobody could manage its accounts again).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.auth import ACCOUNT, ADMIN, AccountError, token_label
from healthycity.core.auth_models import Account, ApiToken


def tokens_of(session: Session, account: Account) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.account_id == account.id)
            .order_by(ApiToken.created_at, ApiToken.id)
        )
    )


def revoke_tokens(
    session: Session,
    account: Account,
    *,
    name: str | None = None,
    label: str | None = None,
    every: bool = False,
) -> list[str]:
    """Delete the account's tokens named ``name``, or with short id ``label``, or all of
    them (``every``); each one is audited as "token revoked". Returns their short ids."""
    from healthycity.core.audit import TOKEN_REVOKED, record_event

    if not (every or name or label):
        raise AccountError("say which token: its name, its id, or all of them")
    chosen = [
        row
        for row in tokens_of(session, account)
        if every
        or (name is not None and row.name == name)
        or (label is not None and len(label) >= 6 and row.id.startswith(label.lower()))
    ]
    for row in chosen:
        record_event(
            session,
            ACCOUNT,
            str(account.id),
            TOKEN_REVOKED,
            {"name": row.name, "token": token_label(row)},
        )
        session.delete(row)
    session.flush()
    return [token_label(row) for row in chosen]


def refuse_losing_last_admin(
    session: Session, account: Account, *, role: str | None = None, active: bool = True
) -> None:
    """Raise `AccountError` if changing ``account`` to ``role``/``active`` (or deleting
    it: pass ``active=False``) would leave no active administrator, so nobody could
    manage accounts from the workspace again. The other administrators' rows are
    locked while counting, so two administrators demoting each other at once cannot
    both succeed."""
    if account.role != ADMIN or not account.active:
        return
    if (role or account.role) == ADMIN and active:
        return
    others = session.scalars(
        select(Account.id)
        .where(Account.role == ADMIN, Account.active.is_(True), Account.id != account.id)
        .with_for_update()
    ).all()
    if not others:
        raise AccountError(
            f"{account.email} is the last active administrator: make another account an "
            "administrator first",
            "role",
        )
