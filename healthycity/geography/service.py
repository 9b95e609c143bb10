"""Geography's public face: the codes every module agrees on, and the city of the pack.

Other modules ask here rather than writing "E92000001" or "E12000007" themselves: the
country's code is fixed by ONS, but the city is whatever region the loaded pack names
(London by default), so a second city's pack works without touching code.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.geography.models import (
    LOCAL_AUTHORITY,
    REGION,
    SUB_REGION,
    Area,
    Organisation,
    SharedObjective,
)

ENGLAND = "E92000001"
# The default pack's region, for callers with no database to ask (file imports, the CLI's
# defaults); anything that has a session asks `city_code` instead.
DEFAULT_CITY = "E12000007"


def city_code(session: Session) -> str:
    """The code of the region the loaded pack describes (London: E12000007)."""
    code = session.scalar(
        select(Area.code).where(Area.area_type == REGION, Area.pack_id.is_not(None)).limit(1)
    )
    return code or DEFAULT_CITY


# ------------------------------------------------------------------ who the partners are

FORUM = "forum"
PARTNERSHIP = "partnership"
PLANNING_GROUP = "planning_group"


@dataclass(frozen=True)
class OrganisationView:
    """An organisation as the public sees it: its name, kind and codes."""

    slug: str
    name: str
    kind: str
    ods_code: str | None
    ons_codes: tuple[str, ...]
    sub_region: str | None
    party_to_agreement: bool
    description: str | None

    @property
    def codes(self) -> str:
        """ODS code, then the ONS codes of the areas it wholly covers."""
        return ", ".join(c for c in (self.ods_code, *self.ons_codes) if c)


def _view(org: Organisation, sub_regions: dict[str, str]) -> OrganisationView:
    return OrganisationView(
        slug=org.slug,
        name=org.name,
        kind=org.kind,
        ods_code=org.ods_code,
        ons_codes=tuple(a.area_code for a in org.areas if a.coverage == "whole"),
        sub_region=sub_regions.get(org.sub_region_code or ""),
        party_to_agreement=org.party_to_agreement,
        description=org.description,
    )


def sub_region_names(session: Session) -> dict[str, str]:
    """Sub-region code → name (North Central London…)."""
    rows = session.scalars(select(Area).where(Area.area_type == SUB_REGION).order_by(Area.name))
    return {a.code: a.name for a in rows}


def sub_region_codes(session: Session) -> dict[str, str]:
    """Sub-region short code (NCL) → its ONS code (E54000028), as the pack gives them."""
    rows = session.execute(
        select(Area.short_code, Area.code).where(
            Area.area_type == SUB_REGION, Area.short_code.is_not(None)
        )
    )
    return {short: code for short, code in rows if short}


def local_authority_codes(session: Session) -> list[str]:
    """The codes of the pack's local authorities (London's boroughs), in order."""
    return list(
        session.scalars(
            select(Area.code)
            .where(Area.area_type == LOCAL_AUTHORITY, Area.pack_id.is_not(None))
            .order_by(Area.code)
        )
    )


def area_names(session: Session) -> dict[str, str]:
    """Every area's code (and short code, NCL) → its name: leads by borough, not by code."""
    names: dict[str, str] = {}
    for area in session.scalars(select(Area)):
        names[area.code] = area.name
        if area.short_code:
            names.setdefault(area.short_code, area.name)
    return names


def organisations(session: Session) -> list[OrganisationView]:
    """Every partner organisation (not forums or partnerships), by name."""
    subs = sub_region_names(session)
    rows = session.scalars(
        select(Organisation)
        .where(Organisation.kind.not_in((FORUM, PARTNERSHIP, PLANNING_GROUP)))
        .order_by(Organisation.name)
    )
    return [_view(o, subs) for o in rows]


@dataclass(frozen=True)
class ForumView:
    slug: str
    name: str
    kind: str
    chair: str | None
    members: tuple[str, ...]
    remit: str | None


def forums(session: Session) -> list[ForumView]:
    """The decision-making forums, then the groups that support them."""
    rows = session.scalars(select(Organisation).where(Organisation.kind == FORUM))
    views = [
        ForumView(
            slug=o.slug,
            name=o.name,
            kind=str(o.details.get("forum_kind") or "decision_making"),
            chair=o.details.get("chair"),
            members=tuple(o.details.get("members") or ()),
            remit=o.description,
        )
        for o in rows
    ]
    return sorted(views, key=lambda f: (f.kind != "decision_making", f.name))


@dataclass(frozen=True)
class SubRegionPartnerships:
    code: str
    name: str
    partnerships: list[OrganisationView]
    planning_groups: list[OrganisationView]


def partnerships_by_sub_region(session: Session) -> list[SubRegionPartnerships]:
    """Each sub-region with its health and care partnerships and planning groups."""
    subs = sub_region_names(session)
    rows = list(
        session.scalars(
            select(Organisation)
            .where(Organisation.kind.in_((PARTNERSHIP, PLANNING_GROUP)))
            .order_by(Organisation.name)
        )
    )
    out = []
    for code, name in subs.items():
        mine = [o for o in rows if o.sub_region_code == code]
        out.append(
            SubRegionPartnerships(
                code=code,
                name=name,
                partnerships=[_view(o, subs) for o in mine if o.kind == PARTNERSHIP],
                planning_groups=[_view(o, subs) for o in mine if o.kind == PLANNING_GROUP],
            )
        )
    return out


def shared_objectives(session: Session) -> list[SharedObjective]:
    """The collaboration agreement's shared objectives, in order."""
    return list(session.scalars(select(SharedObjective).order_by(SharedObjective.number)))
