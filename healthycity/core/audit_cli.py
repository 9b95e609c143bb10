"""``healthycity audit verify | checkpoint``: check and seal the workspace audit trail.

The root CLI calls :func:`register`. This and ``healthycity exchange audit verify`` both
print :meth:`healthycity.core.tamper.Report.lines`, so both logs report the same way.
Heavy imports stay inside the commands so that ``healthycity --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from healthycity.core.cli_context import context, fail

if TYPE_CHECKING:
    from healthycity.core.tamper import Report, TamperLog

audit_app = typer.Typer(
    help="The tamper-evident workspace audit trail (keyed chain and signed checkpoints).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``audit verify`` and ``audit checkpoint`` to ``app``."""
    app.add_typer(audit_app, name="audit")


def show_report(report: Report, *, what: str) -> None:
    """Print a verification report; exit 1 if the log fails it."""
    for line, to_stderr in report.lines(what):
        typer.echo(line, err=to_stderr)
    if not report.ok:
        raise typer.Exit(1)


def _log(ctx: typer.Context) -> TamperLog:
    from healthycity.core import audit
    from healthycity.core.tamper import AuditKeyError

    try:
        log = audit.log_for(context(ctx).settings)
    except AuditKeyError as error:
        fail(str(error), code=2)
    audit.configure(log)
    return log


@audit_app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Check the trail's chain and every checkpoint; exit 1 if anything was changed."""
    from healthycity.core import audit
    from healthycity.core.db import transaction

    log = _log(ctx)
    with transaction(context(ctx).engine()) as session:
        report = audit.verify(session, log=log)
    show_report(report, what="audit trail")


@audit_app.command("checkpoint")
def checkpoint(ctx: typer.Context) -> None:
    """Sign the trail's current row count and head and append them to the checkpoint
    file (run it from a timer, and once after upgrading: it seals the older records)."""
    from healthycity.core import audit
    from healthycity.core.db import transaction

    log = _log(ctx)
    with transaction(context(ctx).engine()) as session:
        written = audit.checkpoint(session, log=log)
    typer.echo(written.describe(log.sink.path))
