"""The dashboard's other reads: the data version, the catalogue, areas and page rows.

The pages read the store only through this package (decision 0007). These are the reads
that are not an indicator's series: the fingerprint the page cache is keyed by, the
pack's aspirations and commitments, the search index, the site map, and the bulk reads
behind the area page's spine, its pyramid and the inequalities page's SII. Catalogue
rows are returned as loaded (the pages only read them); everything else as tuples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from healthycity.core.models import LoadedPack
from healthycity.geography.models import Area
from healthycity.outcomes import models as m
from healthycity.outcomes.boundary_models import AreaBoundary
from healthycity.outcomes.queries.values import Breakdown


def data_version(session: Session) -> str:
    """A fingerprint of everything the pages show, read in one cheap query.

    Every data load writes a ``DataRelease`` (and new observation ids), clearing demo
    data deletes releases, a pack load changes its digest and a boundary load its rows.
    """
    row = session.execute(
        select(
            select(func.count()).select_from(m.DataRelease).scalar_subquery(),
            select(func.max(m.DataRelease.id)).scalar_subquery(),
            select(func.max(m.Observation.id)).scalar_subquery(),
            select(func.count()).select_from(m.Indicator).scalar_subquery(),
            select(func.max(LoadedPack.digest)).scalar_subquery(),
            select(func.max(LoadedPack.loaded_at)).scalar_subquery(),
            select(func.count()).select_from(AreaBoundary).scalar_subquery(),
            select(func.max(AreaBoundary.loaded_at)).scalar_subquery(),
            select(func.count()).select_from(Area).scalar_subquery(),
        )
    ).one()
    return "|".join("" if v is None else str(v) for v in row)


# ---------------------------------------------------------------------------- catalogue


def loaded_pack(session: Session) -> LoadedPack | None:
    return session.scalars(select(LoadedPack)).first()


def aspirations(session: Session) -> Sequence[m.Aspiration]:
    return session.scalars(select(m.Aspiration).order_by(m.Aspiration.number)).all()


def commitments(session: Session) -> Sequence[m.Commitment]:
    return session.scalars(select(m.Commitment).order_by(m.Commitment.sort_order)).all()


def life_stages(session: Session) -> Sequence[m.LifeStage]:
    return session.scalars(select(m.LifeStage).order_by(m.LifeStage.sort_order)).all()


def vision_priorities(session: Session) -> Sequence[m.VisionPriority]:
    return session.scalars(select(m.VisionPriority).order_by(m.VisionPriority.number)).all()


def aspiration(session: Session, slug: str) -> m.Aspiration | None:
    return session.get(m.Aspiration, slug)


def commitment(session: Session, slug: str) -> m.Commitment | None:
    return session.get(m.Commitment, slug)


def vision_priority(session: Session, slug: str | None) -> m.VisionPriority | None:
    return session.get(m.VisionPriority, slug) if slug else None


def life_stage(session: Session, slug: str | None) -> m.LifeStage | None:
    return session.get(m.LifeStage, slug) if slug else None


def indicator_row(session: Session, indicator_id: str) -> m.Indicator | None:
    """The indicator as loaded: its metadata, targets and links for its page."""
    return session.get(m.Indicator, indicator_id)


def indicator_links(session: Session) -> list[tuple[str, str, str]]:
    """Every (kind, slug, indicator id) link, in the order the pack wrote them."""
    rows = session.execute(
        select(m.IndicatorLink.kind, m.IndicatorLink.slug, m.IndicatorLink.indicator_id).order_by(
            m.IndicatorLink.id
        )
    ).all()
    return [(kind, slug, indicator_id) for kind, slug, indicator_id in rows]


def short_names(session: Session, indicator_ids: Iterable[str]) -> dict[str, str | None]:
    return dict(
        session.execute(
            select(m.Indicator.id, m.Indicator.short_name).where(
                m.Indicator.id.in_(list(indicator_ids))
            )
        ).all()
    )


# ---------------------------------------------------------------------------- areas


def all_areas(session: Session) -> Sequence[Area]:
    return session.scalars(select(Area)).all()


def area_row(session: Session, area_code: str) -> Area | None:
    return session.get(Area, area_code)


# ---------------------------------------------------------------------------- search and site map


def indicator_names(session: Session) -> list[tuple[str, str, str]]:
    """(id, name, definition) of every indicator, by name: the search index."""
    rows = session.execute(
        select(m.Indicator.id, m.Indicator.name, m.Indicator.definition).order_by(m.Indicator.name)
    )
    return [(row[0], row[1], row[2] or "") for row in rows]


def area_names(session: Session) -> list[tuple[str, str, str]]:
    """(code, name, type) of every area, by name: the search index."""
    rows = session.execute(select(Area.code, Area.name, Area.area_type).order_by(Area.name))
    return [(code, name, area_type) for code, name, area_type in rows]


def indicator_ids(session: Session) -> list[str]:
    return list(session.scalars(select(m.Indicator.id).order_by(m.Indicator.id)))


def area_types(session: Session) -> list[tuple[str, str]]:
    """(code, type) of every area, by code."""
    rows = session.execute(select(Area.code, Area.area_type).order_by(Area.code))
    return [(code, area_type) for code, area_type in rows]


def areas_with_data(session: Session) -> set[str]:
    return set(session.scalars(select(m.Observation.area_code).distinct()))


# ---------------------------------------------------------------------------- bulk reads


def area_observations(session: Session, area_code: str) -> Sequence[m.Observation]:
    """Every observation of one area (the area page's spine reads them in bulk)."""
    return session.scalars(select(m.Observation).where(m.Observation.area_code == area_code)).all()


def observations_at(
    session: Session, pairs: Sequence[tuple[str, int]], area_codes: Iterable[str]
) -> Sequence[m.Observation]:
    """The observations of ``area_codes`` at each (indicator id, sortable period)."""
    return session.scalars(
        select(m.Observation).where(
            tuple_(m.Observation.indicator_id, m.Observation.time_period_sortable).in_(pairs),
            m.Observation.area_code.in_(list(area_codes)),
        )
    ).all()


def indicator_rows(session: Session, ids: Iterable[str]) -> Sequence[m.Indicator]:
    return session.scalars(select(m.Indicator).where(m.Indicator.id.in_(list(ids)))).all()


def population_indicators(session: Session) -> list[tuple[str, str]]:
    """(id, source) of every count indicator whose name mentions population."""
    rows = session.execute(
        select(m.Indicator.id, m.Indicator.source).where(
            func.lower(m.Indicator.name).like("%population%"),
            m.Indicator.value_type.in_((m.COUNT, m.OTHER)),
        )
    ).all()
    return [(indicator_id, source) for indicator_id, source in rows]


def population_bands(
    session: Session, indicator_id: str, area_code: str
) -> list[tuple[str, str, float | None, str]]:
    """(sex, age, value, period) for men and women at the area's latest period, by age."""
    latest = session.execute(
        select(func.max(m.Observation.time_period_sortable)).where(
            m.Observation.indicator_id == indicator_id,
            m.Observation.area_code == area_code,
            m.Observation.sex.in_(("Male", "Female")),
        )
    ).scalar()
    if latest is None:
        return []
    rows = session.execute(
        select(m.Observation.sex, m.Observation.age, m.Observation.value, m.Observation.period)
        .where(
            m.Observation.indicator_id == indicator_id,
            m.Observation.area_code == area_code,
            m.Observation.time_period_sortable == latest,
            m.Observation.sex.in_(("Male", "Female")),
            m.Observation.category_type == "",
        )
        .order_by(m.Observation.age)
    ).all()
    return [(sex, age, value, period) for sex, age, value, period in rows]


def deprivation_rows(
    session: Session, indicator_id: str, area_code: str, breakdown: Breakdown
) -> list[Any]:
    """An area's figures by deprivation group (any category type mentioning
    deprivation) in one series: (category type, category, value, lower 95, upper 95,
    denominator, period, sortable period)."""
    return list(
        session.execute(
            select(
                m.Observation.category_type,
                m.Observation.category,
                m.Observation.value,
                m.Observation.lower_ci95,
                m.Observation.upper_ci95,
                m.Observation.denominator,
                m.Observation.period,
                m.Observation.time_period_sortable,
            ).where(
                m.Observation.indicator_id == indicator_id,
                m.Observation.area_code == area_code,
                m.Observation.sex == breakdown.sex,
                m.Observation.age == breakdown.age,
                func.lower(m.Observation.category_type).like("%depriv%"),
            )
        ).all()
    )
