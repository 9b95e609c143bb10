"""``healthycity users``: add people, list them, issue API tokens, switch accounts off.

The command line is the operator's: it needs no sign-in, and its changes are recorded
in the audit trail as made from the command line by the operating-system user.
"""

from __future__ import annotations

import sys

import typer

from healthycity.core.cli_context import context, fail

app = typer.Typer(help="Workspace accounts: add, list, tokens.", no_args_is_help=True)


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


@app.command("list")
def list_accounts(ctx: typer.Context) -> None:
    """List the accounts with their roles and the programmes they lead."""
    from sqlalchemy import select

    from healthycity.core.auth import PROGRAMME
    from healthycity.core.auth_models import Account
    from healthycity.core.db import transaction

    with transaction(context(ctx).engine()) as session:
        for account in session.scalars(select(Account).order_by(Account.email)):
            led = ", ".join(sorted(account.owned(PROGRAMME)))
            state = "" if account.active else " [switched off]"
            typer.echo(f"{account.email}\t{account.role}\t{led}{state}")


@app.command("token")
def token(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="Whose token."),
    name: str = typer.Option("api", "--name", help="What the token is for."),
    days: int = typer.Option(90, "--days", min=1, max=3650, help="Days until it expires."),
) -> None:
    """Issue an API bearer token; it is shown once and only its digest is kept."""
    from healthycity.core.auth import find_account, issue_token
    from healthycity.core.db import transaction

    with transaction(context(ctx).engine()) as session:
        account = find_account(session, email)
        if account is None:
            fail(f"no account for {email}")
        secret = issue_token(session, account, name, days)
    typer.echo(secret)


@app.command("disable")
def disable(ctx: typer.Context, email: str = typer.Argument(...)) -> None:
    """Switch an account off: it can no longer sign in or use its tokens."""
    from healthycity.core.audit import acting_as
    from healthycity.core.auth import find_account
    from healthycity.core.db import transaction

    with transaction(context(ctx).engine()) as session, acting_as(session, _actor()):  # type: ignore[arg-type]
        account = find_account(session, email)
        if account is None:
            fail(f"no account for {email}")
        account.active = False
    typer.echo(f"switched off {email}")


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="users")
