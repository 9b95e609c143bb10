"""Load a validated city pack into the database, in one transaction, idempotently.

Each module puts its own part of the pack into its own tables (geography, outcomes
catalogue, portfolio and devolution, assurance); this file runs them in order inside
one transaction, so a failure anywhere writes nothing, and records what was loaded.
`pack_summary` reads back what the database holds, so `pack show` proves the load.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.core.models import LoadedPack
from healthycity.core.sync import Sync
from healthycity.packs.reader import pack_counts
from healthycity.packs.schema import Pack


@dataclass(frozen=True)
class LoadResult:
    created: int
    updated: int
    unchanged: int
    deleted: int


def pack_digest(pack: Pack) -> str:
    """A fingerprint of the pack's content, so `/health` can tell which version is loaded."""
    return hashlib.sha256(pack.model_dump_json().encode()).hexdigest()


def load_pack(engine: Engine, pack: Pack) -> LoadResult:
    from healthycity.assurance.pack_loading import load_assurance
    from healthycity.geography.pack_loading import load_geography
    from healthycity.outcomes.catalogue import load_catalogue
    from healthycity.portfolio.pack_loading import load_portfolio

    with transaction(engine) as session:
        sync = Sync(session)
        load_geography(sync, pack)
        session.flush()
        load_catalogue(session, pack, sync)
        load_portfolio(session, pack)
        load_assurance(session, pack)
        sync.upsert(
            LoadedPack,
            {"pack_id": pack.id},
            {"name": pack.pack.name, "digest": pack_digest(pack), "counts": pack_counts(pack)},
        )
        others = session.scalars(select(LoadedPack).where(LoadedPack.pack_id != pack.id))
        for stale in others:
            session.delete(stale)
    return LoadResult(sync.created, sync.updated, sync.unchanged, sync.deleted)


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def database_counts(session: Session) -> dict[str, int]:
    """Count what the database holds of each pack entity (not what the files say)."""
    from healthycity.assurance.models import MAYOR, AssuranceTest, BedTestCondition
    from healthycity.geography.models import LOCAL_AUTHORITY, SUB_REGION, Area, Organisation
    from healthycity.outcomes.models import Aspiration, Commitment, Indicator, VisionPriority
    from healthycity.portfolio.models import (
        PORTFOLIO_LINE_KIND,
        PROGRAMME_KIND,
        DevolutionArea,
        Pilot,
        Programme,
    )

    def areas(kind: str) -> int:
        return _count(session, select(Area.code).where(Area.area_type == kind))

    def programmes(kind: str) -> int:
        return _count(session, select(Programme.slug).where(Programme.kind == kind))

    return {
        "local_authorities": areas(LOCAL_AUTHORITY),
        "sub_regions": areas(SUB_REGION),
        "aspirations": _count(session, select(Aspiration.slug)),
        "vision_priorities": _count(session, select(VisionPriority.slug)),
        "commitments": _count(session, select(Commitment.slug)),
        "programmes": programmes(PROGRAMME_KIND),
        "portfolio_lines": programmes(PORTFOLIO_LINE_KIND),
        "devolution_areas": _count(session, select(DevolutionArea.slug)),
        "pilots": _count(session, select(Pilot.slug)),
        "assurances": _count(
            session, select(AssuranceTest.slug).where(AssuranceTest.framework == MAYOR)
        ),
        "nhs_tests": _count(
            session, select(AssuranceTest.slug).where(AssuranceTest.framework != MAYOR)
        ),
        "bed_test_conditions": _count(session, select(BedTestCondition.slug)),
        "organisations": _count(session, select(Organisation.slug)),
        "indicators": _count(session, select(Indicator.id)),
    }


def pack_summary(engine: Engine) -> dict[str, Any] | None:
    """What `pack show --json` prints: the loaded pack, counts and the budget total."""
    from healthycity.portfolio.service import budget_total

    with Session(engine) as session:
        loaded = session.scalars(select(LoadedPack)).first()
        if loaded is None:
            return None
        total: Decimal = budget_total(session)
        return {
            "pack": loaded.pack_id,
            "name": loaded.name,
            "counts": database_counts(session),
            "programme_budget_total": f"{total:.2f}",
            "loaded_at": loaded.loaded_at.isoformat(),
        }
