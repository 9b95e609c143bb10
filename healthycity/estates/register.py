"""The register beside the returns: sub-regions, mergers, locations and hand allocations.

ERIC says who filed a return but not where the partnership's boards sit, which trusts
merged, or where a site is. Those come from the organisation-to-sub-region lookup and
the NHS Choices extract (both given to ``estates load``), and from people: a trust that
spans sub-regions (``MULTI``) has its sites allocated one by one with ``estates
allocate``, because no file says which board a site belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.errors import Invalid, NotFound
from healthycity.estates.models import PFI, EstatesOrganisation, EstatesReturn, EstatesSite

if TYPE_CHECKING:
    from healthycity.estates.loading import LoadResult

SUBREGIONS: dict[str, str] = {
    "NWL": "North West London",
    "NCL": "North Central London",
    "NEL": "North East London",
    "SEL": "South East London",
    "SWL": "South West London",
}
MULTI, LONDON_WIDE = "MULTI", "LONDON"
# The one tenure ERIC tells: a site its PFI sheet lists holds a PFI scheme. (Owned,
# leased and NHS Property Services are not in ERIC per site; the 2016/17 trust sheet
# counts NHS Property Services leases but does not name the sites.)
PFI_TENURE = "PFI"
# When each predecessor trust joined its successor (the lookup gives only the successor).
MERGED_ON: dict[str, date] = {
    "RVL": date(2014, 7, 1),  # Barnet and Chase Farm acquired by Royal Free
    "RC3": date(2014, 10, 1),  # Ealing and North West London Hospitals formed LNWH
    "RV8": date(2014, 10, 1),
    "RFW": date(2015, 9, 1),  # West Middlesex acquired by Chelsea and Westminster
}


def _set(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for attr, value in values.items():
        if getattr(obj, attr) != value:
            setattr(obj, attr, value)
            changed = True
    return changed


def _count(result: LoadResult, changed: bool) -> None:
    if changed:
        result.updated += 1
    else:
        result.unchanged += 1


def apply_lookup(
    session: Session, rows: list[dict[str, str]], result: LoadResult, tick: Callable[[], None]
) -> None:
    """Trusts' sub-regions and successors from the lookup; CCGs (no estate returns) skipped."""
    for row in rows:
        tick()
        if row.get("org_kind", "trust") != "trust":
            continue
        code = row["org_code"]
        org = session.get(EstatesOrganisation, code)
        if org is None:
            org = EstatesOrganisation(code=code, name=row.get("org_name") or code)
            session.add(org)
            result.added += 1
        successor = row.get("successor_code") or None
        changed = _set(
            org,
            {
                "subregion": row.get("subregion") or None,
                "successor_code": successor,
                "merged_on": MERGED_ON.get(code) if successor else None,
                "note": row.get("note") or None,
            },
        )
        if org.org_type is None and row.get("org_type"):
            org.org_type = row["org_type"]
        _count(result, changed)


def _address(row: dict[str, str]) -> str | None:
    parts = [row.get(k, "") for k in ("Address1", "Address2", "Address3", "City")]
    return ", ".join(p for p in parts if p) or None


def _coordinate(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def apply_locations(
    session: Session, rows: list[dict[str, str]], result: LoadResult, tick: Callable[[], None]
) -> None:
    """Give ERIC sites an address, postcode and coordinates where the ODS site code
    matches an NHS Choices entry. Aggregates are never given a location; entries that
    match no site (services, duplicates, sites outside ERIC) are passed over."""
    sites: dict[str, list[EstatesSite]] = {}
    for site in session.scalars(select(EstatesSite).where(EstatesSite.is_aggregate.is_(False))):
        sites.setdefault(site.site_code, []).append(site)
    for row in rows:
        tick()
        for site in sites.get(row.get("OrganisationCode", ""), []):
            values = {
                "address": _address(row),
                "postcode": row.get("Postcode") or None,
                "latitude": _coordinate(row.get("Latitude")),
                "longitude": _coordinate(row.get("Longitude")),
            }
            _count(result, _set(site, values))


def allocate(session: Session, org_code: str, site_code: str, subregion: str) -> EstatesSite:
    """Allocate one site to a sub-region (for organisations that span sub-regions)."""
    if subregion not in SUBREGIONS:
        raise Invalid({"subregion": f"choose one of {', '.join(SUBREGIONS)}"})
    site = session.scalars(
        select(EstatesSite).where(
            EstatesSite.org_code == org_code, EstatesSite.site_code == site_code
        )
    ).one_or_none()
    if site is None:
        raise NotFound(f"no site {site_code} of {org_code}")
    site.subregion = subregion
    return site


def apply_pfi_tenure(session: Session, result: LoadResult) -> None:
    """Mark the sites ERIC's PFI sheets list (any year loaded) as PFI, where no tenure is
    known yet; aggregates are never given one. Idempotent: a second load changes nothing."""
    schemes = set(
        session.execute(
            select(EstatesReturn.org_code, EstatesReturn.site_code).where(
                EstatesReturn.level == PFI
            )
        ).tuples()
    )
    for site in session.scalars(select(EstatesSite).where(EstatesSite.is_aggregate.is_(False))):
        if site.tenure is None and (site.org_code, site.site_code) in schemes:
            site.tenure = PFI_TENURE
            result.updated += 1
