"""Load a validated city pack into the database, in one transaction, idempotently.

Each module puts its own part of the pack into its own tables: the registry names its
loader (`Module.pack_loader`), and this file runs them in `INSTALLED` order inside one
transaction, so a failure anywhere writes nothing, then records what was loaded.
`pack_summary` reads back what the database holds (each module's `pack_counts`), so
`pack show` proves the load rather than repeating the files.

The pack itself is the packs layer's business (schema, reader, validation); core only
needs what every pack has, described by `LoadablePack`, so core never imports packs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.core.models import LoadedPack
from healthycity.core.registry import hooks
from healthycity.core.sync import Sync


class PackHeader(Protocol):
    @property
    def name(self) -> str: ...


class LoadablePack(Protocol):
    """What loading needs of a validated pack (a `healthycity.packs.schema.Pack`)."""

    @property
    def id(self) -> str: ...

    @property
    def pack(self) -> PackHeader: ...

    def model_dump_json(self) -> str: ...


@dataclass(frozen=True)
class LoadResult:
    created: int
    updated: int
    unchanged: int
    deleted: int


def pack_digest(pack: LoadablePack) -> str:
    """A fingerprint of the pack's content, so `/health` can tell which version is loaded."""
    return hashlib.sha256(pack.model_dump_json().encode()).hexdigest()


def load_pack(engine: Engine, pack: LoadablePack) -> LoadResult:
    """Every module's part of ``pack`` in one transaction; loading twice changes nothing.

    The pack row records what the load left in the database (`database_counts`)."""
    with transaction(engine) as session:
        sync = Sync(session)
        for _module, load in hooks("pack_loader"):
            load(session, pack, sync)
            session.flush()
        sync.upsert(
            LoadedPack,
            {"pack_id": pack.id},
            {
                "name": pack.pack.name,
                "digest": pack_digest(pack),
                "counts": database_counts(session),
            },
        )
        others = session.scalars(select(LoadedPack).where(LoadedPack.pack_id != pack.id))
        for stale in others:
            session.delete(stale)
    return LoadResult(sync.created, sync.updated, sync.unchanged, sync.deleted)


def database_counts(session: Session) -> dict[str, int]:
    """Count what the database holds of each pack entity (not what the files say)."""
    counts: dict[str, int] = {}
    for _module, count in hooks("pack_counts"):
        counts.update(count(session))
    return counts


def pack_summary(engine: Engine) -> dict[str, Any] | None:
    """What `pack show --json` prints: the loaded pack, counts and each module's totals."""
    with Session(engine) as session:
        loaded = session.scalars(select(LoadedPack)).first()
        if loaded is None:
            return None
        summary: dict[str, Any] = {
            "pack": loaded.pack_id,
            "name": loaded.name,
            "counts": database_counts(session),
        }
        for _module, totals in hooks("pack_totals"):
            summary.update(totals(session))
        summary["loaded_at"] = loaded.loaded_at.isoformat()
        return summary
