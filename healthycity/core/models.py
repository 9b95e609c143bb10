"""Core tables: what was loaded, when, and from where."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from healthycity.core.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class LoadedPack(Base):
    """The city pack in the database: one row, replaced when another pack is loaded."""

    __tablename__ = "loaded_pack"

    pack_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
