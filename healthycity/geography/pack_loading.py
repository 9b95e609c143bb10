"""Put a city pack's geography and partners into the database.

Areas carry the GSS code as their key. The hierarchy is country > region > sub-region
(the NHS STP/ICB code, with the partnership's short code such as NWL) > local
authority, so a borough page can find its sub-region and the map its tiles.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.sync import Sync, count_rows
from healthycity.geography.models import (
    COUNTRY,
    LOCAL_AUTHORITY,
    REGION,
    SUB_REGION,
    Area,
    Organisation,
    OrganisationArea,
    SharedObjective,
)
from healthycity.packs.schema import Pack

PLANNING_GROUP = "planning_group"
FORUM = "forum"
PARTNERSHIP = "partnership"


def _area(sync: Sync, pack_id: str, code: str, **values: Any) -> None:
    defaults: dict[str, Any] = {
        "short_code": None,
        "tile_col": None,
        "tile_row": None,
        "population": None,
        "population_note": None,
        "parent_code": None,
    }
    sync.upsert(Area, {"code": code}, {**defaults, **values, "pack_id": pack_id})
    sync.session.flush()


def _organisation(
    sync: Sync,
    pack_id: str,
    slug: str,
    coverage: list[tuple[str, str]],
    **values: Any,
) -> None:
    defaults: dict[str, Any] = {
        "description": None,
        "sub_region_code": None,
        "ods_code": None,
        "party_to_agreement": False,
        "details": {},
    }
    row = sync.upsert(Organisation, {"slug": slug}, {**defaults, **values, "pack_id": pack_id})
    wanted = sorted(coverage)
    current = sorted((link.area_code, link.coverage) for link in row.areas)
    if current != wanted:
        row.areas = [OrganisationArea(area_code=code, coverage=kind) for code, kind in wanted]
        if current:
            sync.updated += 1


def load_geography(session: Session, pack: Pack, sync: Sync | None = None) -> None:
    """Upsert the pack's areas, organisations, forums and partnerships."""
    sync = sync or Sync(session)
    pack_id = pack.id
    geography = pack.geography
    _area(sync, pack_id, geography.country.code, name=geography.country.name, area_type=COUNTRY)
    _area(
        sync,
        pack_id,
        geography.region.code,
        name=geography.region.name,
        area_type=REGION,
        parent_code=geography.country.code,
    )
    sub_region_codes: dict[str, str] = {}
    for sub_region in geography.sub_regions:
        sub_region_codes[sub_region.code] = sub_region.nhs_code
        _area(
            sync,
            pack_id,
            sub_region.nhs_code,
            name=sub_region.name,
            area_type=SUB_REGION,
            parent_code=geography.region.code,
            short_code=sub_region.code,
            population=sub_region.approx_population,
            population_note=sub_region.population_note,
        )
    for authority in pack.local_authorities:
        _area(
            sync,
            pack_id,
            authority.code,
            name=authority.name,
            area_type=LOCAL_AUTHORITY,
            parent_code=sub_region_codes[authority.sub_region],
            tile_col=authority.tile_col,
            tile_row=authority.tile_row,
        )

    for group in geography.planning_groups:
        _organisation(
            sync,
            pack_id,
            f"spg-{group.code.lower()}",
            [(code, "whole") for code in group.areas],
            name=group.name,
            kind=PLANNING_GROUP,
            sub_region_code=sub_region_codes[group.sub_region],
            details={"code": group.code},
        )
    parties = pack.organisations
    for org in parties.organisations:
        _organisation(
            sync,
            pack_id,
            org.slug,
            [(code, "whole") for code in org.areas] + [(c, "part") for c in org.partial_areas],
            name=org.name,
            kind=org.kind,
            description=org.description,
            sub_region_code=sub_region_codes.get(org.sub_region or ""),
            ods_code=org.ods_code,
            party_to_agreement=org.party_to_agreement,
            details={"aliases": list(org.aliases), "sources": list(org.sources)},
        )
    for forum in parties.forums:
        _organisation(
            sync,
            pack_id,
            forum.slug,
            [],
            name=forum.name,
            kind=FORUM,
            description=forum.role,
            details={
                "forum_kind": forum.kind,
                "chair": forum.chair,
                "members": list(forum.members),
                "sources": list(forum.sources),
            },
        )
    for partnership in parties.partnerships:
        _organisation(
            sync,
            pack_id,
            partnership.slug,
            [(code, "whole") for code in partnership.areas],
            name=partnership.name,
            kind=PARTNERSHIP,
            description=partnership.description,
            sub_region_code=sub_region_codes[partnership.sub_region],
            details={"level": partnership.level, "sources": list(partnership.sources)},
        )
    _load_objectives(sync, pack)


def _load_objectives(sync: Sync, pack: Pack) -> None:
    """The objectives every party to the collaboration agreement shares (seed 003)."""
    objectives = pack.aspirations.shared_objectives if pack.aspirations else ()
    for objective in objectives:
        sync.upsert(
            SharedObjective,
            {"slug": objective.slug},
            {"number": objective.number, "text": objective.text, "pack_id": pack.id},
        )


def pack_counts(session: Session) -> dict[str, int]:
    """What the database holds of the pack's geography (``pack show``)."""

    def areas(kind: str) -> int:
        return count_rows(session, select(Area.code).where(Area.area_type == kind))

    return {
        "local_authorities": areas(LOCAL_AUTHORITY),
        "sub_regions": areas(SUB_REGION),
        "organisations": count_rows(session, select(Organisation.slug)),
    }
