"""The age of the estate and what is spent on its backlog: two views over one year's returns.

Age profile: ERIC asks each site what percentage of its gross internal floor area was
built in each period; here those become m² (site by site), summed for each
organisation, sub-region and London, and shared out over the floor area that reported
a profile (`measures.age_profile`). The bands are named once across the years
(`columns.AGE_BAND_OF`); a band a future year adds keeps its own name rather than
being dropped.

Backlog and investment: the cost to eradicate backlog maintenance by risk category
(high, significant, moderate, low: the site figures the summary sums) beside the
trust-level "Investment to reduce backlog maintenance (£)". Investment is filed per
trust, never per site, so a sub-region's investment is that of the trusts placed in it;
a trust spanning sub-regions (``MULTI``) or London-wide counts in London only, and the
sub-region's investment-to-backlog ratio is taken over its own trusts, summed before
dividing (`measures.investment_against_backlog`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.errors import NotFound
from healthycity.estates import measures as m
from healthycity.estates import service
from healthycity.estates.columns import AGE_BAND_OF, AGE_BANDS
from healthycity.estates.models import TRUST, EstatesReturn
from healthycity.estates.register import SUBREGIONS
from healthycity.geography.service import sub_region_codes


def _london_rows(session: Session, year: str) -> list[service.Row]:
    rows = [r for r in service.site_rows(session, year) if r.london]
    if not rows:
        raise NotFound(f"no London site returns are loaded for {year}")
    return rows


def _bands_of(rows: list[service.Row]) -> list[str]:
    """The canonical bands, then any band a file named that the canonical list lacks."""
    extra = sorted(
        {
            AGE_BAND_OF.get(label, label)
            for r in rows
            for label in (r.ret.age_profile or {})
            if AGE_BAND_OF.get(label, label) not in AGE_BANDS
        }
    )
    return [*AGE_BANDS, *extra]


def _shares(rows: list[service.Row], bands: list[str]) -> dict[str, m.Array]:
    """Each band's published percentage per row (NaN where not reported)."""
    out = {band: np.full(len(rows), np.nan) for band in bands}
    for i, row in enumerate(rows):
        for label, value in (row.ret.age_profile or {}).items():
            if value is None:
                continue
            band = AGE_BAND_OF.get(label, label)
            column = out[band]
            column[i] = value if np.isnan(column[i]) else column[i] + value
    return out


def _age_groups(
    rows: list[service.Row], keys: list[str], bands: list[str]
) -> dict[str, dict[str, Any]]:
    if not rows:
        return {}
    order = sorted(set(keys))
    index = {k: i for i, k in enumerate(order)}
    groups = np.array([index[k] for k in keys], dtype=np.int64)
    gia = service.figures(rows).gia
    by_band, covered = m.age_profile(gia, _shares(rows, bands), groups, len(order))
    out: dict[str, dict[str, Any]] = {}
    for i, key in enumerate(order):
        out[key] = {
            "floor_area_with_profile_m2": service.number(covered[i]),
            "bands": {
                band: {
                    "floor_area_m2": service.number(by_band[band][i]),
                    "pct": service.percent(m.share_of(by_band[band], covered)[i]),
                }
                for band in bands
            },
        }
    return out


def age_profile(session: Session, year: str) -> dict[str, Any]:
    """Floor area by build-date band for London, each sub-region and each organisation."""
    rows = _london_rows(session, year)
    bands = _bands_of(rows)
    placed = [r for r in rows if r.subregion in SUBREGIONS]
    codes = sub_region_codes(session)
    subregions = _age_groups(placed, [r.subregion or "" for r in placed], bands)
    for code, entry in subregions.items():
        entry |= {"name": SUBREGIONS[code], "ons_code": codes.get(code)}
    organisations = _age_groups(rows, [r.org.code for r in rows], bands)
    names = {r.org.code: r.org for r in rows}
    for code, entry in organisations.items():
        entry |= {"name": names[code].name, "subregion": names[code].subregion}
    return {
        "year": year,
        "bands": bands,
        "london": _age_groups(rows, ["london"] * len(rows), bands)["london"],
        "subregions": subregions,
        "organisations": organisations,
        "source": service.ATTRIBUTION,
        "caveat": service.CAVEAT,
    }


def _investments(session: Session, year: str) -> dict[str, float]:
    """Each trust's investment to reduce backlog (pence) for ``year``, where reported."""
    query = select(EstatesReturn.org_code, EstatesReturn.backlog_investment).where(
        EstatesReturn.year == year, EstatesReturn.level == TRUST
    )
    return {code: round(float(v) * 100) for code, v in session.execute(query) if v is not None}


def _investment_entry(spent: float, against: float, ratio: float) -> dict[str, Any]:
    return {
        "backlog_investment": service.pounds(spent),
        "backlog_set_against_investment": service.pounds(against),
        "investment_pct_of_backlog": service.percent(ratio),
    }


def backlog_investment(session: Session, year: str) -> dict[str, Any]:
    """Backlog by risk category and investment to reduce it: London, sub-regions, trusts."""
    data = service.summary(session, year)
    spent = _investments(session, year)
    trusts = sorted(data["organisations"])
    investment = np.array([spent.get(c, np.nan) for c in trusts], dtype=np.float64)
    backlog = np.array(
        [
            np.nan
            if data["organisations"][c]["backlog_total"] is None
            else round(float(data["organisations"][c]["backlog_total"]) * 100)
            for c in trusts
        ],
        dtype=np.float64,
    )

    def grouped(keys: list[str]) -> dict[str, dict[str, Any]]:
        chosen = [i for i, k in enumerate(keys) if k]
        order = sorted({keys[i] for i in chosen})
        if not order:
            return {}
        index = {k: j for j, k in enumerate(order)}
        groups = np.array([index[keys[i]] for i in chosen], dtype=np.int64)
        total, against, ratio = m.investment_against_backlog(
            investment[chosen], backlog[chosen], groups, len(order)
        )
        return {k: _investment_entry(total[j], against[j], ratio[j]) for j, k in enumerate(order)}

    places = {"london": grouped(["london"] * len(trusts))["london"]}
    own = [
        data["organisations"][c]["subregion"]
        if data["organisations"][c]["subregion"] in SUBREGIONS
        else ""
        for c in trusts
    ]
    by_subregion = grouped(own)
    by_trust = grouped(trusts)

    def band_part(entry: dict[str, Any]) -> dict[str, Any]:
        return {"backlog": dict(entry["backlog"]), "backlog_total": entry["backlog_total"]}

    london = band_part(data["london"]) | places["london"]
    subregions = {
        code: band_part(entry)
        | {"name": entry["name"], "ons_code": entry.get("ons_code")}
        | by_subregion.get(code, _investment_entry(np.nan, np.nan, np.nan))
        for code, entry in data["subregions"].items()
        if code in SUBREGIONS
    }
    organisations = {
        code: band_part(entry)
        | {"name": entry["name"], "subregion": entry["subregion"]}
        | by_trust[code]
        for code, entry in data["organisations"].items()
    }
    return {
        "year": year,
        "london": london,
        "subregions": subregions,
        "organisations": organisations,
        "source": service.ATTRIBUTION,
        "caveat": service.CAVEAT,
    }
