"""ERIC's columns by name, across the yearly renames, and how a file's layout is known.

NHS Digital renames, splits and re-orders ERIC's columns nearly every year (the gross
internal floor area lost the word "site" in 2015/16; "Un-utilised space" became
"empty" and "under used"; a 2014/15 column can carry a section label in brackets when
its name repeats). So nothing is read by position: each figure the module uses names
every header it has been published under, and a file's layout is recognised from its
header alone. A layout is refused with the columns it lacks, so a future year's file
with a renamed column fails loudly instead of loading blanks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from healthycity.estates.models import PFI, SITE, TRUST

ORG_CODE = "Organisation Code"
ORG_NAME = "Organisation Name"
REGION = "Commissioning Region"
ORG_TYPE = "Organisation Type"
SITE_CODE = "Site Code"
SITE_NAME = "Site Name"
SITE_TYPE = "Site Type"
POSTCODE = "Post Code"
SCHEME = "Scheme Name"
NOT_APPLICABLE = "Not Applicable"
NO_DATA = "No Data Provided"
MARKERS = frozenset({NOT_APPLICABLE, NO_DATA})
LONDON_REGION = "LONDON COMMISSIONING REGION"

# Each typed figure: the headers it has been published under (first match wins).
FIGURES: dict[str, tuple[str, ...]] = {
    "gia_m2": ("Gross internal floor area (m²)", "Gross internal site floor area (m²)"),
    "occupied_m2": ("Occupied floor area (m²)", "Occupied floor area (m²) [Areas]"),
    "clinical_m2": ("Clinical space (m²)",),
    "non_clinical_m2": ("Non-clinical space (m²)",),
    "empty_pct": ("Floor area - empty (%)",),
    "under_used_pct": ("Floor area - under used (%)",),
    "unutilised_pct": ("Un-utilised space (%)",),
    "not_functionally_suitable_pct": ("Not functionally suitable - occupied floor area (%)",),
    "land_owned_ha": ("Land area owned (Hectares)",),
    "land_not_delivering_ha": ("Land area not delivering services (Hectares)",),
    "backlog_high": ("Cost to eradicate high risk backlog (£)",),
    "backlog_significant": ("Cost to eradicate significant risk backlog (£)",),
    "backlog_moderate": ("Cost to eradicate moderate risk backlog (£)",),
    "backlog_low": ("Cost to eradicate low risk backlog (£)",),
    "risk_adjusted_backlog": ("Risk adjusted backlog cost (£)",),
    "backlog_investment": ("Investment to reduce backlog maintenance (£)",),
    "land_sales_income": ("Income from building and land sales (£)",),
}
MONEY_FIGURES = frozenset(
    {
        "backlog_high",
        "backlog_significant",
        "backlog_moderate",
        "backlog_low",
        "risk_adjusted_backlog",
        "backlog_investment",
        "land_sales_income",
    }
)
AREA_FIGURES = frozenset({"gia_m2", "occupied_m2", "clinical_m2", "non_clinical_m2"})

# Figures summed from several published columns (whichever the year has).
CRITICAL_INFRASTRUCTURE = (
    "Cost to eradicate Safety related Critical Infrastructure Risk (£)",
    "Cost to eradicate non-compliance related Critical Infrastructure Risk (£)",
    "Cost to eradicate continuity related Critical Infrastructure Risk (£)",
)
# Site running costs: hard FM, soft FM and finance costs until 2015/16; from 2016/17
# ERIC splits hard and soft FM into the parts listed. PFI sheets are not added in.
RUNNING_COSTS = (
    "Hard FM (Estates) costs (£) [Facilities Management (FM) Services]",
    "Soft FM (Hotel Services) costs (£) [Facilities Management (FM) Services]",
    "Hard FM (Estates) costs (£)",
    "Soft FM (Hotel services) costs (£)",
    "Estates and facilities finance costs (£)",
    "Estates and property maintenance (£)",
    "Grounds and gardens maintenance (£)",
    "Electro Bio Medical Equipment maintenance cost (£)",
    "Other Hard FM (Estates) costs (£)",
    "Other Soft FM (Hotel Services) costs (£)",
)
AGE_PREFIX = "Age profile - "
AGE_TOTAL = "Age profile - total (must equal 100%) (%)"
BACKLOG_BANDS = ("high", "significant", "moderate", "low")
# The build-date bands of the age profile, newest first, under one name across the years.
# ERIC's newest band moved: 2013/14 has "2005 to present" (built by 2014, so 2005–2014);
# 2014/15 adds "2015 to present" and names "2005 to 2014"; from 2015/16 the newest is
# "2015 to 2024". Each published label maps to the band it covers.
AGE_BANDS = (
    "2015 onwards",
    "2005 to 2014",
    "1995 to 2004",
    "1985 to 1994",
    "1975 to 1984",
    "1965 to 1974",
    "1955 to 1964",
    "1948 to 1954",
    "pre 1948",
)
AGE_BAND_OF: dict[str, str] = {band: band for band in AGE_BANDS} | {
    "2005 to present": "2005 to 2014",
    "2015 to present": "2015 onwards",
    "2015 to 2024": "2015 onwards",
}

_IDENTITY = (ORG_CODE, ORG_NAME, REGION, ORG_TYPE)
_BACKLOG = tuple(FIGURES[f"backlog_{band}"] for band in BACKLOG_BANDS)


@dataclass(frozen=True)
class Layout:
    """A kind of file ``estates load`` accepts, known by the columns it must have."""

    name: str
    # Each requirement is satisfied by any one of its names.
    required: tuple[tuple[str, ...], ...]
    # Columns that say a file means to be this layout, even when a required one is gone.
    markers: frozenset[str]

    def lacking(self, header: set[str]) -> list[str]:
        return [names[0] for names in self.required if not header.intersection(names)]


LOCATIONS = "locations"
LOOKUP = "lookup"
LAYOUTS: tuple[Layout, ...] = (
    Layout(
        PFI,
        tuple((c,) for c in (*_IDENTITY, SITE_CODE, SITE_NAME, SCHEME)),
        frozenset({SCHEME, POSTCODE}),
    ),
    Layout(
        SITE,
        (*((c,) for c in (*_IDENTITY, SITE_CODE, SITE_NAME, SITE_TYPE)), FIGURES["gia_m2"])
        + _BACKLOG,
        frozenset({SITE_CODE, SITE_NAME, SITE_TYPE}),
    ),
    Layout(
        TRUST,
        (*((c,) for c in _IDENTITY), FIGURES["backlog_investment"]),
        frozenset({ORG_CODE, ORG_NAME}),
    ),
    Layout(
        LOCATIONS,
        tuple((c,) for c in ("OrganisationCode", "OrganisationName", "Latitude", "Longitude")),
        frozenset({"OrganisationCode", "Latitude"}),
    ),
    Layout(
        LOOKUP,
        tuple((c,) for c in ("org_code", "org_name", "subregion")),
        frozenset({"org_code", "subregion"}),
    ),
)


class UnknownLayout(ValueError):
    """A file none of the layouts describes; says which columns the nearest one lacks."""


def layout_of(header: list[str]) -> Layout:
    """The layout ``header`` belongs to: the first with one of its marker columns (PFI
    before site, site before trust: each later sheet's identity columns are in the
    earlier), refused with the columns it lacks."""
    names = set(header)
    for layout in LAYOUTS:
        if layout.markers & names:
            lacking = layout.lacking(names)
            if lacking:
                raise UnknownLayout(
                    f"looks like a {layout.name} file but lacks the column(s): "
                    + ", ".join(lacking)
                )
            return layout
    nearest = min(LAYOUTS, key=lambda layout: len(layout.lacking(names)))
    raise UnknownLayout(
        f"not a layout estates load knows; nearest is the {nearest.name} file, which "
        "needs the column(s): " + ", ".join(nearest.lacking(names))
    )


def column_for(figure: str, header: set[str]) -> str | None:
    """The header ``figure`` is published under in this file, if any."""
    return next((name for name in FIGURES[figure] if name in header), None)


# NHS Digital's publication numbers, as the workbooks were named on download.
PUBLICATION_YEARS = {"9896": "2013-14", "11120": "2014-15", "12611": "2015-16", "13944": "2016-17"}
_YEAR_IN_NAME = re.compile(r"(?<!\d)(20\d\d)[\s_/-]*(\d\d)(?!\d)")
_YEAR_GIVEN = re.compile(r"(20\d\d)[\s_/-]*(\d\d)")
_PUBLICATION = re.compile(r"_(\d{4,5})(?:\D|$)")


def _year(first: str, second: str) -> str | None:
    return f"{first}-{second}" if (int(first) + 1) % 100 == int(second) else None


def normalise_year(text: str) -> str | None:
    """``2016-17``, ``2016/17``, ``2016_17`` or ``201617`` → ``2016-17``; else None."""
    match = _YEAR_GIVEN.fullmatch(text.strip())
    return _year(*match.groups()) if match else None


def year_from_name(filename: str) -> str | None:
    """The financial year in an ERIC file name, as NHS Digital and this project name them:
    ``eric_2016_17_site_london.csv``, ``ERIC-201718-SiteData.csv``, ``ERIC - 201819 -
    SiteData v4.csv``, or a workbook's publication number
    (``HospitalEstatesAndFacilitiesStatistics_13944``)."""
    for match in _YEAR_IN_NAME.finditer(filename):
        found = _year(*match.groups())
        if found:
            return found
    publication = _PUBLICATION.search(filename)
    return PUBLICATION_YEARS.get(publication.group(1)) if publication else None
