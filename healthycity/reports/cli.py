"""``healthycity report``: the progress report and the annual strategic review, as HTML
or PDF. The group is registered once, here.
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


@app.command("annual")
def annual_review(
    ctx: typer.Context,
    year: int = typer.Option(..., "--year", help="The calendar year to review (2019)."),
    fmt: str = typer.Option("html", "--format", help="html or pdf."),
    output: Path = typer.Option(..., "--output", "-o", help="File to write."),
    site_url: str = typer.Option(
        "", "--site-url", help="The public site's address, so links to indicator pages work."
    ),
) -> None:
    """The annual strategic review of a calendar year: a two-minute summary, the ten
    aspirations and the shared commitments, variation across the city, the
    partnership's delivery and global city comparisons, generated from the data."""
    from healthycity.core.db import transaction
    from healthycity.reports import review, review_render

    if fmt not in ("html", "pdf"):
        fail("--format is html or pdf")
    with transaction(context(ctx).engine()) as session:
        try:
            built = review.build(session, year)
        except review.NoReview as exc:
            fail(str(exc))
        html = review_render.render_html(built, root=site_url.rstrip("/"))
    if fmt == "pdf":
        output.write_bytes(review_render.render_pdf(html))
    else:
        output.write_text(html, encoding="utf-8")
    typer.echo(f"wrote the {year} annual strategic review to {output}")


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="report")
