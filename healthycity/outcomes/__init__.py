"""Outcomes: indicators, observations, PHE statistics, judgements, imports and exports."""

from healthycity.core.registry import Module, NavLink

MODULE = Module(
    name="outcomes",
    summary="Indicators, observations, PHE statistics, judgements, the public dashboard "
    "and the open data API.",
    models=("healthycity.outcomes.models", "healthycity.outcomes.boundary_models"),
    web=("healthycity.outcomes.pages",),
    cli="healthycity.outcomes.cli",
    templates=True,
    static=True,
    pack_loader="healthycity.outcomes.catalogue:load_catalogue",
    pack_counts="healthycity.outcomes.catalogue:pack_counts",
    demo="healthycity.outcomes.demo",
    site_paths="healthycity.outcomes.dashboard:site_paths",
    nav=(
        NavLink("Home", "/"),
        NavLink("Indicators", "/indicators"),
        NavLink("Areas", "/areas"),
    ),
)
