"""City packs: a partnership's facts (geography, partners, aspirations, programmes,
devolution, assurance tests, indicators) as validated data files.

A pack is data so that another city can bring its own; London ships built in. This
package only reads and validates packs - it never touches a database or the network -
so the loader, the CLI and the tests all share one definition of a valid pack.
"""

from healthycity.packs.reader import (
    PACKS_DIR,
    PackInvalid,
    Problem,
    builtin_packs,
    pack_counts,
    pack_summary,
    programme_budget_total,
    read_pack,
    resolve_pack,
    validate_pack,
)
from healthycity.packs.schema import Pack

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
