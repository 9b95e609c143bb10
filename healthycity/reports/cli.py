"""``healthycity report``: the progress report as HTML or PDF.

Other reports (the annual strategic review) join this group by adding commands to
``app``; the group is registered once, here.
"""

from __future__ import annotations

from pathlib import Path

import typer

from healthycity.core.cli_context import context, fail

app = typer.Typer(help="Reports made from the partnership's data.", no_args_is_help=True)


@app.command("progress")
def progress_report(
    ctx: typer.Context,
    period: str = typer.Option(..., "--period", help="A month (2015-07) or quarter (2015-Q3)."),
    fmt: str = typer.Option("html", "--format", help="html or pdf."),
    output: Path = typer.Option(..., "--output", "-o", help="File to write."),
) -> None:
    """The progress report for a month or quarter: highlights, programme progress,
    events, budgets with spend to date, and leads."""
    from healthycity.core.db import transaction
    from healthycity.reports import progress

    if fmt not in ("html", "pdf"):
        fail("--format is html or pdf")
    try:
        chosen = progress.parse_period(period)
    except progress.PeriodError as exc:
        fail(str(exc))
    with transaction(context(ctx).engine()) as session:
        report = progress.build(session, chosen)
    html = progress.render_html(report)
    if fmt == "pdf":
        output.write_bytes(progress.render_pdf(html))
    else:
        output.write_text(html, encoding="utf-8")
    typer.echo(f"wrote the {chosen.label} progress report to {output}")


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="report")
