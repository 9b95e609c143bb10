"""``healthycity pack``: validate, load and show a city pack."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from healthycity.core.cli_context import context, fail

app = typer.Typer(
    help="City packs: the partnership's facts as validated data files.", no_args_is_help=True
)


@app.command("validate")
def validate(path: Path = typer.Argument(..., help="A pack folder (or 'london').")) -> None:
    """Check a pack without touching the database; one line per problem."""
    from healthycity.packs.reader import PackInvalid, read_pack, resolve_pack

    try:
        pack = read_pack(resolve_pack(str(path)))
    except PackInvalid as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        fail(f"the pack has {len(exc.problems)} problem(s); nothing was loaded")
    typer.echo(f"pack {pack.pack.id} is valid")


@app.command("load")
def load(
    ctx: typer.Context,
    pack: str = typer.Argument("london", help="'london' (built in) or a pack folder."),
) -> None:
    """Load a pack into the database in one transaction; loading twice changes nothing."""
    from healthycity.packs.loader import load_pack
    from healthycity.packs.reader import PackInvalid, read_pack, resolve_pack

    try:
        data = read_pack(resolve_pack(pack))
    except PackInvalid as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        fail(f"the pack has {len(exc.problems)} problem(s); nothing was written")
    result = load_pack(context(ctx).engine(), data)
    typer.echo(
        f"pack {data.pack.id} loaded: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged"
    )


@app.command("show")
def show(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Show what the database holds of the loaded pack: counts and the budget total."""
    from healthycity.packs.loader import pack_summary

    summary = pack_summary(context(ctx).engine())
    if summary is None:
        fail("no pack is loaded; run `healthycity pack load london`")
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    typer.echo(f"pack: {summary['pack']}")
    for key, value in summary["counts"].items():
        typer.echo(f"  {key.replace('_', ' ')}: {value}")
    typer.echo(f"  programme budget total: £{summary['programme_budget_total']}")


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="pack")
