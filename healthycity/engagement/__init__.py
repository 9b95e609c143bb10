"""Engaging Londoners: consultations answered without an account, moderated results and
the partnership's published response ("you said, we did"), and polls kept apart from
consultations because only a poll has a sampling frame (aspiration 9)."""

from healthycity.core.registry import Module, NavLink

MODULE = Module(
    name="engagement",
    summary="Consultations with moderated, published results and responses, and poll "
    "series with their disclosure and intervals.",
    models=("healthycity.engagement.models",),
    web=(
        "healthycity.engagement.pages",
        "healthycity.engagement.poll_pages",
        "healthycity.engagement.workspace_pages",
        "healthycity.engagement.poll_workspace",
        "healthycity.engagement.coproduction_pages",
    ),
    cli="healthycity.engagement.cli",
    templates=True,
    static=True,
    site_paths="healthycity.engagement.pages:site_paths",
    nav=(NavLink("Have your say", "/consultations"),),
    related="healthycity.engagement.related:related",
)
