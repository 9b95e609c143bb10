"""Service-change assurance: proposals assessed against the Mayor's six assurances,
the NHS tests and the bed test, from draft to a published assessment."""

from healthycity.core.registry import Module, NavLink

MODULE = Module(
    name="assurance",
    summary="Service-change proposals tested against the Mayor's six assurances, the NHS "
    "tests and the bed test.",
    models=("healthycity.assurance.models",),
    web=("healthycity.assurance.pages", "healthycity.assurance.api"),
    cli="healthycity.assurance.cli",
    templates=True,
    pack_loader="healthycity.assurance.pack_loading:load_assurance",
    pack_counts="healthycity.assurance.pack_loading:pack_counts",
    nav=(NavLink("Service changes", "/service-changes"),),
)
