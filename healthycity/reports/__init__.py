"""Reports made from the partnership's data: HTML first, PDF from the same HTML.

The programme progress report (monthly, in the workspace) and the annual strategic
review (public, at ``/review``), with the other cities' figures the review sets London
among (the pack's ``global_cities.csv``).
"""

from healthycity.core.registry import Module, NavLink

MODULE = Module(
    name="reports",
    summary="Reports from the partnership's data: the programme progress report and the "
    "annual strategic review with global city comparisons, HTML first and tagged PDF from "
    "the same page.",
    models=("healthycity.reports.models",),
    web=("healthycity.reports.pages", "healthycity.reports.review_pages"),
    cli="healthycity.reports.cli",
    templates=True,
    static=True,
    pack_loader="healthycity.reports.cities:load_cities",
    pack_counts="healthycity.reports.cities:pack_counts",
    site_paths="healthycity.reports.review_pages:site_paths",
    nav=(NavLink("Annual review", "/review", order=60),),
)
