"""Outcomes commands: ``load …`` (data and boundaries), ``compute``, ``data export``.

Only Typer is imported at module level: ``healthycity --help`` and ``healthycity
compute`` must start in under half a second, so Polars, NumPy, SQLAlchemy and the
statistics load inside the commands that use them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from healthycity.core.cli_context import context, fail

if TYPE_CHECKING:
    from healthycity.outcomes.ingest.problems import ImportRefused, ImportResult

load_app = typer.Typer(
    help="Load data: Fingertips CSV files or API, counts to compute, long-format files, "
    "area boundaries.",
    no_args_is_help=True,
)
data_app = typer.Typer(help="Export the data of an indicator.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the outcomes commands to the root app (called by ``healthycity.cli``)."""
    app.add_typer(load_app, name="load")
    app.command("compute")(compute)
    app.add_typer(data_app, name="data")


def _refused(exc: ImportRefused) -> NoReturn:
    for problem in exc.problems:
        typer.echo(str(problem), err=True)
    if exc.total > len(exc.problems):
        typer.echo(f"… and {exc.total - len(exc.problems)} more problem(s)", err=True)
    fail(f"the data were refused ({exc.total} problem(s)); nothing was written")


def _report(result: ImportResult) -> None:
    typer.echo(f"loaded from {result.location}: {result.summary()}")
    for difference in result.aggregate_differences[:20]:
        typer.echo(f"check: {difference}", err=True)
    if not result.changed:
        typer.echo("nothing changed (the data were already loaded)")


def _max_cell_bytes() -> int:
    option: int = typer.Option(
        10 * 1024,
        "--max-cell-bytes",
        min=1,
        help="Refuse any cell longer than this many bytes (default 10 KB).",
    )
    return option


def _split(values: list[str] | None) -> list[str]:
    found: list[str] = []
    for value in values or []:
        found.extend(v.strip() for v in value.split(",") if v.strip())
    return found


@load_app.command("fingertips")
def load_fingertips(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(
        None, help="Fingertips CSV files (download or API all_data/csv format).", metavar="FILE…"
    ),
    indicator: list[str] = typer.Option(
        None,
        "--indicator",
        help="Fetch this Fingertips indicator id from the API (repeat, or comma-separate).",
        metavar="ID",
    ),
    area_type: int = typer.Option(
        402, "--area-type", help="Fingertips area type id (402: upper-tier local authorities)."
    ),
    parent_area_type: int = typer.Option(
        6, "--parent-area-type", help="Fingertips parent area type id (6: regions)."
    ),
    parent: str | None = typer.Option(
        None,
        "--parent",
        help="Keep only this parent's areas, the parent and England (e.g. E12000007).",
        metavar="CODE",
    ),
    base_url: str = typer.Option(
        "https://fingertips.phe.org.uk/api",
        "--base-url",
        envvar="HEALTHYCITY_FINGERTIPS_URL",
        help="Fingertips API base URL.",
        metavar="URL",
    ),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Response cache (default: HEALTHYCITY_CACHE_DIR)."
    ),
    refresh: bool = typer.Option(False, "--refresh", help="Ignore cached responses."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds before a request gives up."),
    retries: int = typer.Option(4, "--retries", help="Retries after a transient failure."),
    max_cell_bytes: int = _max_cell_bytes(),
) -> None:
    """Load Fingertips CSV files, or fetch indicators from the Fingertips API.

    Every load is one transaction: a bad file is refused with its row and column and
    nothing is written. Loading the same data twice changes nothing.
    """
    from healthycity.outcomes.ingest.problems import ImportRefused

    ids = _split(indicator)
    if not files and not ids:
        fail("give Fingertips CSV files, or --indicator ID to fetch from the API")
    if files and ids:
        fail("give either files or --indicator, not both")
    cli = context(ctx)
    if files:
        from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv

        for path in files:
            if not path.is_file():
                fail(f"{path}: no such file")
        try:
            result = import_fingertips_csv(cli.engine(), files, max_cell_bytes=max_cell_bytes)
        except ImportRefused as exc:
            _refused(exc)
        _report(result)
        return

    from healthycity.outcomes.ingest.fingertips_api import (
        ClientOptions,
        FingertipsApiError,
        FingertipsClient,
        import_fingertips_api,
    )

    options = ClientOptions(
        base_url=base_url,
        cache_dir=cache_dir or Path(cli.settings.cache_dir),
        timeout=timeout,
        retries=retries,
        refresh=refresh,
    )
    engine = cli.engine()
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    with (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            transient=not sys.stderr.isatty(),
            disable=not sys.stderr.isatty(),
        ) as progress,
        FingertipsClient(options) as client,
    ):
        tasks: dict[str, int] = {}

        def advance(label: str, size: int, total: int | None) -> None:
            if label not in tasks:
                tasks[label] = int(progress.add_task(label, total=total))
            progress.update(tasks[label], advance=size, total=total)  # type: ignore[arg-type]

        try:
            result, warnings = import_fingertips_api(
                engine,
                client,
                ids,
                area_type=area_type,
                parent_area_type=parent_area_type,
                parent_code=parent,
                progress=advance,
            )
        except FingertipsApiError as exc:
            fail(str(exc))
        except ImportRefused as exc:
            _refused(exc)
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    _report(result)


@load_app.command("long")
def load_long(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A long-format CSV (area_code, period, value, …)."),
    indicator: str = typer.Option(..., "--indicator", help="Indicator id to load it as."),
    name: str | None = typer.Option(None, "--name", help="Indicator name, if new."),
    max_cell_bytes: int = _max_cell_bytes(),
) -> None:
    """Load a long-format file: one row per area and period (e.g. a fingertipsR extract)."""
    from healthycity.outcomes.ingest.long_format import import_long_file
    from healthycity.outcomes.ingest.problems import ImportRefused

    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        result = import_long_file(
            context(ctx).engine(), file, indicator, name=name, max_cell_bytes=max_cell_bytes
        )
    except ImportRefused as exc:
        _refused(exc)
    _report(result)


@load_app.command("published")
def load_published_command(ctx: typer.Context) -> None:
    """Load the published figures shipped with the package (OGL v3; see its README).

    One transaction; loading twice changes nothing. Indicators the catalogue lacks are
    skipped, so load the city pack first.
    """
    from healthycity.outcomes.ingest.problems import ImportRefused
    from healthycity.outcomes.published import load_published, manifest

    try:
        result = load_published(context(ctx).engine())
    except ImportRefused as exc:
        _refused(exc)
    info = manifest()
    typer.echo(
        f"published figures ({info['extract_date']}, {info['licence']}): "
        f"{len(result.indicators)} indicators, {result.rows} rows read, "
        f"{result.inserted} inserted, {result.updated} updated"
    )
    if result.skipped:
        typer.echo("not in the catalogue (skipped): " + ", ".join(result.skipped), err=True)
    if not result.changed:
        typer.echo("nothing changed (the data were already loaded)")


@load_app.command("csv")
def load_counts(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV of counts: area_code, period, count, …"),
    indicator: str = typer.Option(..., "--indicator", help="Indicator id to load it as."),
    method: str | None = typer.Option(
        None,
        "--method",
        help="proportion|rate|mean|dsr|isr|life-expectancy (default: from the indicator).",
    ),
    name: str | None = typer.Option(None, "--name", help="Indicator name, if new."),
    multiplier: float | None = typer.Option(
        None, "--multiplier", help="Default: the indicator's, else the method's."
    ),
    ci: str = typer.Option("auto", "--ci", help="Rates: auto|exact|byar."),
    max_cell_bytes: int = _max_cell_bytes(),
) -> None:
    """Load counts and denominators; values and 95%/99.8% intervals are computed.

    Columns: area_code, period, count, denominator, and optionally sex, age, area_name,
    category_type, category; for a DSR also age_band and standard_population.
    """
    from healthycity.outcomes.ingest.counts_csv import import_counts_csv
    from healthycity.outcomes.ingest.problems import ImportRefused

    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        result = import_counts_csv(
            context(ctx).engine(),
            file,
            indicator,
            method=method,
            name=name,
            multiplier=multiplier,
            ci=ci,
            max_cell_bytes=max_cell_bytes,
        )
    except ImportRefused as exc:
        _refused(exc)
    _report(result)


def compute(
    method: str = typer.Option(
        ...,
        "--method",
        help="proportion|rate|mean|dsr|isr|life-expectancy|sii|funnel|quantiles",
    ),
    input: Path = typer.Option(..., "--input", help="CSV in: count, denominator, …"),  # noqa: A002
    output: Path = typer.Option(..., "--output", help="CSV out: your columns plus results."),
    confidence: str = typer.Option("0.95,0.998", "--confidence", help="Levels, comma-separated."),
    multiplier: float | None = typer.Option(None, "--multiplier", help="e.g. 100 or 100000."),
    ci: str = typer.Option("auto", "--ci", help="Rates: auto|exact|byar."),
    group_by: str | None = typer.Option(
        None, "--group-by", help="Columns to group by (comma-separated)."
    ),
    statistic: str = typer.Option(
        "proportion", "--statistic", help="Funnel: proportion|ratio|rate (PHE's names)."
    ),
    rate_type: str = typer.Option("crude", "--rate-type", help="Rate funnel: crude|dsr."),
    nquantiles: int = typer.Option(10, "--nquantiles", help="Quantiles: how many groups."),
    invert: bool = typer.Option(
        True, "--invert/--no-invert", help="Quantiles: highest value in quantile 1."
    ),
) -> None:
    """Compute PHE statistics from a CSV, like the PHE R package, into a CSV.

    Output columns: yours, then value, lower95_0cl, upper95_0cl, lower99_8cl,
    upper99_8cl (for the levels asked), confidence, statistic, method. An error names
    the row and column.
    """
    from healthycity.outcomes.compute import compute_csv

    extra: dict[str, object] = {}
    if method.strip().lower() == "funnel":
        extra = {"statistic": statistic, "rate_type": rate_type}
    elif method.strip().lower() == "quantiles":
        extra = {"nquantiles": nquantiles, "invert": invert}

    try:
        levels = [float(c) for c in confidence.split(",") if c.strip()]
    except ValueError:
        fail(f"--confidence: {confidence!r} is not a list of numbers such as 0.95,0.998")
    groups = [g.strip() for g in group_by.split(",") if g.strip()] if group_by else None
    if not input.is_file():
        fail(f"{input}: no such file")
    try:
        rows = compute_csv(
            input,
            output,
            method=method,
            confidence=levels,
            multiplier=multiplier,
            ci=ci,
            group_by=groups,
            **extra,
        )
    except (ValueError, KeyError, OSError) as exc:
        fail(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    typer.echo(f"wrote {output}" + (f" ({rows} rows)" if isinstance(rows, int) else ""))


@data_app.command("export")
def data_export(
    ctx: typer.Context,
    indicator: str = typer.Option(..., "--indicator", help="Indicator id."),
    benchmark: str = typer.Option(
        "E92000001", "--benchmark", help="Area code to compare with (England by default)."
    ),
    format: str = typer.Option("csv", "--format", help="csv|json"),  # noqa: A002
    output: Path | None = typer.Option(None, "--output", help="File (default: stdout)."),
    published: bool = typer.Option(
        False,
        "--published",
        help="Add the comparison with England as published, and ours where it disagrees.",
    ),
) -> None:
    """Write an indicator's data in Fingertips' columns, with this project's comparison.

    Rows without an interval carry the publisher's own judgement; rows computed from
    their parts (London from its boroughs) say so in their "Value note".
    """
    from healthycity.core.db import transaction
    from healthycity.outcomes.export import ExportError, export_csv, export_json

    if format not in ("csv", "json"):
        fail("--format must be csv or json")
    with transaction(context(ctx).engine()) as session:
        try:
            text = (
                export_csv(session, indicator, benchmark=benchmark, published=published)
                if format == "csv"
                else export_json(session, indicator, benchmark=benchmark, published=published)
            )
        except ExportError as exc:
            fail(str(exc))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


@load_app.command("boundaries")
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
