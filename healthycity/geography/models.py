"""Areas and organisations: where indicators are measured and who the partners are.

Areas are generic (any ONS/NHS geography a Fingertips file may carry); the city pack
adds the hierarchy and the tile-grid positions that draw a map without boundary files.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from healthycity.core.db import Base

# Area types the product knows by name; imports may bring others (kept as given).
COUNTRY = "country"
REGION = "region"
SUB_REGION = "sub_region"
LOCAL_AUTHORITY = "local_authority"


class Area(Base):
    """A geography identified by its ONS/NHS code (E92000001, E12000007, E09000001…)."""

    __tablename__ = "area"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    area_type: Mapped[str] = mapped_column(String(80), index=True)
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("area.code", ondelete="SET NULL"), index=True
    )
    short_code: Mapped[str | None] = mapped_column(String(16))
    tile_col: Mapped[int | None] = mapped_column(Integer)
    tile_row: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(Integer)
    population_note: Mapped[str | None] = mapped_column(Text)
    pack_id: Mapped[str | None] = mapped_column(String(64))

    parent: Mapped[Area | None] = relationship(remote_side=[code])


class Organisation(Base):
    """A party to the partnership, a forum, or a place-based partnership."""

    __tablename__ = "organisation"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    sub_region_code: Mapped[str | None] = mapped_column(ForeignKey("area.code"))
    ods_code: Mapped[str | None] = mapped_column(String(10))
    party_to_agreement: Mapped[bool] = mapped_column(Boolean, default=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pack_id: Mapped[str | None] = mapped_column(String(64))

    areas: Mapped[list[OrganisationArea]] = relationship(
        cascade="all, delete-orphan", order_by="OrganisationArea.area_code"
    )


class OrganisationArea(Base):
    """The areas an organisation covers (a CCG's borough, a council's authority)."""

    __tablename__ = "organisation_area"
    __table_args__ = (UniqueConstraint("organisation_slug", "area_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_slug: Mapped[str] = mapped_column(
        ForeignKey("organisation.slug", ondelete="CASCADE"), index=True
    )
    area_code: Mapped[str] = mapped_column(ForeignKey("area.code"))
    coverage: Mapped[str] = mapped_column(String(8), default="whole")  # whole | part


class SharedObjective(Base):
    """One of the objectives every party to the collaboration agreement shares (seed 003)."""

    __tablename__ = "shared_objective"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    pack_id: Mapped[str | None] = mapped_column(String(64))
