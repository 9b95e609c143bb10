"""Estates: London's NHS estate from NHS Digital's ERIC returns — organisations, sites,
condition (backlog), use (empty and under-used space) and surplus, year by year."""

from healthycity.core.registry import Module, NavLink

MODULE = Module(
    name="estates",
    summary="The NHS estate from ERIC returns: sites, backlog, use and surplus, benchmarked "
    "against England.",
    models=("healthycity.estates.models",),
    web=(
        "healthycity.estates.pages",
        "healthycity.estates.condition_pages",
        "healthycity.estates.api",
        "healthycity.estates.disposal_pages",
        "healthycity.estates.hand_site_pages",
    ),
    cli="healthycity.estates.cli",
    templates=True,
    site_paths="healthycity.estates.pages:site_paths",
    nav=(NavLink("Estates", "/estates"),),
)
