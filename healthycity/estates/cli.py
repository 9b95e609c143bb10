"""``healthycity estates``: load ERIC returns and their reference files, print London's figures."""

from __future__ import annotations

from pathlib import Path

import typer

from healthycity.core.cli_context import context, fail

app = typer.Typer(help="The NHS estate: ERIC returns, sites and measures.", no_args_is_help=True)


@app.command("load")
def load(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(
        ...,
        help="ERIC trust, site or PFI CSVs; the NHS Choices sites extract; the "
        "organisation-to-sub-region lookup. Each is recognised by its header.",
    ),
    year: str | None = typer.Option(
        None, "--year", help="Financial year, like 2016-17, when file names do not say."
    ),
) -> None:
    """Load files all or nothing: any problem is listed with file, row and column, and
    nothing is written. Loading the same files again changes nothing."""
    from rich.progress import Progress

    from healthycity.core.db import transaction
    from healthycity.estates.columns import normalise_year
    from healthycity.estates.loading import LoadRefused
    from healthycity.estates.loading import load as load_files

    chosen = None
    if year is not None:
        chosen = normalise_year(year)
        if chosen is None:
            fail(f"--year {year!r} is not a financial year like 2016-17", code=2)
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        fail(f"no such file: {', '.join(missing)}", code=2)
    engine = context(ctx).engine()
    try:
        with Progress(transient=True) as bar, transaction(engine) as session:

            def progress(total: int) -> object:
                task = bar.add_task("Loading returns", total=total)
                return lambda: bar.advance(task)

            result = load_files(
                session,
                [(p.name, p.read_bytes()) for p in files],
                year=chosen,
                progress=progress,  # type: ignore[arg-type]
            )
    except LoadRefused as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        fail(f"{len(exc.problems)} problem(s); nothing was loaded")
    typer.echo(
        f"loaded {len(result.files)} file(s): {result.added} added, {result.updated} updated, "
        f"{result.unchanged} unchanged"
    )


@app.command("summary")
def summary(
    ctx: typer.Context,
    year: str = typer.Option(..., "--year", help="Financial year, like 2016-17."),
    fmt: str = typer.Option("json", "--format", help="json or csv."),
) -> None:
    """London's, each sub-region's and each organisation's figures for one year."""
    from healthycity.core.db import read_transaction
    from healthycity.core.errors import NotFound
    from healthycity.core.web.twins import json_response
    from healthycity.estates.columns import normalise_year
    from healthycity.estates.service import summary as summarise
    from healthycity.estates.tables import summary_table

    chosen = normalise_year(year)
    if chosen is None:
        fail(f"--year {year!r} is not a financial year like 2016-17", code=2)
    if fmt not in ("json", "csv"):
        fail("--format is json or csv", code=2)
    with read_transaction(context(ctx).engine()) as session:
        try:
            data = summarise(session, chosen)
        except NotFound as exc:
            fail(str(exc))
    if fmt == "json":
        typer.echo(bytes(json_response(data).body).decode())
    else:
        typer.echo(summary_table(data).to_csv(), nl=False)


@app.command("allocate")
def allocate(
    ctx: typer.Context,
    org: str = typer.Argument(..., help="ODS code of the organisation, like RPY."),
    site: str = typer.Argument(..., help="ODS site code, like RPY01."),
    subregion: str = typer.Argument(..., help="NWL, NCL, NEL, SEL or SWL."),
) -> None:
    """Allocate a site of a trust that spans sub-regions to one sub-region's board."""
    from healthycity.core.db import transaction
    from healthycity.core.errors import Invalid, NotFound
    from healthycity.estates.register import allocate as allocate_site

    try:
        with transaction(context(ctx).engine()) as session:
            allocate_site(session, org, site, subregion)
    except (Invalid, NotFound) as exc:
        fail(str(exc))
    typer.echo(f"{org} {site} allocated to {subregion}")


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="estates")
