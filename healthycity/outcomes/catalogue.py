"""The city pack's outcomes side, into the database: indicators, links, targets, and the
aspirations, ambitions, life stages, priorities and commitments they hang from.

``load_catalogue`` is called by the pack loader inside its transaction. It upserts:
loading the same pack twice changes nothing, and the counts say what changed. The pack
is the source of truth for what it defines; a Fingertips indicator the pack adopts
becomes a pack indicator (its data stay). Rows a previous pack defined and this one no
longer does are removed, except an indicator that still has data, which is kept
(without its links and targets) so no observation is lost.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from healthycity.core.sync import Sync, count_rows
from healthycity.outcomes import models as m

if TYPE_CHECKING:
    from healthycity.packs.schema import Indicator as PackIndicator
    from healthycity.packs.schema import Pack
    from healthycity.packs.schema import Target as PackTarget


# What a catalogue load did: created/updated/unchanged/deleted, and rows held per table.
CatalogueCounts = Sync


def _number(value: Decimal | int | None) -> float | None:
    return None if value is None else float(value)


def period_end(period: str | None) -> date | None:
    """The last day a target period covers: "2020" → 2020-12-31, "2018/19" → 2019-03-31,
    "2016 - 18" → 2018-12-31, "2023-03" (a month, ISO) → 2023-03-31.

    Fingertips writes financial and academic years as "2018/19"; both are taken to end
    on 31 March, the financial year-end, which is when the data are reported.
    """
    if not period:
        return None
    text = period.strip()
    match = re.fullmatch(r"(\d{4})\s*/\s*(\d{2}|\d{4})", text)
    if match:
        start = int(match.group(1))
        return date(start + 1, 3, 31)
    match = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", text)
    if match and (match.group(2) is None or 1 <= int(match.group(2)) <= 12):
        year = int(match.group(1))
        if match.group(3):
            return date(year, int(match.group(2)), int(match.group(3)))
        if match.group(2):
            month = int(match.group(2))
            next_month = date(year + month // 12, month % 12 + 1, 1)
            return date.fromordinal(next_month.toordinal() - 1)
        return date(year, 12, 31)
    # A range of years, as Fingertips writes them: "2016 - 18", "2016-2018".
    match = re.fullmatch(r"(\d{4})\s*-\s*(\d{2}|\d{4})", text)
    if match:
        end = match.group(2)
        year = int(end) if len(end) == 4 else int(match.group(1)[:2] + end)
        return date(year, 12, 31)
    return None


def load_catalogue(session: Session, pack: Pack, sync: Sync | None = None) -> CatalogueCounts:
    """Upsert the pack's aspirations, vision and indicator catalogue; return the counts.

    Pass the pack loader's ``sync`` so its totals include the catalogue.
    """
    sync = sync or Sync(session)
    counts = sync
    pack_id = pack.pack.id

    # Aspirations and their ambitions.
    for aspiration in pack.aspirations.aspirations:
        sync.upsert(
            m.Aspiration,
            aspiration.slug,
            {
                "slug": aspiration.slug,
                "number": aspiration.number,
                "title": aspiration.title,
                "sources": list(aspiration.sources),
                "pack_id": pack_id,
            },
        )
    session.flush()
    for aspiration in pack.aspirations.aspirations:
        existing = {
            a.slug: a
            for a in session.scalars(
                select(m.Ambition).where(m.Ambition.aspiration_slug == aspiration.slug)
            )
        }
        wanted = set()
        for order, ambition in enumerate(aspiration.ambitions):
            wanted.add(ambition.slug)
            values = {
                "aspiration_slug": aspiration.slug,
                "slug": ambition.slug,
                "statement": ambition.statement,
                "sort_order": order,
            }
            if ambition.slug in existing:
                sync.apply(existing[ambition.slug], values)
            else:
                session.add(m.Ambition(**values))
                counts.created += 1
        for slug, row in existing.items():
            if slug not in wanted:
                session.delete(row)
                counts.deleted += 1

    # The vision: life stages, priorities, commitments.
    vision = pack.vision
    for order, stage in enumerate(vision.life_stages):
        sync.upsert(
            m.LifeStage,
            stage.slug,
            {
                "slug": stage.slug,
                "name": stage.name,
                "summary": stage.summary,
                "sort_order": order,
                "pack_id": pack_id,
            },
        )
    session.flush()
    for priority in vision.priorities:
        sync.upsert(
            m.VisionPriority,
            priority.slug,
            {
                "slug": priority.slug,
                "number": priority.number,
                "name": priority.name,
                "life_stage_slug": priority.life_stage,
                "pack_id": pack_id,
            },
        )
    session.flush()
    for priority in vision.priorities:
        for order, commitment in enumerate(priority.commitments):
            sync.upsert(
                m.Commitment,
                commitment.slug,
                {
                    "slug": commitment.slug,
                    "priority_slug": priority.slug,
                    "statement": commitment.statement,
                    "target_placeholder": commitment.target_placeholder,
                    "sort_order": priority.number * 100 + order,
                    "pack_id": pack_id,
                },
            )
    session.flush()

    # Indicators, their links and targets.
    wanted_ids = set()
    for order, indicator in enumerate(pack.indicators.indicators):
        wanted_ids.add(indicator.id)
        _load_indicator(session, sync, indicator, order, pack_id)
    session.flush()
    _retire_indicators(session, counts, wanted_ids)

    sync.remove_missing(
        m.Commitment,
        m.Commitment.slug,
        {c.slug for p in vision.priorities for c in p.commitments},
    )
    sync.remove_missing(
        m.VisionPriority, m.VisionPriority.slug, {p.slug for p in vision.priorities}
    )
    sync.remove_missing(m.LifeStage, m.LifeStage.slug, {s.slug for s in vision.life_stages})
    sync.remove_missing(
        m.Aspiration, m.Aspiration.slug, {a.slug for a in pack.aspirations.aspirations}
    )
    session.flush()

    for name, model in (
        ("indicators", m.Indicator),
        ("indicator_links", m.IndicatorLink),
        ("targets", m.Target),
        ("aspirations", m.Aspiration),
        ("ambitions", m.Ambition),
        ("life_stages", m.LifeStage),
        ("vision_priorities", m.VisionPriority),
        ("commitments", m.Commitment),
    ):
        counts.tables[name] = int(
            session.execute(select(func.count()).select_from(model)).scalar_one()
        )
    return counts


def indicator_values(indicator: PackIndicator, order: int, pack_id: str) -> dict[str, Any]:
    """The Indicator columns a pack indicator defines."""
    demo = indicator.demo
    return {
        "id": indicator.id,
        "name": indicator.name,
        "definition": indicator.definition,
        "rationale": indicator.rationale,
        "methodology": indicator.methodology,
        "unit": indicator.unit,
        "value_type": indicator.value_type,
        "multiplier": float(indicator.multiplier),
        "polarity": indicator.polarity,
        "decimals": demo.decimals if demo else None,
        "fingertips_id": str(indicator.fingertips_id) if indicator.fingertips_id else None,
        "numerator_definition": indicator.numerator.definition if indicator.numerator else None,
        "numerator_source": indicator.numerator.source if indicator.numerator else None,
        "denominator_definition": (
            indicator.denominator.definition if indicator.denominator else None
        ),
        "denominator_source": indicator.denominator.source if indicator.denominator else None,
        "standard_population": indicator.standard_population,
        "disclosure_control": indicator.disclosure_control,
        "caveats": "\n\n".join(indicator.caveats) or None,
        "frequency": indicator.frequency,
        "last_updated": indicator.last_updated,
        "area_levels": list(indicator.area_levels),
        "sexes": list(indicator.sexes),
        "age": indicator.age,
        "demo_hint": (
            {
                "city": float(demo.city),
                "country_low": _number(demo.country_low),
                "country_high": _number(demo.country_high),
                "decimals": demo.decimals,
            }
            if demo
            else None
        ),
        "source": m.SOURCE_PACK,
        "pack_id": pack_id,
        "sort_order": order,
    }


def target_values(indicator_id: str, target: PackTarget) -> dict[str, Any]:
    if target.aspiration is not None:
        kind, slug = m.LINK_ASPIRATION, target.aspiration
    else:
        kind, slug = m.LINK_COMMITMENT, target.commitment or ""
    return {
        "indicator_id": indicator_id,
        "link_kind": kind,
        "link_slug": slug,
        "ambition_slug": target.ambition or "",
        "statement": target.statement,
        "kind": target.kind,
        "direction": target.direction,
        "value": _number(target.value),
        "unit": target.unit,
        "benchmark": target.benchmark,
        "baseline_period": target.baseline_period,
        "target_period": target.target_period,
        "target_date": period_end(target.target_period),
        "status": target.status,
        "source": target.source,
    }


def _load_indicator(
    session: Session, sync: Sync, indicator: PackIndicator, order: int, pack_id: str
) -> None:
    counts = sync
    row = sync.upsert(m.Indicator, indicator.id, indicator_values(indicator, order, pack_id))
    session.flush()

    wanted_links = {(m.LINK_ASPIRATION, s) for s in indicator.aspirations}
    wanted_links |= {(m.LINK_COMMITMENT, s) for s in indicator.commitments}
    for link in list(row.links):
        if (link.kind, link.slug) not in wanted_links:
            row.links.remove(link)
            counts.deleted += 1
    have = {(link.kind, link.slug) for link in row.links}
    for kind, slug in sorted(wanted_links - have):
        row.links.append(m.IndicatorLink(kind=kind, slug=slug))
        counts.created += 1

    existing = {(t.link_kind, t.link_slug, t.ambition_slug): t for t in row.targets}
    wanted = set()
    for target in indicator.targets:
        values = target_values(indicator.id, target)
        key = (values["link_kind"], values["link_slug"], values["ambition_slug"])
        wanted.add(key)
        if key in existing:
            sync.apply(existing[key], values)
        else:
            row.targets.append(m.Target(**values))
            counts.created += 1
    for key, target_row in existing.items():
        if key not in wanted:
            row.targets.remove(target_row)
            counts.deleted += 1


def _retire_indicators(session: Session, counts: CatalogueCounts, keep: set[str]) -> None:
    """Pack indicators the pack dropped: delete, or keep as data-only if they have data."""
    stale = session.scalars(
        select(m.Indicator).where(m.Indicator.source == m.SOURCE_PACK, m.Indicator.id.not_in(keep))
    ).all()
    for indicator in stale:
        has_data = session.execute(
            select(exists().where(m.Observation.indicator_id == indicator.id))
        ).scalar_one()
        if has_data:
            session.execute(
                delete(m.IndicatorLink).where(m.IndicatorLink.indicator_id == indicator.id)
            )
            session.execute(delete(m.Target).where(m.Target.indicator_id == indicator.id))
            session.expire(indicator, ["links", "targets"])
            indicator.source = m.SOURCE_FINGERTIPS if indicator.fingertips_id else m.SOURCE_CSV
            indicator.pack_id = None
            counts.updated += 1
        else:
            session.delete(indicator)
            counts.deleted += 1


def pack_counts(session: Session) -> dict[str, int]:
    """What the database holds of the pack's aspirations, vision and catalogue."""
    return {
        "aspirations": count_rows(session, select(m.Aspiration.slug)),
        "vision_priorities": count_rows(session, select(m.VisionPriority.slug)),
        "commitments": count_rows(session, select(m.Commitment.slug)),
        "indicators": count_rows(session, select(m.Indicator.id)),
    }
