"""Jinja2 for every page: the NHS design system's templates plus each module's own.

Autoescape is on for everything, so user and data text can never become markup.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import (
    ChainableUndefined,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    select_autoescape,
)

from healthycity.core.registry import template_dirs


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader([str(d) for d in template_dirs()]),
                PackageLoader("nhsuk_frontend_jinja", "templates"),
            ]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        # The design system's macros read optional nested params (params.search.action).
        undefined=ChainableUndefined,
        # Templates ship with the package and change only with a new release (a restart):
        # not checking each file's modification time on every render saves a stat call
        # per template per page.
        auto_reload=False,
    )
    env.globals["service_name"] = "healthycity"
    return env
