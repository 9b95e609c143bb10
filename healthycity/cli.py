"""The one command line: ``healthycity [--database URL] COMMAND``.

Each domain module contributes a Typer sub-app from its own ``cli.py``; this file only
wires them together (see docs/cli.md, generated from this app).
"""

from __future__ import annotations

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
    workers: int = typer.Option(
        1,
        min=1,
        max=64,
        help="Worker processes (one per core; sessions and data live in the database, so "
        "any worker can answer any request).",
    ),
) -> None:
    """Serve the public site and the workspace."""
    import os

    import uvicorn

    from healthycity.web.app import create_app

    cli = context(ctx)
    settings = cli.settings
    cli.engine()
    host = host or settings.host
    port = port or settings.port
    plural = "es" if workers > 1 else ""
    typer.echo(
        f"healthycity is serving on http://{host}:{port} with {workers} process{plural} "
        "(Ctrl+C to stop)"
    )
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
        return
    # Each worker builds its app from the environment: hand the chosen database on.
    os.environ["HEALTHYCITY_DATABASE_URL"] = settings.database_url
    uvicorn.run(
        "healthycity.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


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


# Modules that add commands: each exposes `register(app: typer.Typer) -> None` and keeps
# its heavy imports inside command functions. Add a line here to mount a module.
CLI_MODULES: tuple[str, ...] = (
    "healthycity.packs.cli",
    "healthycity.outcomes.cli",
    "healthycity.web.cli",
    "healthycity.workspace.cli",
    "healthycity.portfolio.cli",
    "healthycity.assurance.cli",
    "healthycity.reports.cli",
    "healthycity.exchange.cli",
)


def _register() -> None:
    import importlib

    for name in CLI_MODULES:
        importlib.import_module(name).register(app)


_register()


def main() -> None:
    app()
