"""``healthycity users``: add people, list them, issue, list and revoke API tokens,
switch accounts off, unlock sign-in and reset passwords.

The command line is the operator's: it needs no sign-in, and its changes are recorded
in the audit trail as made from the command line by the operating-system user.
"""

from __future__ import annotations

import sys

import typer

from healthycity.core.cli_context import context, fail

app = typer.Typer(
    help="Workspace accounts: add, list, tokens, unlock, password resets.", no_args_is_help=True
)
tokens_app = typer.Typer(
    help="API tokens: list an account's tokens, revoke them (each revocation is audited).",
    no_args_is_help=True,
)
app.add_typer(tokens_app, name="tokens")


def _actor() -> object:
    import getpass

    from healthycity.core.audit import Actor

    return Actor(f"command line ({getpass.getuser()})")


def _password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail("no password on standard input")
        return line
    first = typer.prompt("Password", hide_input=True)
    again = typer.prompt("Repeat the password", hide_input=True)
    if first != again:
        fail("the passwords did not match")
    return str(first)


@app.command("add")
def add(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The person's email address (their sign-in name)."),
    role: str = typer.Option(
        ..., "--role", help="viewer, programme_lead, portfolio_office, assessor or admin."
    ),
    name: str | None = typer.Option(None, "--name", help="Name shown in the workspace."),
    programme: list[str] = typer.Option(
        [], "--programme", help="A programme this person leads (repeat for more)."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    no_password: bool = typer.Option(
        False, "--no-password", help="No local password: the person signs in with OIDC."
    ),
) -> None:
    """Add an account; the password is prompted for (or read from standard input)."""
    from healthycity.core.audit import acting_as
    from healthycity.core.auth import AccountError, create_account
    from healthycity.core.db import transaction

    _check_lead(role, programme)
    password = None if no_password else _password(password_stdin)
    engine = context(ctx).engine()
    try:
        with transaction(engine) as session, acting_as(session, _actor()):  # type: ignore[arg-type]
            account = create_account(
                session,
                email,
                role,
                display_name=name,
                password=password,
                programmes=tuple(programme),
            )
            label = f"{account.email} ({account.role})"
    except AccountError as exc:
        fail(str(exc))
    typer.echo(f"added {label}")


def _check_lead(role: str, programmes: list[str]) -> None:
    """A programme lead with no programme could change nothing: refuse it up front."""
    if role == "programme_lead" and not programmes:
        fail(
            "a programme lead needs at least one programme: add --programme SLUG for each "
            "programme they lead (for example --programme cancer)"
        )


@app.command("edit")
def edit(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The account's email address."),
    role: str | None = typer.Option(
        None,
        "--role",
        help="A new role: viewer, programme_lead, portfolio_office, assessor or admin.",
    ),
    programme: list[str] = typer.Option(
        [], "--programme", help="The programmes this person leads, replacing the current ones."
    ),
    name: str | None = typer.Option(None, "--name", help="A new name shown in the workspace."),
) -> None:
    """Change an account's role, the programmes it leads, or its name (audited)."""
    from healthycity.core.account_admin import refuse_losing_last_admin
    from healthycity.core.audit import acting_as
    from healthycity.core.auth import (
        PROGRAMME,
        ROLES,
        AccountError,
        find_account,
        set_programmes,
    )
    from healthycity.core.db import transaction
    from healthycity.portfolio.models import Programme

    engine = context(ctx).engine()
    with transaction(engine) as session, acting_as(session, _actor()):  # type: ignore[arg-type]
        account = find_account(session, email)
        if account is None:
            fail(f"there is no account for {email}")
        if role is not None and role not in ROLES:
            fail(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        new_role = role or account.role
        programmes = list(programme) or (
            sorted(account.owned(PROGRAMME)) if new_role == "programme_lead" else []
        )
        _check_lead(new_role, programmes)
        unknown = [slug for slug in programmes if session.get(Programme, slug) is None]
        if unknown:
            fail(f"there is no programme {', '.join(unknown)}")
        try:
            refuse_losing_last_admin(session, account, role=new_role)
        except AccountError as exc:
            fail(str(exc))
        account.role = new_role
        if name:
            account.display_name = name.strip()[:200]
        set_programmes(session, account, tuple(programmes) if new_role == "programme_lead" else ())
        led = ", ".join(sorted(account.owned(PROGRAMME))) or "none"
        label = f"{account.email} ({account.role}; programmes: {led})"
    typer.echo(f"changed {label}")


@app.command("list")
def list_accounts(ctx: typer.Context) -> None:
    """List the accounts with their roles and the programmes they lead."""
    from sqlalchemy import select

    from healthycity.core import throttle
    from healthycity.core.auth import PROGRAMME
    from healthycity.core.auth_models import Account
    from healthycity.core.db import transaction

    with transaction(context(ctx).engine()) as session:
        accounts = list(session.scalars(select(Account).order_by(Account.email)))
        locks = throttle.locks(session, throttle.ACCOUNT_SCOPE, [a.email for a in accounts])
        for account in accounts:
            led = ", ".join(sorted(account.owned(PROGRAMME)))
            state = "" if account.active else " [switched off]"
            if account.email in locks:
                state += f" [locked until {locks[account.email]:%Y-%m-%d %H:%M} UTC]"
            typer.echo(f"{account.email}\t{account.role}\t{led}{state}")
        # Locked client addresses go to standard error: standard output stays one
        # account per line for scripts.
        for address, moment in sorted(throttle.locks(session, throttle.ADDRESS_SCOPE).items()):
            typer.echo(f"address {address} locked until {moment:%Y-%m-%d %H:%M} UTC", err=True)


@app.command("token")
def token(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="Whose token."),
    name: str = typer.Option("api", "--name", help="What the token is for."),
    days: int = typer.Option(90, "--days", min=1, max=3650, help="Days until it expires."),
) -> None:
    """Issue an API bearer token; it is shown once and only its digest is kept (audited)."""
    from healthycity.core.audit import acting_as
    from healthycity.core.auth import find_account, issue_token
    from healthycity.core.db import transaction

    with transaction(context(ctx).engine()) as session, acting_as(session, _actor()):  # type: ignore[arg-type]
        account = find_account(session, email)
        if account is None:
            fail(f"no account for {email}")
        if not account.active:
            fail(f"{account.email} is switched off; switch it on first")
        secret = issue_token(session, account, name, days)
    typer.echo(secret)


@tokens_app.command("list")
def tokens_list(ctx: typer.Context, email: str = typer.Argument(..., help="Whose tokens.")) -> None:
    """List an account's API tokens: id, name, issued, expires (never the token itself)."""
    from healthycity.core.account_admin import tokens_of
    from healthycity.core.auth import find_account, token_label
    from healthycity.core.db import transaction

    with transaction(context(ctx).engine()) as session:
        account = find_account(session, email)
        if account is None:
            fail(f"no account for {email}")
        for row in tokens_of(session, account):
            expires = f"{row.expires_at:%Y-%m-%d %H:%M}" if row.expires_at else "never"
            typer.echo(f"{token_label(row)}\t{row.name}\t{row.created_at:%Y-%m-%d}\t{expires}")


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="Whose token."),
    token_id: str | None = typer.Option(
        None, "--id", help="The token's id as `users tokens list` shows it (6+ characters)."
    ),
    name: str | None = typer.Option(None, "--name", help="Revoke the tokens with this name."),
    every: bool = typer.Option(False, "--all", help="Revoke every token of the account."),
) -> None:
    """Revoke API tokens at once: they stop working on the next request (audited)."""
    from healthycity.core.account_admin import revoke_tokens
    from healthycity.core.audit import acting_as
    from healthycity.core.auth import AccountError, find_account
    from healthycity.core.db import transaction

    if sum((token_id is not None, name is not None, every)) != 1:
        fail("say which tokens to revoke: exactly one of --id, --name or --all")
    try:
        with transaction(context(ctx).engine()) as session, acting_as(session, _actor()):  # type: ignore[arg-type]
            account = find_account(session, email)
            if account is None:
                fail(f"no account for {email}")
            revoked = revoke_tokens(session, account, name=name, label=token_id, every=every)
    except AccountError as exc:
        fail(str(exc))
    if not revoked:
        fail(f"no such token for {email}; `healthycity users tokens list {email}` lists them")
    typer.echo(f"revoked {len(revoked)} token(s): {', '.join(revoked)}")


@app.command("disable")
def disable(ctx: typer.Context, email: str = typer.Argument(...)) -> None:
    """Switch an account off: it can no longer sign in or use its tokens.

    The last active administrator cannot be switched off (nobody could manage accounts).
    """
    from healthycity.core.account_admin import refuse_losing_last_admin
    from healthycity.core.audit import acting_as
    from healthycity.core.auth import AccountError, find_account
    from healthycity.core.db import transaction

    with transaction(context(ctx).engine()) as session, acting_as(session, _actor()):  # type: ignore[arg-type]
        account = find_account(session, email)
        if account is None:
            fail(f"no account for {email}")
        try:
            refuse_losing_last_admin(session, account, active=False)
        except AccountError as exc:
            fail(str(exc))
        account.active = False
    typer.echo(f"switched off {email}")


@app.command("unlock")
def unlock(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="An email address, or with --address a client address."),
    address: bool = typer.Option(
        False, "--address", help="TARGET is a client address (as `users list` shows it)."
    ),
) -> None:
    """Lift a sign-in lock and forget the failed attempts (an email's or an address's)."""
    from healthycity.core import throttle
    from healthycity.core.audit import acting_as
    from healthycity.core.auth import normalise_email
    from healthycity.core.db import transaction

    scope = throttle.ADDRESS_SCOPE if address else throttle.ACCOUNT_SCOPE
    key = target.strip() if address else normalise_email(target)
    with transaction(context(ctx).engine()) as session, acting_as(session, _actor()):  # type: ignore[arg-type]
        was_locked = throttle.unlock(session, scope, key)
    typer.echo(f"unlocked {key}" if was_locked else f"{key} was not locked")


@app.command("reset-password")
def reset_password(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="Whose password."),
    link: bool = typer.Option(
        False,
        "--link",
        help="Print a one-time link for the person to set their own password, "
        "instead of setting one here.",
    ),
    minutes: int | None = typer.Option(
        None,
        "--minutes",
        min=5,
        max=7 * 24 * 60,
        help="How long the link works (default HEALTHYCITY_PASSWORD_RESET_MINUTES).",
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="The site's address for the link (default: host and port)."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the new password from standard input."
    ),
) -> None:
    """Set a new password, or issue a one-time reset link; either ends every session."""
    from healthycity.core.audit import acting_as
    from healthycity.core.auth import (
        AccountError,
        AuthSettings,
        find_account,
        issue_reset_link,
        set_password,
    )
    from healthycity.core.db import transaction

    cli = context(ctx)
    password = None if link else _password(password_stdin)
    try:
        with transaction(cli.engine()) as session, acting_as(session, _actor()):  # type: ignore[arg-type]
            account = find_account(session, email)
            if account is None:
                fail(f"no account for {email}")
            if not account.active:
                fail(f"{account.email} is switched off; switch it on first")
            if password is not None:
                set_password(session, account, password, reset=True)
                typer.echo(f"password set for {account.email}; its sessions have ended")
                return
            valid = minutes or AuthSettings().password_reset_minutes
            token = issue_reset_link(session, account, minutes=valid)
            label = account.email
    except AccountError as exc:
        fail(str(exc))
    settings = cli.settings
    root = (base_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    typer.echo(f"{root}/workspace/reset-password?token={token}")
    typer.echo(
        f"Give this link to {label} only. It works once, for {valid} minutes; "
        "it is not stored and cannot be shown again.",
        err=True,
    )


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="users")
