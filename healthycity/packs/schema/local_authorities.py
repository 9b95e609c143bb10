"""``local_authorities.csv``: the local authorities and their map tiles."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from healthycity.packs.schema.common import (
    Issue,
    LocalAuthorityCode,
    Model,
    ShortCode,
    Text,
    duplicates,
)


class LocalAuthority(Model):
    """One row of ``local_authorities.csv``: a local authority and its tile on the map.

    ``tile_col``/``tile_row`` place it on a grid (column 0 is west, row 0 is north) so a
    tile map of the city needs no boundary file.
    """

    code: LocalAuthorityCode
    name: Text
    sub_region: ShortCode
    tile_col: int = Field(ge=0, le=99)
    tile_row: int = Field(ge=0, le=99)


LOCAL_AUTHORITY_COLUMNS = ("code", "name", "sub_region", "tile_col", "tile_row")
LOCAL_AUTHORITIES_FILE = "local_authorities.csv"


def local_authority_issues(rows: Sequence[LocalAuthority]) -> list[Issue]:
    """Within-file checks for the local-authority table: unique codes, names and tiles."""
    found = duplicates(enumerate(r.code for r in rows), "local_authorities", "code")
    found += duplicates(enumerate(r.name for r in rows), "local_authorities", "name")
    found += duplicates(
        enumerate(f"({r.tile_col},{r.tile_row})" for r in rows), "local_authorities", "tile"
    )
    if not rows:
        found.append(("local_authorities", "the table has no rows"))
    return found
