"""The signed-in workspace: sign-in, the shell of its pages, history and accounts."""

from healthycity.core.registry import Module, NavLink

MODULE = Module(
    name="workspace",
    summary="The signed-in workspace: sign-in, accounts, its home page and history.",
    web=("healthycity.workspace.pages",),
    cli="healthycity.workspace.cli",
    templates=True,
    nav=(NavLink("Workspace", "/workspace", order=90),),
)
