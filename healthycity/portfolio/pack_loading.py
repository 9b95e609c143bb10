"""Bring the city pack's programmes, portfolio lines and devolution register into the
workspace, inside the pack loader's transaction.

Loading is idempotent, and it respects the workspace: each pack-owned record keeps a
digest of the pack entry last applied to it. When the pack's entry is unchanged, the
record is left alone — so a programme's SRO corrected in the workspace stays corrected
when `make run` reloads the pack. When the pack's entry changes, the pack's values are
applied (and the audit trail shows the before and after). Workspace-only records —
spend, milestones, risks, confidence assessments, pledges — are never touched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.audit import SYSTEM_PACK_LOADER, acting_as
from healthycity.core.sync import Sync, count_rows
from healthycity.portfolio.models import (
    FUND_CATEGORIES,
    PORTFOLIO_LINE_KIND,
    PROGRAMME_KIND,
    BudgetBaseline,
    DevolutionAgreement,
    DevolutionArea,
    FundAllocation,
    Pilot,
    Programme,
    ProgressUpdate,
    Stakeholder,
    TransformationFund,
)
from healthycity.portfolio.service import budget_total, financial_year_of

if TYPE_CHECKING:
    from healthycity.packs.schema import Lead, Pack, PersonRef
    from healthycity.packs.schema import Programme as PackProgramme


def digest(entry: Any) -> str:
    """A stable digest of a pack entry (a frozen pydantic model)."""
    payload = orjson.dumps(entry.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(payload).hexdigest()


def _latest_source_month(pack: Pack, sources: Iterable[str]) -> date | None:
    """The month of the latest dated source an entry cites: when its figures were true.

    A budget belongs to that month's financial year; a programme's progress notes are
    that month's progress report (seed 004: July 2015, so 2015/16 and 2015-07).
    """
    dated = {s.id: s.date for s in pack.pack.sources if s.date}
    months = []
    for source in sources:
        text = dated.get(source)
        if text:
            parts = [int(p) for p in text.split("-")]
            months.append(date(parts[0], parts[1] if len(parts) > 1 else 4, 1))
    return max(months) if months else None


def _people(people: Iterable[PersonRef]) -> list[str]:
    return [p.name if not p.note else f"{p.name} ({p.note})" for p in people]


def _stakeholders(entry: PackProgramme) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"role": "sro", "group_code": None, "people": [entry.ccg_lead_sro], "status": "named"}
    ]
    rows += [
        {"role": "sro", "group_code": None, "people": [name], "status": "named"}
        for name in entry.other_sros
    ]
    rows += [
        {"role": "hlp_lead", "group_code": None, "people": [person], "status": "named"}
        for person in _people(entry.hlp_leads)
    ]
    rows += [_lead("spg_lead", lead.group, lead) for lead in entry.spg_leads]
    rows += [_lead("ccg_lead", lead.area, lead) for lead in entry.ccg_leads]
    return rows


def _lead(role: str, group: str | None, lead: Lead) -> dict[str, Any]:
    return {
        "role": role,
        "group_code": group,
        "people": _people(lead.people),
        "status": lead.status,
        "note": lead.note,
    }


def _apply_children(
    session: Session,
    programme: Programme,
    budget: Decimal,
    as_of: date | None,
    stakeholders: list[dict[str, Any]],
    progress: Iterable[str],
) -> None:
    budget_year = financial_year_of(as_of) if as_of else None
    if budget_year:
        baseline = next((b for b in programme.baselines if b.financial_year == budget_year), None)
        if baseline is None:
            programme.baselines.append(
                BudgetBaseline(
                    programme_slug=programme.slug, financial_year=budget_year, amount=budget
                )
            )
        elif baseline.amount != budget:
            baseline.amount = budget
    for row in list(programme.stakeholders):
        programme.stakeholders.remove(row)
    session.flush()
    for position, values in enumerate(stakeholders):
        programme.stakeholders.append(
            Stakeholder(programme_slug=programme.slug, position=position, **values)
        )
    if as_of is None:
        return
    period = as_of.isoformat()[:7]
    for update in [u for u in programme.updates if u.period == period and u.kind == "progress"]:
        programme.updates.remove(update)
    for position, text in enumerate(progress):
        programme.updates.append(
            ProgressUpdate(
                programme_slug=programme.slug,
                period=period,
                kind="progress",
                body=text,
                position=position,
            )
        )


def _upsert_programme(
    session: Session, sync: Sync, pack_id: str, entry_digest: str, values: dict[str, Any]
) -> tuple[Programme, bool]:
    slug = values.pop("slug")
    existing = session.get(Programme, slug)
    if existing is not None and existing.pack_digest == entry_digest:
        sync.unchanged += 1
        return existing, False
    programme = sync.upsert(
        Programme, {"slug": slug}, {**values, "pack_id": pack_id, "pack_digest": entry_digest}
    )
    session.flush()
    return programme, True


def load_portfolio(session: Session, pack: Pack, sync: Sync | None = None) -> None:
    """Programmes, portfolio lines and the devolution register from ``pack`` (idempotent)."""
    sync = sync or Sync(session)
    with acting_as(session, SYSTEM_PACK_LOADER):
        themes = {t.slug: t.name for t in pack.portfolio.themes}
        for entry in pack.portfolio.programmes:
            programme, changed = _upsert_programme(
                session,
                sync,
                pack.id,
                digest(entry),
                {
                    "slug": entry.slug,
                    "kind": PROGRAMME_KIND,
                    "number": entry.number,
                    "name": entry.name,
                    "title": entry.title,
                    "theme": themes.get(entry.theme, entry.theme),
                    "vision": entry.vision,
                    "description": entry.notes,
                    "sro": entry.ccg_lead_sro,
                    "whole_life_budget": entry.budget,
                    "budget_note": entry.budget_note,
                    "challenges": list(entry.challenges),
                    "focus_areas": [f.text for f in entry.focus_areas],
                    "local_actions": list(entry.local_actions),
                    "collaborative_actions": list(entry.collaborative_actions),
                    "aspirations": list(entry.aspirations),
                    "objectives": list(entry.objectives),
                },
            )
            if changed:
                _apply_children(
                    session,
                    programme,
                    entry.budget,
                    _latest_source_month(pack, entry.sources),
                    _stakeholders(entry),
                    entry.progress_2015,
                )
        for line in pack.portfolio.portfolio_lines:
            programme, changed = _upsert_programme(
                session,
                sync,
                pack.id,
                digest(line),
                {
                    "slug": line.slug,
                    "kind": PORTFOLIO_LINE_KIND,
                    "number": line.number,
                    "name": line.name,
                    "description": line.description,
                    "sro": line.sro,
                    "whole_life_budget": line.budget,
                },
            )
            if changed:
                _apply_children(
                    session,
                    programme,
                    line.budget,
                    _latest_source_month(pack, line.sources),
                    [{"role": "sro", "group_code": None, "people": [line.sro], "status": "named"}],
                    (),
                )
        _load_devolution(session, sync, pack)
        session.flush()


def _load_agreement(sync: Sync, pack: Pack) -> None:
    """The agreement the register counts its pledges against (54 in London's MoU)."""
    mou = pack.devolution.mou
    if mou is None:
        return
    signed = date.fromisoformat(mou.signed) if mou.signed and len(mou.signed) == 10 else None
    sync.upsert(
        DevolutionAgreement,
        {"slug": "mou"},
        {
            "name": mou.name,
            "signed": signed,
            "pledges": mou.pledges,
            "summary": mou.summary,
            "pack_id": pack.id,
        },
    )


def _load_devolution(session: Session, sync: Sync, pack: Pack) -> None:
    devolution = pack.devolution
    _load_agreement(sync, pack)
    for area in devolution.areas:
        entry_digest = digest(area)
        existing = session.get(DevolutionArea, area.slug)
        if existing is not None and existing.pack_digest == entry_digest:
            sync.unchanged += 1
            continue
        sync.upsert(
            DevolutionArea,
            {"slug": area.slug},
            {
                "number": area.number,
                "name": area.name,
                "pack_id": pack.id,
                "pack_digest": entry_digest,
            },
        )
    for pilot in devolution.pilots:
        entry_digest = digest(pilot)
        existing_pilot = session.get(Pilot, pilot.slug)
        if existing_pilot is not None and existing_pilot.pack_digest == entry_digest:
            sync.unchanged += 1
            continue
        sync.upsert(
            Pilot,
            {"slug": pilot.slug},
            {
                "number": pilot.number,
                "name": pilot.name,
                "theme": pilot.theme,
                "description": pilot.description,
                "areas": list(pilot.areas),
                "partners": list(pilot.partners),
                "status": pilot.status,
                "milestones": [
                    {"title": m.title, "date": m.date, "met": m.met} for m in pilot.milestones
                ],
                "pack_id": pack.id,
                "pack_digest": entry_digest,
            },
        )
    fund = devolution.transformation_fund
    if fund is None:
        return
    period = _fund_period(fund.period)
    entry_digest = digest(fund)
    existing_fund = session.get(TransformationFund, period)
    if existing_fund is not None and existing_fund.pack_digest == entry_digest:
        sync.unchanged += 1
        return
    row = sync.upsert(
        TransformationFund,
        {"period": period},
        {"total": fund.total, "note": fund.note, "pack_id": pack.id, "pack_digest": entry_digest},
    )
    session.flush()
    names = dict(FUND_CATEGORIES) | {c.slug: c.name for c in fund.categories}
    amounts = {c.slug: c.amount for c in fund.categories}
    existing_rows = {a.category: a for a in row.allocations}
    for position, slug in enumerate(dict.fromkeys([*(s for s, _ in FUND_CATEGORIES), *amounts])):
        allocation = existing_rows.get(slug)
        if allocation is None:
            row.allocations.append(
                FundAllocation(
                    category=slug, name=names[slug], amount=amounts.get(slug), position=position
                )
            )
        else:
            allocation.name = names[slug]
            allocation.amount = amounts.get(slug)


def _fund_period(period: str) -> str:
    """Pack periods may be written 2018/19 or 2018-2019; the register uses 2018/19."""
    text = period.strip().replace("-", "/")
    start, _, end = text.partition("/")
    if start.isdigit() and end.isdigit():
        return f"{start}/{int(end) % 100:02d}"
    return text[:7]


def pack_counts(session: Session) -> dict[str, int]:
    """What the database holds of the pack's programmes and devolution register."""

    def programmes(kind: str) -> int:
        return count_rows(session, select(Programme.slug).where(Programme.kind == kind))

    return {
        "programmes": programmes(PROGRAMME_KIND),
        "portfolio_lines": programmes(PORTFOLIO_LINE_KIND),
        "devolution_areas": count_rows(session, select(DevolutionArea.slug)),
        "pilots": count_rows(session, select(Pilot.slug)),
    }


def pack_totals(session: Session) -> dict[str, str]:
    """The programme budget total as ``pack show`` prints it (pounds, two decimals)."""
    return {"programme_budget_total": f"{budget_total(session):.2f}"}
