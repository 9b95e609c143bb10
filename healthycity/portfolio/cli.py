"""``healthycity portfolio``: import from CSV/XLSX, export GMPP-style, show the budgets."""

from __future__ import annotations

from pathlib import Path

import typer

from healthycity.core.cli_context import context, fail

app = typer.Typer(
    help="The transformation portfolio and devolution register.", no_args_is_help=True
)


@app.command("import")
def import_(
    ctx: typer.Context,
    kind: str = typer.Argument(..., help="programmes, spend, pledges or progress."),
    files: list[Path] = typer.Argument(..., help="CSV or XLSX files (first row: column names)."),
) -> None:
    """Import rows from files, all or nothing: any problem is listed and nothing is written."""
    import getpass

    from healthycity.core.audit import Actor, acting_as
    from healthycity.core.db import transaction
    from healthycity.portfolio.importing import ImportRefused, import_file

    engine = context(ctx).engine()
    problems: list[str] = []
    totals = [0, 0]
    try:
        with (
            transaction(engine) as session,
            acting_as(session, Actor(f"command line ({getpass.getuser()})")),
        ):
            for path in files:
                if not path.is_file():
                    problems.append(f"{path}: no such file")
                    continue
                try:
                    result = import_file(session, kind, path.name, path.read_bytes())
                except ImportRefused as exc:
                    problems += [str(e) for e in exc.errors]
                    continue
                totals[0] += result.created
                totals[1] += result.updated
            if problems:
                raise ImportRefused([])
    except ImportRefused:
        for line in problems:
            typer.echo(line, err=True)
        fail(f"{len(problems)} problem(s); nothing was imported")
    typer.echo(f"imported {kind}: {totals[0]} added, {totals[1]} updated")


@app.command("export")
def export(
    ctx: typer.Context,
    what: str = typer.Argument("gmpp", help="gmpp, spend or pledges."),
    year: str | None = typer.Option(None, "--year", help="Financial year for gmpp, like 2015/16."),
    fmt: str = typer.Option("csv", "--format", help="csv or xlsx (xlsx for gmpp only)."),
    output: Path = typer.Option(..., "--output", "-o", help="File to write."),
) -> None:
    """Export the portfolio as a GMPP-style return, or spend or pledges as CSV."""
    from sqlalchemy import select

    from healthycity.core.db import transaction
    from healthycity.core.models import LoadedPack
    from healthycity.portfolio import exporting
    from healthycity.portfolio.service import default_year, is_financial_year

    if fmt not in ("csv", "xlsx") or (fmt == "xlsx" and what != "gmpp"):
        fail("--format is csv, or xlsx for the gmpp export")
    with transaction(context(ctx).engine()) as session:
        if what == "gmpp":
            chosen = year or default_year(session)
            if not is_financial_year(chosen):
                fail(f"{chosen!r} is not a financial year like 2015/16")
            pack = session.scalars(select(LoadedPack)).first()
            rows = exporting.gmpp_rows(session, chosen, pack.name if pack else "")
            body = (
                exporting.to_xlsx(f"GMPP {chosen.replace('/', '-')}", exporting.GMPP_COLUMNS, rows)
                if fmt == "xlsx"
                else exporting.to_csv(exporting.GMPP_COLUMNS, rows)
            )
        elif what == "spend":
            body = exporting.to_csv(exporting.SPEND_COLUMNS, exporting.spend_rows(session))
        elif what == "pledges":
            body = exporting.to_csv(exporting.PLEDGE_COLUMNS, exporting.pledge_rows(session))
        else:
            fail(f"unknown export {what!r}; use gmpp, spend or pledges")
    output.write_bytes(body)
    typer.echo(f"wrote {output}")


@app.command("budgets")
def budgets(ctx: typer.Context) -> None:
    """Print each programme's SRO and budget, and the total."""
    from healthycity.core.db import transaction
    from healthycity.core.money import pounds
    from healthycity.portfolio import service

    with transaction(context(ctx).engine()) as session:
        rows = service.programmes(session)
        for p in rows:
            typer.echo(f"{p.name}\t{p.sro or ''}\t{pounds(p.whole_life_budget)}")
        typer.echo(f"Total\t\t{pounds(service.budget_total(session))}")


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="portfolio")
