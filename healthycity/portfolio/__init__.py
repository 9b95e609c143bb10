"""Transformation portfolio and devolution register: programmes, budgets, spend,
milestones, delivery confidence, risks, leads; MoU areas, pledges, pilots and funds —
kept in the workspace, and shown in the open at /programmes and /devolution."""

from healthycity.core.registry import Module, NavLink

MODULE = Module(
    name="portfolio",
    summary="The transformation programmes and the devolution register: budgets, spend, "
    "milestones, delivery confidence, pledges, pilots and funds.",
    models=("healthycity.portfolio.models",),
    web=(
        "healthycity.portfolio.pages",
        "healthycity.portfolio.api",
        "healthycity.portfolio.public",
        "healthycity.portfolio.trends",
        "healthycity.portfolio.governance_pages",
    ),
    cli="healthycity.portfolio.cli",
    templates=True,
    pack_loader="healthycity.portfolio.pack_loading:load_portfolio",
    pack_counts="healthycity.portfolio.pack_loading:pack_counts",
    pack_totals="healthycity.portfolio.pack_loading:pack_totals",
    site_paths="healthycity.portfolio.public:site_paths",
    related="healthycity.portfolio.governance:related",
    nav=(
        NavLink("Programmes", "/programmes"),
        NavLink("Devolution", "/devolution"),
        NavLink("Governance", "/governance"),
    ),
)
