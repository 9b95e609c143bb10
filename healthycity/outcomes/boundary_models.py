"""The boundary table: one GeoJSON geometry per area, for real maps on indicator pages.

Why a table of its own: the tile grid from the city pack draws a map with no files at
all, but people recognise their borough's real shape. A boundary file is loaded once
(``healthycity load boundaries FILE``) and kept in the database, keyed by area code, so
the live site, the static export and any other process read the same geometry and a
restart loses nothing. Geometry is stored as the GeoJSON object itself (JSON on both
engines): the pages only ever read it whole, to hand it to a chart spec.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from healthycity.core.db import Base


def _now() -> datetime:
    return datetime.now(UTC)


class AreaBoundary(Base):
    """The outline of one area as a GeoJSON geometry (Polygon or MultiPolygon, WGS84)."""

    __tablename__ = "area_boundary"

    area_code: Mapped[str] = mapped_column(
        String(16), ForeignKey("area.code", ondelete="CASCADE"), primary_key=True
    )
    geometry: Mapped[dict[str, Any]] = mapped_column(JSON)
    name_in_file: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
