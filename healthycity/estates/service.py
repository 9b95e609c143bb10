"""The estates module's public face: what the pages, the API and the CLI ask for.

Reads the returns into arrays once per year and hands them to `measures`; turns the
arrays back into plain figures (pounds as numbers, percentages 0–100). London is every
return filed under the London commissioning region or by an organisation the
sub-region lookup places in London — the same rule the London extracts were cut by, so
Oxleas' 2013/14 return (filed under the South region) counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthycity.core.errors import NotFound
from healthycity.estates import measures as m
from healthycity.estates.columns import LONDON_REGION
from healthycity.estates.models import (
    SITE,
    TRUST,
    EstatesOrganisation,
    EstatesReturn,
    EstatesSite,
)
from healthycity.estates.register import SUBREGIONS
from healthycity.geography.service import sub_region_codes

CAVEAT = (
    "Trusts report these figures themselves; NHS Digital does not check or correct them, "
    "and they may contain errors."
)
ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0 "
    "(NHS Digital, ERIC)."
)
# Measures compared with England's organisations (quartiles), and how each reads.
BENCHMARKED = (
    "backlog_per_m2",
    "empty_under_used_pct",
    "not_functionally_suitable_pct",
    "non_clinical_pct",
    "running_cost_per_m2",
)


@dataclass
class Row:
    """One site return with the organisation and site it belongs to."""

    ret: EstatesReturn
    org: EstatesOrganisation
    site: EstatesSite | None

    @property
    def london(self) -> bool:
        return self.ret.commissioning_region == LONDON_REGION or self.org.subregion is not None

    @property
    def subregion(self) -> str | None:
        if self.site is not None and self.site.subregion:
            return self.site.subregion
        return self.org.subregion


def years(session: Session) -> list[str]:
    """Years with site returns, oldest first."""
    found = session.scalars(
        select(EstatesReturn.year).where(EstatesReturn.level == SITE).distinct()
    )
    return sorted(found)


def latest_year(session: Session) -> str | None:
    return max(years(session), default=None)


def site_rows(session: Session, year: str) -> list[Row]:
    """Every site return of ``year``, with its organisation and site."""
    query = (
        select(EstatesReturn, EstatesOrganisation, EstatesSite)
        .join(EstatesOrganisation, EstatesOrganisation.code == EstatesReturn.org_code)
        .outerjoin(
            EstatesSite,
            (EstatesSite.org_code == EstatesReturn.org_code)
            & (EstatesSite.site_code == EstatesReturn.site_code),
        )
        .where(EstatesReturn.year == year, EstatesReturn.level == SITE)
        .order_by(EstatesReturn.org_code, EstatesReturn.site_code)
    )
    return [Row(r, o, s) for r, o, s in session.execute(query)]


def _column(values: Iterable[Decimal | float | None], scale: float = 1.0) -> m.Array:
    return np.array([np.nan if v is None else float(v) * scale for v in values], dtype=np.float64)


def figures(rows: list[Row]) -> m.SiteFigures:
    """The rows' figures as arrays (money in pence)."""
    rets = [r.ret for r in rows]

    def col(attr: str, scale: float = 1.0) -> m.Array:
        return _column((getattr(r, attr) for r in rets), scale)

    return m.SiteFigures(
        gia=col("gia_m2"),
        occupied=col("occupied_m2"),
        clinical=col("clinical_m2"),
        non_clinical=col("non_clinical_m2"),
        empty_pct=col("empty_pct"),
        under_used_pct=col("under_used_pct"),
        unutilised_pct=col("unutilised_pct"),
        not_suitable_pct=col("not_functionally_suitable_pct"),
        land_owned=col("land_owned_ha"),
        land_not_delivering=col("land_not_delivering_ha"),
        backlog={b: np.round(col(f"backlog_{b}", 100.0)) for b in m.BANDS},
        critical_infrastructure=np.round(col("critical_infrastructure_risk", 100.0)),
        running_cost=np.round(col("running_cost", 100.0)),
    )


def pounds(pence: float) -> int | float | None:
    """Pence (a whole number in a float) as pounds: an int when whole, else 2 decimals."""
    if math.isnan(pence):
        return None
    whole = int(round(pence))
    return whole // 100 if whole % 100 == 0 else float(Decimal(whole) / 100)


def number(value: float, places: int = 2) -> int | float | None:
    """A figure as JSON shows it: None for NaN, an int when whole, else rounded."""
    if math.isnan(value):
        return None
    number = float(value)
    return int(number) if number.is_integer() else round(number, places)


def percent(value: float) -> float | None:
    """A fraction as a percentage to two places (None for NaN)."""
    return None if math.isnan(value) else round(float(value) * 100.0, 2)


def describe(found: dict[str, m.Array], i: int) -> dict[str, Any]:
    """Group ``i``'s measures as plain figures (the shape of the summary's entries)."""
    backlog = {b: pounds(found[f"backlog_{b}"][i]) for b in m.BANDS}
    non_clinical = percent(found["non_clinical_share"][i])
    surplus = percent(found["empty_under_used_share"][i])
    return {
        "backlog": backlog
        | {
            "total": pounds(found["backlog_total"][i]),
            "high_plus_significant": pounds(found["backlog_high_significant"][i]),
            "critical_infrastructure_risk": pounds(found["critical_infrastructure_risk"][i]),
        },
        "backlog_total": pounds(found["backlog_total"][i]),
        "gross_internal_floor_area_m2": number(found["gia_m2"][i]),
        "backlog_per_m2": number(found["backlog_per_m2"][i] / 100.0),
        "high_significant_backlog_per_m2": number(found["high_significant_per_m2"][i] / 100.0),
        "empty_m2": number(found["empty_m2"][i], 0),
        "under_used_m2": number(found["under_used_m2"][i], 0),
        "empty_under_used_m2": number(found["empty_under_used_m2"][i], 0),
        "empty_pct": percent(found["empty_share"][i]),
        "under_used_pct": percent(found["under_used_share"][i]),
        "empty_under_used_pct": surplus,
        "meets_carter_empty_under_used": None
        if surplus is None
        else surplus <= m.EMPTY_UNDER_USED_TARGET_PCT,
        "not_functionally_suitable_pct": percent(found["not_suitable_share"][i]),
        "non_clinical_pct": non_clinical,
        "meets_carter_non_clinical": None
        if non_clinical is None
        else non_clinical <= m.NON_CLINICAL_TARGET_PCT,
        "land_owned_ha": number(found["land_owned_ha"][i]),
        "land_not_delivering_services_ha": number(found["land_not_delivering_ha"][i]),
        "running_cost_per_m2": number(found["running_cost_per_m2"][i] / 100.0),
        "sites": int(found["sites"][i]),
    }


def _grouped(rows: list[Row], keys: list[str]) -> tuple[list[str], dict[str, m.Array]]:
    order = sorted(set(keys))
    index = {k: i for i, k in enumerate(order)}
    groups = np.array([index[k] for k in keys], dtype=np.int64)
    return order, m.measures(figures(rows), groups, len(order))


def by(rows: list[Row], keys: list[str]) -> dict[str, dict[str, Any]]:
    """Measures for each distinct key (rows and keys aligned)."""
    if not rows:
        return {}
    order, found = _grouped(rows, keys)
    return {k: describe(found, i) for i, k in enumerate(order)}


def _investment(session: Session, year: str, codes: set[str]) -> dict[str, Decimal]:
    query = select(EstatesReturn.org_code, EstatesReturn.backlog_investment).where(
        EstatesReturn.year == year, EstatesReturn.level == TRUST
    )
    return {c: v for c, v in session.execute(query) if c in codes and v is not None}


def benchmark(rows: list[Row]) -> dict[str, dict[str, float]] | None:
    """England's quartiles of each organisation's measures, when England files are loaded."""
    if all(r.london for r in rows):
        return None
    found = by(rows, [r.org.code for r in rows])
    out = {}
    for measure in BENCHMARKED:
        values = np.array(
            [np.nan if v[measure] is None else v[measure] for v in found.values()], dtype=float
        )
        q = m.quartiles(values)
        if q is not None:
            out[measure] = {"lower_quartile": q[0], "median": q[1], "upper_quartile": q[2]}
    return out


def summary(session: Session, year: str) -> dict[str, Any]:
    """London, each sub-region and each organisation for ``year`` (the CLI's JSON)."""
    rows = site_rows(session, year)
    if not rows:
        raise NotFound(f"no site returns are loaded for {year}")
    london = [r for r in rows if r.london]
    if not london:
        raise NotFound(f"no London site returns are loaded for {year}")
    placed = [r for r in london if r.subregion]
    subregions = by(placed, [r.subregion or "" for r in placed])
    organisations = by(london, [r.org.code for r in london])
    names = {r.org.code: r.org for r in london}
    investment = _investment(session, year, set(organisations))
    for code, entry in organisations.items():
        org = names[code]
        entry |= {"name": org.name, "subregion": org.subregion, "successor": org.successor_code}
        spent = investment.get(code)
        entry["backlog_investment"] = None if spent is None else pounds(float(spent) * 100)
    ons = sub_region_codes(session)
    for code, entry in subregions.items():
        entry["name"] = SUBREGIONS.get(code, code)
        # The ONS code (E54…, the STP's and later the ICB's) where the loaded pack has it.
        entry["ons_code"] = ons.get(code)
    return {
        "year": year,
        "london": by(london, ["london"] * len(london))["london"],
        "subregions": subregions,
        "organisations": organisations,
        "england_benchmark": benchmark(rows),
        "source": ATTRIBUTION,
        "caveat": CAVEAT,
    }


def trend(session: Session) -> list[dict[str, Any]]:
    """London's measures for every year loaded, oldest first."""
    out = []
    for year in years(session):
        london = [r for r in site_rows(session, year) if r.london]
        if london:
            out.append({"year": year} | by(london, ["london"] * len(london))["london"])
    return out


def organisation(session: Session, code: str) -> EstatesOrganisation:
    org = session.get(EstatesOrganisation, code)
    if org is None:
        raise NotFound(f"no organisation {code}")
    return org


def organisation_years(session: Session, code: str) -> list[dict[str, Any]]:
    """One organisation's measures, year by year."""
    out = []
    for year in years(session):
        rows = [r for r in site_rows(session, year) if r.org.code == code]
        if rows:
            out.append({"year": year} | by(rows, [code] * len(rows))[code])
    return out


def sites_of(session: Session, code: str, year: str) -> list[tuple[Row, dict[str, Any]]]:
    """An organisation's site returns for ``year``, each with its own measures."""
    rows = [r for r in site_rows(session, year) if r.org.code == code]
    found = by(rows, [r.ret.site_code for r in rows])
    return [(r, found[r.ret.site_code]) for r in rows]


def site(session: Session, org_code: str, site_code: str) -> EstatesSite:
    found = session.scalars(
        select(EstatesSite).where(
            EstatesSite.org_code == org_code, EstatesSite.site_code == site_code
        )
    ).one_or_none()
    if found is None:
        raise NotFound(f"no site {site_code} of {org_code}")
    return found


def site_returns(session: Session, org_code: str, site_code: str) -> list[EstatesReturn]:
    return list(
        session.scalars(
            select(EstatesReturn)
            .where(
                EstatesReturn.org_code == org_code,
                EstatesReturn.site_code == site_code,
                EstatesReturn.level == SITE,
            )
            .order_by(EstatesReturn.year)
        )
    )


def counts(session: Session) -> dict[str, int]:
    """How much is loaded: organisations, sites and returns."""
    return {
        "organisations": session.scalar(select(func.count()).select_from(EstatesOrganisation)) or 0,
        "sites": session.scalar(select(func.count()).select_from(EstatesSite)) or 0,
        "returns": session.scalar(select(func.count()).select_from(EstatesReturn)) or 0,
    }
