"""City packs: a partnership's facts (geography, partners, aspirations, programmes,
devolution, assurance tests, indicators) as validated data files.

A pack is data so that another city can bring its own; London ships built in. This
package only reads and validates packs - it never touches a database or the network -
so pack loading (`healthycity.core.pack_loading`, driven by the module registry), the
command line and the tests all share one definition of a valid pack.

The names below are loaded on first use, so importing this package does not pay for
pydantic models a caller may not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from healthycity.packs.problems import PackInvalid, Problem
    from healthycity.packs.reader import (
        PACKS_DIR,
        builtin_packs,
        read_pack,
        resolve_pack,
        validate_pack,
    )
    from healthycity.packs.schema import Pack
    from healthycity.packs.summary import pack_counts, pack_summary, programme_budget_total

_LAZY = {
    "PACKS_DIR": "reader",
    "PackInvalid": "problems",
    "Problem": "problems",
    "builtin_packs": "reader",
    "pack_counts": "summary",
    "pack_summary": "summary",
    "programme_budget_total": "summary",
    "read_pack": "reader",
    "resolve_pack": "reader",
    "validate_pack": "reader",
    "Pack": "schema",
}

__all__ = [
    "PACKS_DIR",
    "Pack",
    "PackInvalid",
    "Problem",
    "builtin_packs",
    "pack_counts",
    "pack_summary",
    "programme_budget_total",
    "read_pack",
    "resolve_pack",
    "validate_pack",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'healthycity.packs' has no attribute {name!r}")
    return getattr(importlib.import_module(f"healthycity.packs.{module}"), name)
