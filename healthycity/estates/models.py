"""Estates tables: the organisations and sites of the NHS estate, and their yearly returns.

Why these shapes:
- Organisations are keyed by ODS code. A merged trust keeps its row, pointing at its
  successor with the date it joined, so 2013/14 returns (filed by Ealing or Barnet and
  Chase Farm) stay attributable and a trust's history can be read across the merger.
- Sites are keyed by (organisation, site code), never by site code alone: every
  trust's small sites are lumped into one ``AGGRE`` row, so ``AGGRE`` repeats across
  trusts. Aggregates are kept (their floor area and backlog are real parts of the
  total) but flagged, so they are never mapped, ranked or described as one building.
- A return is one published row (trust, site or PFI sheet) for one year. The figures the
  measures read are typed columns; every cell of the row is also kept as published text
  in ``published``, because ERIC's other columns are renamed or dropped from year to year
  and trusts' own figures are never corrected by NHS Digital (the ERIC caveat). A
  figure given as ``Not Applicable`` or ``No Data Provided`` is NULL in its column, with
  the marker kept in ``missing`` so "not applicable" and "not provided" stay distinct
  from zero and from each other.
- Money is pounds and pence (``Money``); floor areas m²; percentages and hectares are
  floats as published. Money is rounded to the penny on load (a few England rows of
  2015/16 carry 15+ decimals); the exact text stays in ``published``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from healthycity.core.audit import Audited
from healthycity.core.db import Base, Money
from healthycity.core.models import utcnow

TRUST, SITE, PFI = "trust", "site", "pfi"
LEVELS: tuple[str, ...] = (TRUST, SITE, PFI)
AGGREGATE_SITE_CODE = "AGGRE"
Area = Numeric(14, 2)


class EstatesOrganisation(Base):
    """An NHS organisation that files ERIC returns (a trust, or a predecessor trust)."""

    __tablename__ = "estates_organisation"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    # The year of the return the name was taken from: later returns win, whatever the
    # order files are loaded in, so loading is order-independent.
    name_year: Mapped[str | None] = mapped_column(String(7))
    org_type: Mapped[str | None] = mapped_column(String(120))
    # NWL/NCL/NEL/SEL/SWL, MULTI (allocated site by site) or LONDON (London-wide);
    # NULL for organisations outside the city (England benchmark rows).
    subregion: Mapped[str | None] = mapped_column(String(8), index=True)
    successor_code: Mapped[str | None] = mapped_column(String(10))
    merged_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))


class EstatesSite(Base):
    """A site of an organisation's estate, or the organisation's aggregate of small sites."""

    __tablename__ = "estates_site"
    __table_args__ = (UniqueConstraint("org_code", "site_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_code: Mapped[str] = mapped_column(
        ForeignKey("estates_organisation.code", ondelete="CASCADE"), index=True
    )
    site_code: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(300))
    name_year: Mapped[str | None] = mapped_column(String(7))
    site_type: Mapped[str | None] = mapped_column(String(120))
    is_aggregate: Mapped[bool] = mapped_column(Boolean, default=False)
    address: Mapped[str | None] = mapped_column(String(500))
    postcode: Mapped[str | None] = mapped_column(String(10))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # Set only where the organisation spans sub-regions; otherwise the organisation's.
    subregion: Mapped[str | None] = mapped_column(String(8))
    # owned / leased / PFI / NHS Property Services, where known (ERIC has no tenure field).
    tenure: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20), default="eric")


class EstatesReturn(Base):
    """One published ERIC row: an organisation's, a site's or a PFI scheme's, for a year."""

    __tablename__ = "estates_return"
    __table_args__ = (UniqueConstraint("year", "level", "org_code", "site_code", "scheme"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[str] = mapped_column(String(7), index=True)
    level: Mapped[str] = mapped_column(String(8))
    org_code: Mapped[str] = mapped_column(
        ForeignKey("estates_organisation.code", ondelete="CASCADE"), index=True
    )
    # "" for a trust row; the scheme name for a PFI row ("" otherwise).
    site_code: Mapped[str] = mapped_column(String(12), default="")
    scheme: Mapped[str] = mapped_column(String(300), default="")
    commissioning_region: Mapped[str | None] = mapped_column(String(120))
    site_type: Mapped[str | None] = mapped_column(String(120))
    postcode: Mapped[str | None] = mapped_column(String(10))
    gia_m2: Mapped[Decimal | None] = mapped_column(Area)
    occupied_m2: Mapped[Decimal | None] = mapped_column(Area)
    clinical_m2: Mapped[Decimal | None] = mapped_column(Area)
    non_clinical_m2: Mapped[Decimal | None] = mapped_column(Area)
    empty_pct: Mapped[float | None] = mapped_column(Float)
    under_used_pct: Mapped[float | None] = mapped_column(Float)
    unutilised_pct: Mapped[float | None] = mapped_column(Float)
    not_functionally_suitable_pct: Mapped[float | None] = mapped_column(Float)
    land_owned_ha: Mapped[float | None] = mapped_column(Float)
    land_not_delivering_ha: Mapped[float | None] = mapped_column(Float)
    backlog_high: Mapped[Decimal | None] = mapped_column(Money)
    backlog_significant: Mapped[Decimal | None] = mapped_column(Money)
    backlog_moderate: Mapped[Decimal | None] = mapped_column(Money)
    backlog_low: Mapped[Decimal | None] = mapped_column(Money)
    critical_infrastructure_risk: Mapped[Decimal | None] = mapped_column(Money)
    risk_adjusted_backlog: Mapped[Decimal | None] = mapped_column(Money)
    running_cost: Mapped[Decimal | None] = mapped_column(Money)
    backlog_investment: Mapped[Decimal | None] = mapped_column(Money)
    land_sales_income: Mapped[Decimal | None] = mapped_column(Money)
    age_profile: Mapped[dict[str, float | None]] = mapped_column(JSON, default=dict)
    missing: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    published: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_file: Mapped[str | None] = mapped_column(String(300))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ------------------------------------------------------------------- disposals pipeline

CANDIDATE, APPROVED, MARKETED, SOLD, WITHDRAWN = (
    "candidate",
    "approved",
    "marketed",
    "sold",
    "withdrawn",
)
# The pipeline in order; withdrawn stands beside it (from any stage but sold).
PIPELINE: tuple[str, ...] = (CANDIDATE, APPROVED, MARKETED, SOLD)
STAGES: tuple[str, ...] = (*PIPELINE, WITHDRAWN)
STAGE_LABELS: dict[str, str] = {
    CANDIDATE: "Candidate",
    APPROVED: "Approved",
    MARKETED: "Marketed",
    SOLD: "Sold",
    WITHDRAWN: "Withdrawn",
}
SUBREGIONAL_BOARD, LONDON_ESTATES_BOARD = "subregional_board", "london_estates_board"
FORUMS: dict[str, str] = {
    SUBREGIONAL_BOARD: "Sub-regional estates board",
    LONDON_ESTATES_BOARD: "London Estates Board",
}


class Disposal(Audited, Base):
    """A site (or land) in the devolution MoU's disposals pipeline, with its receipt.

    The site is either one from the register (organisation and site code; never an
    ``AGGRE`` aggregate) or described in words, for land ERIC does not cover. Stage
    changes are kept as dated `DisposalStage` rows; ``notes`` never leave the workspace;
    ``published`` puts the entry on the public pipeline.
    """

    __tablename__ = "estates_disposal"
    __audit_type__ = "disposal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    org_code: Mapped[str | None] = mapped_column(String(10))
    site_code: Mapped[str | None] = mapped_column(String(12))
    site_description: Mapped[str | None] = mapped_column(String(500))
    subregion: Mapped[str] = mapped_column(String(8), index=True)
    stage: Mapped[str] = mapped_column(String(12), default=CANDIDATE)
    forum: Mapped[str | None] = mapped_column(String(30))
    expected_receipt: Mapped[Decimal | None] = mapped_column(Money)
    actual_receipt: Mapped[Decimal | None] = mapped_column(Money)
    homes_enabled: Mapped[int | None] = mapped_column(Integer)
    expected_completion: Mapped[date | None] = mapped_column(Date)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    stages: Mapped[list[DisposalStage]] = relationship(
        cascade="all, delete-orphan", order_by="DisposalStage.id"
    )


class DisposalStage(Audited, Base):
    """A stage a disposal reached, and when (the pipeline's dated history)."""

    __tablename__ = "estates_disposal_stage"
    __audit_type__ = "disposal_stage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    disposal_id: Mapped[int] = mapped_column(
        ForeignKey("estates_disposal.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(12))
    reached_on: Mapped[date] = mapped_column(Date)

    def audit_parent(self) -> tuple[str, str] | None:
        return ("disposal", str(self.disposal_id))


# ------------------------------------------------------------------- sites added by hand

GP_PREMISES, NHS_PROPERTY_SERVICES, COMMUNITY_HEALTH_PARTNERSHIPS, OTHER = (
    "gp_premises",
    "nhs_property_services",
    "community_health_partnerships",
    "other",
)
HAND_SITE_KINDS: dict[str, str] = {
    GP_PREMISES: "GP premises",
    NHS_PROPERTY_SERVICES: "NHS Property Services site",
    COMMUNITY_HEALTH_PARTNERSHIPS: "Community Health Partnerships (LIFT) site",
    OTHER: "Other site ERIC does not cover",
}
TENURES: dict[str, str] = {
    "owned": "Owned",
    "leased": "Leased",
    "pfi": "PFI",
    "nhs_property_services": "NHS Property Services",
}


class HandSite(Audited, Base):
    """A site the estates team adds by hand because ERIC does not cover it.

    ERIC is filed by trusts for the sites they occupy or own; GP premises and the
    buildings NHS Property Services or Community Health Partnerships hold are outside
    it, yet they are part of each sub-region's estate. These entries stand beside the
    returns, never mixed into ERIC's figures: they are marked as entered by hand, with
    who added and last changed them and when, and must name their source.
    """

    __tablename__ = "estates_hand_site"
    __audit_type__ = "estate_site"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))
    ods_code: Mapped[str | None] = mapped_column(String(10))
    holder: Mapped[str | None] = mapped_column(String(300))
    tenure: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(500))
    postcode: Mapped[str | None] = mapped_column(String(10))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    subregion: Mapped[str] = mapped_column(String(8), index=True)
    gia_m2: Mapped[Decimal | None] = mapped_column(Area)
    source: Mapped[str] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
