"""The assembled public site's command: ``site build OUTDIR``.

Only Typer is imported at module level so ``healthycity --help`` stays fast; the app,
SQLAlchemy and the chart renderer load inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from healthycity.core.cli_context import context, fail

site_app = typer.Typer(help="The public site as static files.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add ``site build``: the assembled public site written out as files."""
    app.add_typer(site_app, name="site")


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
    documents: bool = typer.Option(
        True,
        "--documents/--no-documents",
        help="Also typeset the PDFs the pages link to (the annual reviews; seconds each).",
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
        result = build_site(
            cli.settings, outdir, base_path=base_path, jobs=jobs, documents=documents
        )
    except SiteBuildError as exc:
        fail(str(exc))
    typer.echo(
        f"wrote {result.pages} pages and {result.files} files to {outdir} in {result.seconds:.1f} s"
        f" ({result.cached} from the response cache, {result.workers} rendering processes)"
    )
    if result.live_only:
        typer.echo(
            "links that need a running server (not exported): " + ", ".join(result.live_only)
        )
