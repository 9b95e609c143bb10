"""Jinja2 for every page: the NHS design system's templates plus each module's own.

Autoescape is on for everything, so user and data text can never become markup.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import (
    ChainableUndefined,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    select_autoescape,
)

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_MODULES = ("web", "outcomes", "portfolio", "assurance")


def _template_dirs() -> list[str]:
    return [
        str(PACKAGE_ROOT / module / "templates")
        for module in TEMPLATE_MODULES
        if (PACKAGE_ROOT / module / "templates").is_dir()
    ]


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(_template_dirs()),
                PackageLoader("nhsuk_frontend_jinja", "templates"),
            ]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        # The design system's macros read optional nested params (params.search.action).
        undefined=ChainableUndefined,
    )
    env.globals["service_name"] = "healthycity"
    return env
