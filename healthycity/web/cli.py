"""Commands for the public site: ``site build OUTDIR`` and ``load boundaries FILE``.

Only Typer is imported at module level so ``healthycity --help`` stays fast; the app,
SQLAlchemy and the chart renderer load inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from healthycity.core.cli_context import context, fail

site_app = typer.Typer(help="The public site as static files.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``site build`` and ``load boundaries`` (joining the ``load`` group if the
    outcomes commands created it, so this module is listed after them)."""
    app.add_typer(site_app, name="site")
    load = next(
        (g.typer_instance for g in app.registered_groups if g.name == "load"),
        None,
    )
    if load is None:
        load = typer.Typer(help="Load data into the database.", no_args_is_help=True)
        app.add_typer(load, name="load")
    load.command("boundaries")(load_boundaries)


@site_app.command("build")
def build(
    ctx: typer.Context,
    outdir: Path = typer.Argument(..., help="Folder to write the site into (created)."),
    base_path: str = typer.Option(
        "",
        "--base-path",
        help="URL path the site will be served under, e.g. /health (default: the root).",
        metavar="PATH",
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", min=1, max=16, help="Worker processes (default: one per CPU)."
    ),
) -> None:
    """Write every public page, its .json and .csv twins, each chart's data and the
    static assets as files any web server or CDN can host (the same HTML as `serve`)."""
    from healthycity.web.site_build import SiteBuildError, build_site

    cli = context(ctx)
    cli.engine()
    if base_path and (not base_path.startswith("/") or base_path.endswith("/")):
        fail("--base-path must start with / and not end with one, e.g. /health")
    try:
        result = build_site(cli.settings, outdir, base_path=base_path, jobs=jobs)
    except SiteBuildError as exc:
        fail(str(exc))
    typer.echo(
        f"wrote {result.pages} pages and {result.files} files to {outdir} in {result.seconds:.1f} s"
    )
    if result.live_only:
        typer.echo(
            "links that need a running server (not exported): " + ", ".join(result.live_only)
        )


def load_boundaries(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="GeoJSON FeatureCollection (or TopoJSON), WGS84."),
    key: str | None = typer.Option(
        None,
        "--key",
        help="Property holding the area code (default: found from the codes it holds).",
        metavar="NAME",
    ),
) -> None:
    """Load area boundaries for the indicator maps, keyed by area code.

    Features for areas the database does not know are skipped and counted; loading
    the same file again changes nothing.
    """
    from healthycity.outcomes.boundaries import BoundaryError, load_boundaries

    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        result = load_boundaries(context(ctx).engine(), file, key=key)
    except BoundaryError as exc:
        fail(str(exc))
    typer.echo(
        f"boundaries from {file.name} (codes in {result.key!r}): {result.stored} stored, "
        f"{result.unchanged} unchanged, {result.skipped} skipped of {result.features} features"
    )
    if result.skipped_codes:
        typer.echo("skipped (not in the database): " + ", ".join(result.skipped_codes), err=True)
