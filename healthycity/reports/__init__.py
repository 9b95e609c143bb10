"""Reports made from the workspace's data: HTML first, PDF from the same HTML."""

from healthycity.core.registry import Module

MODULE = Module(
    name="reports",
    summary="Reports from the partnership's data: the programme progress report, HTML "
    "first and tagged PDF from the same page.",
    web=("healthycity.reports.pages",),
    cli="healthycity.reports.cli",
    templates=True,
)
