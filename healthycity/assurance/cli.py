"""``healthycity assurance``: the tests a service change must pass, and the proposals."""

from __future__ import annotations

import typer

from healthycity.core.cli_context import context

app = typer.Typer(help="Service-change assurance.", no_args_is_help=True)


@app.command("tests")
def tests(ctx: typer.Context) -> None:
    """List the Mayor's assurances, the NHS tests and the bed test's conditions."""
    from healthycity.assurance import service
    from healthycity.assurance.models import FRAMEWORK_LABELS
    from healthycity.core.db import transaction

    with transaction(context(ctx).engine()) as session:
        for test in service.tests(session):
            rule = f" [rule: {test.rule}]" if test.rule else ""
            typer.echo(f"{FRAMEWORK_LABELS[test.framework]}: {test.number}. {test.name}{rule}")
        for condition in service.conditions(session):
            typer.echo(f"Bed test condition {condition.number}: {condition.name}")


@app.command("proposals")
def proposals(ctx: typer.Context) -> None:
    """List the proposals and the stage each has reached."""
    from sqlalchemy import select

    from healthycity.assurance.models import STATUS_LABELS, Proposal
    from healthycity.core.db import transaction

    with transaction(context(ctx).engine()) as session:
        for p in session.scalars(select(Proposal).order_by(Proposal.id)):
            typer.echo(f"{p.id}\t{STATUS_LABELS[p.status]}\t{p.title}\t{p.sponsor}")


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="assurance")
