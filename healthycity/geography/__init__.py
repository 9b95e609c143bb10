"""Geography: areas, their hierarchy and the partner organisations of the city pack,
with the public governance page (forums, partnerships, parties, shared objectives)."""

from healthycity.core.registry import Module

MODULE = Module(
    name="geography",
    summary="Areas (country, region, sub-regions, boroughs) and the partner organisations.",
    models=("healthycity.geography.models",),
    web=("healthycity.geography.pages", "healthycity.geography.api"),
    templates=True,
    pack_loader="healthycity.geography.pack_loading:load_geography",
    pack_counts="healthycity.geography.pack_loading:pack_counts",
    site_paths="healthycity.geography.pages:site_paths",
)
