"""The one command line: ``healthycity [--database URL] COMMAND``.

Each domain module contributes a Typer sub-app from its own ``cli.py``; this file only
wires them together (see docs/cli.md, generated from this app).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from healthycity import __version__
from healthycity.core.cli_context import CliContext, context, fail

app = typer.Typer(
    name="healthycity",
    help="healthycity: outcomes, portfolio, assurance and exchange for a city's health "
    "and care partnership.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"healthycity {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    database: str | None = typer.Option(
        None,
        "--database",
        help="SQLAlchemy database URL (default: HEALTHYCITY_DATABASE_URL, else "
        "sqlite:///./var/healthycity.db).",
        metavar="URL",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    ctx.obj = CliContext(database=database)


@app.command()
def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Address to listen on (default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port to listen on (default 8000)."),
    workers: int | None = typer.Option(
        None,
        min=1,
        max=64,
        help="Worker processes (default: HEALTHYCITY_WORKERS, else one per CPU core). "
        "Sessions and data live in the database and finished pages in a cache shared on "
        "disk, so any worker can answer any request.",
    ),
) -> None:
    """Serve the public site and the workspace.

    The port opens at once; the pages people open first are rendered into the shared
    cache in the background (docs/deployment.md)."""
    import os

    import uvicorn

    from healthycity.web.app import create_app

    cli = context(ctx)
    settings = cli.settings
    cli.engine()
    from healthycity.core import audit, tamper

    # A missing or weak audit key outside development stops the server here, not at the
    # first audited change.
    try:
        audit.configure(audit.log_for(settings))
    except tamper.AuditKeyError as exc:
        fail(str(exc))
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers or os.cpu_count() or 1
    plural = "es" if workers > 1 else ""
    typer.echo(
        f"healthycity is serving on http://{host}:{port} with {workers} process{plural} "
        "(Ctrl+C to stop)"
    )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Each worker builds its app from the environment: hand the chosen database on.
    os.environ["HEALTHYCITY_DATABASE_URL"] = settings.database_url
    uvicorn.run("healthycity.web.app:create_app", factory=True, workers=workers, **options)


db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Migrate the database to the latest schema (SQLite or PostgreSQL)."""
    from healthycity.core.migrate import head_revision, upgrade

    engine = context(ctx).engine(migrate=False)
    try:
        upgrade(engine)
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        fail(f"migration failed: {exc}")
    typer.echo(f"database at migration {head_revision()}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the database's migration and the code's head."""
    from healthycity.core.migrate import current_revision, head_revision

    engine = context(ctx).engine(migrate=False)
    typer.echo(f"database: {current_revision(engine) or 'empty'}; code: {head_revision()}")


app.add_typer(db_app, name="db")


pack_app = typer.Typer(
    help="City packs: the partnership's facts as validated data files.", no_args_is_help=True
)


@pack_app.command("validate")
def pack_validate(path: Path = typer.Argument(..., help="A pack folder (or 'london').")) -> None:
    """Check a pack without touching the database; one line per problem."""
    pack = _read_pack(str(path), "nothing was loaded")
    typer.echo(f"pack {pack.pack.id} is valid")


@pack_app.command("load")
def pack_load(
    ctx: typer.Context,
    pack: str = typer.Argument("london", help="'london' (built in) or a pack folder."),
) -> None:
    """Load a pack into the database in one transaction; loading twice changes nothing.

    Each installed module loads its own part (the module registry's pack loaders)."""
    from healthycity.core.pack_loading import load_pack

    data = _read_pack(pack, "nothing was written")
    result = load_pack(context(ctx).engine(), data)
    typer.echo(
        f"pack {data.pack.id} loaded: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged"
    )


@pack_app.command("show")
def pack_show(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Show what the database holds of the loaded pack: counts and the budget total."""
    import json

    from healthycity.core.pack_loading import pack_summary

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


def _read_pack(name: str, consequence: str) -> Any:
    from healthycity.packs.reader import PackInvalid, read_pack, resolve_pack

    try:
        return read_pack(resolve_pack(name))
    except PackInvalid as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        fail(f"the pack has {len(exc.problems)} problem(s); {consequence}")


app.add_typer(pack_app, name="pack")

demo_app = typer.Typer(
    help="Illustrative demonstration data (clearly marked), for a site with no real data.",
    no_args_is_help=True,
)


@demo_app.command("load")
def demo_load(
    ctx: typer.Context,
    seed: int = typer.Option(2019, "--seed", help="Random seed: the same seed, the same data."),
    force: bool = typer.Option(
        False, "--force", help="Replace earlier demo data even if it is present."
    ),
) -> None:
    """Load illustrative data for every catalogue indicator, if no real data exist.

    Skipped when HEALTHYCITY_DEMO_DATA is false (unless --force). `make run` calls this
    after `pack load`; it changes nothing when the demo data are already there.
    """
    from healthycity.core.registry import demo_modules

    cli = context(ctx)
    if not cli.settings.demo_data and not force:
        typer.echo("demo data are switched off (HEALTHYCITY_DEMO_DATA=false); nothing loaded")
        return
    for demo in demo_modules():
        typer.echo(demo.load_demo(cli.engine(), seed=seed, force=force).message)


@demo_app.command("clear")
def demo_clear(ctx: typer.Context) -> None:
    """Remove every illustrative observation (real data are untouched)."""
    from healthycity.core.registry import demo_modules

    removed = sum(demo.clear_demo(context(ctx).engine()) for demo in demo_modules())
    typer.echo(f"removed {removed} illustrative observation(s)")


app.add_typer(demo_app, name="demo")


def _register() -> None:
    """Each installed module's commands (the registry), then the assembled site's."""
    from healthycity.core import audit_cli
    from healthycity.core.registry import modules, resolve
    from healthycity.web.cli import register as register_site

    for module in modules():
        if module.cli:
            resolve(f"{module.cli}:register")(app)
    audit_cli.register(app)
    register_site(app)


_register()


def main() -> None:
    app()
