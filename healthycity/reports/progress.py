"""The partnership's progress report for a month or a quarter, shaped like the July 2015
Healthy London Partnership report (seed 004): an introduction, highlights, recent and
upcoming events, each programme's progress, the budgets with spend to date, and the
leads. HTML first; the PDF is the same HTML printed by WeasyPrint, tagged for access.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.money import pounds
from healthycity.portfolio import service
from healthycity.portfolio.models import (
    STAKEHOLDER_ROLE_LABELS,
    ConfidenceAssessment,
    Milestone,
    Programme,
    ProgressUpdate,
    Stakeholder,
)

TEMPLATES = Path(__file__).parent / "templates"


class PeriodError(ValueError):
    """The period is not a month (2015-07) or a quarter (2015-Q3)."""


@dataclass(frozen=True)
class Period:
    """A reporting month or calendar quarter."""

    start: date
    end: date  # the first day of the last month
    label: str
    key: str

    @property
    def months(self) -> list[str]:
        out = []
        year, month = self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            out.append(f"{year}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    @property
    def last_day(self) -> date:
        return date(
            self.end.year, self.end.month, calendar.monthrange(self.end.year, self.end.month)[1]
        )


def parse_period(text: str) -> Period:
    text = text.strip()
    month = re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", text)
    if month:
        start = date(int(month.group(1)), int(month.group(2)), 1)
        return Period(start, start, f"{calendar.month_name[start.month]} {start.year}", text)
    quarter = re.fullmatch(r"(\d{4})-Q([1-4])", text, flags=re.IGNORECASE)
    if quarter:
        year, q = int(quarter.group(1)), int(quarter.group(2))
        start, end = date(year, 3 * q - 2, 1), date(year, 3 * q, 1)
        label = f"{calendar.month_name[start.month]} to {calendar.month_name[end.month]} {year}"
        return Period(start, end, label, f"{year}-Q{q}")
    raise PeriodError(f"{text!r} is not a month like 2015-07 or a quarter like 2015-Q3")


@dataclass(frozen=True)
class BudgetRow:
    name: str
    sro: str | None
    budget: Decimal
    budget_note: str | None
    baseline: Decimal | None
    spend_to_date: Decimal
    outturn: Decimal
    variance_pct: Decimal | None
    flagged: bool
    explanation: str | None = None
    variance: Decimal | None = None


@dataclass
class ProgrammeSection:
    name: str
    sro: str | None
    lead: str | None
    confidence: str | None
    progress: list[str]
    milestones: list[Milestone]
    commentary: str | None = None
    assessed_on: date | None = None


@dataclass
class LeadTable:
    caption: str
    groups: list[str]
    rows: list[tuple[str, list[str]]]


@dataclass
class ProgressReport:
    period: Period
    financial_year: str
    introduction: list[ProgressUpdate] = field(default_factory=list)
    highlights: list[ProgressUpdate] = field(default_factory=list)
    events: list[ProgressUpdate] = field(default_factory=list)
    programmes: list[ProgrammeSection] = field(default_factory=list)
    budgets: list[BudgetRow] = field(default_factory=list)
    budget_total: Decimal = Decimal("0.00")
    spend_total: Decimal = Decimal("0.00")
    baseline_total: Decimal = Decimal("0.00")
    outturn_total: Decimal = Decimal("0.00")
    leads: list[LeadTable] = field(default_factory=list)
    partnership: str = "the partnership"


def _lead_text(rows: list[Stakeholder]) -> str:
    parts = []
    for row in rows:
        if row.people:
            parts.append(", ".join(row.people))
        elif row.status == "tbc":
            parts.append("To be confirmed")
        elif row.status == "not_applicable":
            parts.append("Not applicable")
        if row.note and not row.people:
            parts.append(row.note)
    return "; ".join(parts) or "–"


def _lead_tables(programmes: list[Programme], area_names: dict[str, str]) -> list[LeadTable]:
    tables = []
    for role, caption in (
        ("hlp_lead", "Partnership programme leads"),
        ("spg_lead", "Sub-regional (SPG) leads"),
        ("ccg_lead", "CCG leads"),
    ):
        groups: list[str] = []
        for p in programmes:
            for s in p.stakeholders:
                if s.role == role and (s.group_code or "") not in groups:
                    groups.append(s.group_code or "")
        if not groups:
            continue
        rows = []
        for p in programmes:
            cells = []
            for group in groups:
                matching = [
                    s for s in p.stakeholders if s.role == role and (s.group_code or "") == group
                ]
                cells.append(_lead_text(matching) if matching else "")
            if any(cells):
                rows.append((p.name, cells))
        labels = [area_names.get(g, g) or "Lead" for g in groups]
        tables += _split(LeadTable(caption, labels, rows))
    return tables


LEAD_COLUMNS = 6  # columns of leads that fit across an A4 page


def _split(table: LeadTable) -> list[LeadTable]:
    """A table of more groups than fit a printed page, as several tables of a few each."""
    count = len(table.groups)
    if count <= LEAD_COLUMNS:
        return [table]
    parts = range(0, count, LEAD_COLUMNS)
    out = []
    for n, start in enumerate(parts, start=1):
        end = start + LEAD_COLUMNS
        rows = [(name, cells[start:end]) for name, cells in table.rows if any(cells[start:end])]
        caption = f"{table.caption} ({n} of {len(parts)})"
        out.append(LeadTable(caption, table.groups[start:end], rows))
    return out


def _area_names(session: Session) -> dict[str, str]:
    try:
        from healthycity.geography.models import Area
    except ImportError:  # pragma: no cover - geography is part of the core install
        return {}
    return {a.code: a.name for a in session.scalars(select(Area))}


def build(session: Session, period: Period, partnership: str | None = None) -> ProgressReport:
    """Gather the report for ``period`` from the workspace's records."""
    financial_year = service.financial_year_of(period.end)
    report = ProgressReport(period=period, financial_year=financial_year)
    if partnership is None:
        from healthycity.core.models import LoadedPack

        pack = session.scalars(select(LoadedPack)).first()
        partnership = pack.name if pack else None
    if partnership:
        report.partnership = partnership
    updates = list(
        session.scalars(
            select(ProgressUpdate)
            .where(ProgressUpdate.period.in_(period.months))
            .order_by(ProgressUpdate.period, ProgressUpdate.position, ProgressUpdate.id)
        )
    )
    report.introduction = [u for u in updates if u.kind == "introduction"]
    report.highlights = [u for u in updates if u.kind == "highlight"]
    report.events = sorted(
        (u for u in updates if u.kind == "event"),
        key=lambda u: (u.event_date or date.max, u.position),
    )
    programmes = service.programmes(session)
    by_programme: dict[str | None, list[str]] = {}
    for update in updates:
        if update.kind == "progress":
            by_programme.setdefault(update.programme_slug, []).append(update.body)
    for programme in programmes:
        if programme.is_portfolio_line:
            continue
        latest = session.scalars(
            select(ConfidenceAssessment)
            .where(
                ConfidenceAssessment.programme_slug == programme.slug,
                ConfidenceAssessment.assessed_on <= period.last_day,
            )
            .order_by(ConfidenceAssessment.assessed_on.desc(), ConfidenceAssessment.id.desc())
        ).first()
        hlp = [s for s in programme.stakeholders if s.role == "hlp_lead"]
        report.programmes.append(
            ProgrammeSection(
                name=programme.name,
                sro=programme.sro,
                lead=_lead_text(hlp) if hlp else None,
                confidence=latest.rating if latest else None,
                commentary=latest.commentary if latest else None,
                assessed_on=latest.assessed_on if latest else None,
                progress=by_programme.get(programme.slug, []),
                milestones=[
                    m
                    for m in programme.milestones
                    if m.actual_date is None or m.actual_date >= period.start
                ][:6],
            )
        )
    for programme in programmes:
        finance = service.year_finance(programme, financial_year)
        report.budgets.append(
            BudgetRow(
                name=programme.name,
                sro=programme.sro,
                budget=programme.whole_life_budget,
                budget_note=programme.budget_note,
                baseline=finance.baseline,
                spend_to_date=service.spend_to(programme, period.end),
                outturn=finance.outturn,
                variance_pct=finance.variance_pct,
                flagged=finance.flagged,
                explanation=finance.explanation,
                variance=finance.variance,
            )
        )
    report.budget_total = sum((b.budget for b in report.budgets), Decimal("0.00"))
    report.spend_total = sum((b.spend_to_date for b in report.budgets), Decimal("0.00"))
    report.baseline_total = sum((b.baseline or Decimal(0) for b in report.budgets), Decimal("0.00"))
    report.outturn_total = sum((b.outturn for b in report.budgets), Decimal("0.00"))
    report.leads = _lead_tables(
        [p for p in programmes if not p.is_portfolio_line], _area_names(session)
    )
    return report


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["pounds"] = pounds
    return env


def render_html(report: ProgressReport) -> str:
    """The report as one self-contained, accessible HTML page (styles inline)."""
    # The stylesheet is the project's own file, so it goes in unescaped (quotes intact).
    css = Markup((TEMPLATES / "report.css").read_text())  # noqa: S704
    return (
        _environment()
        .get_template("progress.html")
        .render(report=report, css=css, role_labels=STAKEHOLDER_ROLE_LABELS)
    )


def render_pdf(html: str) -> bytes:
    """The same HTML as a tagged PDF (PDF/UA-1 where WeasyPrint supports it)."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    document = HTML(string=html, base_url=str(TEMPLATES))
    try:
        pdf: Any = document.write_pdf(pdf_variant="pdf/ua-1")
    except (ValueError, TypeError):  # an older WeasyPrint without PDF/UA: still tagged
        pdf = document.write_pdf(pdf_tags=True)
    return bytes(pdf)
