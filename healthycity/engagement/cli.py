"""``healthycity engagement``: retention, erasure on request, and loading polls."""

from __future__ import annotations

from pathlib import Path

import typer

from healthycity.core.cli_context import context

app = typer.Typer(help="Consultations and polls.", no_args_is_help=True)


@app.command("purge")
def purge(ctx: typer.Context) -> None:
    """Erase the answers of consultations whose retention period has ended (run daily)."""
    from healthycity.core.db import transaction
    from healthycity.engagement import service

    with transaction(context(ctx).engine()) as session:
        erased = service.purge(session)
    for slug, count in erased.items():
        typer.echo(f"{slug}: erased {count} answers")
    typer.echo(f"{sum(erased.values())} answers erased")


@app.command("erase")
def erase(ctx: typer.Context, email: str = typer.Option(..., help="the requester's email")) -> None:
    """Erase every answer confirmed with this email address, and the address wherever it
    waits to be told "you said, we did" (a verified erasure request)."""
    from healthycity.core.db import transaction
    from healthycity.engagement import guard, service

    settings = context(ctx).settings
    key = guard.keyed_hash(settings.secret_key, "email", email.strip().lower())
    with transaction(context(ctx).engine()) as session:
        answers, addresses = service.erase_email(session, key)
    typer.echo(f"{answers} answers erased, {addresses} addresses erased")


@app.command("notify")
def notify_command(
    ctx: typer.Context,
    base_url: str = typer.Option(
        ..., help="the public site's address, for the link in the email (https://…)"
    ),
) -> None:
    """Email "you said, we did" to respondents still waiting to be told (a retry after a
    mail server failure); uses the HEALTHYCITY_MAIL_* settings."""
    from healthycity.core.db import transaction
    from healthycity.engagement import mail, notify, service

    mailer = mail.make_mailer(mail.MailSettings())
    if mailer is None:
        typer.echo("no mail backend is set (HEALTHYCITY_MAIL_BACKEND is none)", err=True)
        raise typer.Exit(1)
    key = context(ctx).settings.secret_key
    sent = failed = unreadable = 0
    with transaction(context(ctx).engine()) as session:
        for row in service.public(session):
            done = notify.tell(session, row, mailer, key, base_url)
            sent, failed = sent + done.sent, failed + done.failed
            unreadable += done.unreadable
    typer.echo(f"{sent} emails sent, {failed} failed")
    if unreadable:
        typer.echo(
            f"{unreadable} addresses were sealed under an earlier secret key and were deleted"
        )
    if failed:
        raise typer.Exit(1)


@app.command("load-poll")
def load_poll(ctx: typer.Context, path: Path) -> None:
    """Load a poll series and its waves from a JSON or YAML file, with its disclosure."""
    import yaml

    from healthycity.core.audit import SYSTEM_CLI, acting_as
    from healthycity.core.db import transaction
    from healthycity.core.errors import Invalid
    from healthycity.engagement import polls

    body = yaml.safe_load(path.read_text())
    try:
        with transaction(context(ctx).engine()) as session, acting_as(session, SYSTEM_CLI):
            series = polls.load_series(session, body if isinstance(body, dict) else {})
            typer.echo(f"loaded {series.slug}")
    except Invalid as exc:
        for message in exc.errors.values():
            typer.echo(f"refused: {message}", err=True)
        raise typer.Exit(1) from None


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="engagement")
