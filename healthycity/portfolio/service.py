"""Portfolio operations: money that reconciles, variance as GMPP reports it, and edits.

No I/O beyond the session given. Callers own the transaction: when a rule refuses a
change (`Invalid`), the caller rolls back, so nothing half-done is ever committed — the
spend row that would have broken the variance rule included.

Money rules, all in exact Decimal pounds:
- A year's forecast outturn is the actual for every month that has one, plus the
  forecast for every month that does not, plus — for months with neither — the baseline
  pro rata ("assumed at plan"), so an unforecast month neither hides nor invents a
  variance.
- Variance is outturn minus baseline; it is flagged when it is more than 5% of the
  baseline either way (as the Government Major Projects Portfolio does), and a flagged
  year needs a written explanation.
- The whole-life view does the same against the programme's whole-life budget.
- A fund's category allocations add up to its total, or are all still blank.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.errors import Invalid, NotFound
from healthycity.core.money import pounds
from healthycity.core.sync import count_rows
from healthycity.portfolio import schemas
from healthycity.portfolio.funds import check_fund_covers_grants
from healthycity.portfolio.models import (
    FUND_CATEGORIES,
    PORTFOLIO_LINE_KIND,
    BudgetBaseline,
    ConfidenceAssessment,
    DevolutionArea,
    FundAllocation,
    Milestone,
    MonthlySpend,
    Pilot,
    Pledge,
    Programme,
    ProgrammeIndicator,
    ProgressUpdate,
    Risk,
    Stakeholder,
    TransformationFund,
)

ZERO = Decimal("0.00")
VARIANCE_THRESHOLD = Decimal("5")
T = TypeVar("T")


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# ------------------------------------------------------------------- financial years


def financial_year_of(day: date) -> str:
    """The UK financial year (April to March) containing ``day``: "2015/16"."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def is_financial_year(text: str) -> bool:
    """Is ``text`` a financial year written like 2015/16?"""
    if not re.fullmatch(r"\d{4}/\d{2}", text):
        return False
    return (int(text[:4]) + 1) % 100 == int(text[5:])


def financial_year_months(financial_year: str) -> list[date]:
    start = int(financial_year.split("/")[0])
    return [date(start + (m >= 13), (m - 1) % 12 + 1, 1) for m in range(4, 16)]


def variance_pct(outturn: Decimal, baseline: Decimal) -> Decimal | None:
    """Variance as a percentage of the baseline, to 0.1%; None when the baseline is zero."""
    if baseline == 0:
        return None
    return ((outturn - baseline) * 100 / baseline).quantize(Decimal("0.1"), ROUND_HALF_UP)


def is_flagged(outturn: Decimal, baseline: Decimal) -> bool:
    """More than 5% off the baseline either way (any spend at all against a zero one)."""
    if baseline == 0:
        return outturn != 0
    return abs(outturn - baseline) * 100 > VARIANCE_THRESHOLD * abs(baseline)


@dataclass(frozen=True)
class MonthFigures:
    month: date
    actual: Decimal | None
    forecast: Decimal | None

    @property
    def counted(self) -> Decimal:
        """What the month adds to the outturn: its actual if known, else its forecast."""
        if self.actual is not None:
            return self.actual
        return self.forecast if self.forecast is not None else ZERO


@dataclass(frozen=True)
class YearFinance:
    """One programme's financial year as GMPP reports it."""

    financial_year: str
    baseline: Decimal | None
    actual_to_date: Decimal
    forecast_remaining: Decimal
    assumed_remaining: Decimal
    months: tuple[MonthFigures, ...]
    explanation: str | None

    @property
    def outturn(self) -> Decimal:
        return self.actual_to_date + self.forecast_remaining + self.assumed_remaining

    @property
    def variance(self) -> Decimal | None:
        return None if self.baseline is None else self.outturn - self.baseline

    @property
    def variance_pct(self) -> Decimal | None:
        return None if self.baseline is None else variance_pct(self.outturn, self.baseline)

    @property
    def flagged(self) -> bool:
        return self.baseline is not None and is_flagged(self.outturn, self.baseline)

    @property
    def needs_explanation(self) -> bool:
        return self.flagged and not (self.explanation or "").strip()


@dataclass(frozen=True)
class WholeLife:
    budget: Decimal
    actual_to_date: Decimal
    forecast: Decimal

    @property
    def variance(self) -> Decimal:
        return self.forecast - self.budget

    @property
    def variance_pct(self) -> Decimal | None:
        return variance_pct(self.forecast, self.budget)

    @property
    def flagged(self) -> bool:
        return is_flagged(self.forecast, self.budget) if self.forecast or self.budget else False


def _months(rows: Iterable[MonthlySpend]) -> list[MonthFigures]:
    return [MonthFigures(r.month, r.actual, r.forecast) for r in rows]


def year_finance(programme: Programme, financial_year: str) -> YearFinance:
    months = financial_year_months(financial_year)
    recorded = {r.month: r for r in programme.spend if r.month in months}
    figures = tuple(
        MonthFigures(m, recorded[m].actual, recorded[m].forecast)
        if m in recorded
        else MonthFigures(m, None, None)
        for m in months
    )
    baseline = next((b for b in programme.baselines if b.financial_year == financial_year), None)
    actual = sum((f.actual for f in figures if f.actual is not None), ZERO)
    remaining = sum(
        (f.forecast for f in figures if f.actual is None and f.forecast is not None), ZERO
    )
    empty = sum(1 for f in figures if f.actual is None and f.forecast is None)
    assumed = money(baseline.amount * empty / 12) if baseline else ZERO
    return YearFinance(
        financial_year=financial_year,
        baseline=baseline.amount if baseline else None,
        actual_to_date=actual,
        forecast_remaining=remaining,
        assumed_remaining=assumed,
        months=figures,
        explanation=baseline.variance_explanation if baseline else None,
    )


def whole_life(programme: Programme) -> WholeLife:
    """Spend and forecast over the programme's life against its whole-life budget: the
    sum of each financial year's outturn (with its months assumed at plan)."""
    figures = _months(programme.spend)
    actual = sum((f.actual for f in figures if f.actual is not None), ZERO)
    forecast = sum((year_finance(programme, fy).outturn for fy in financial_years(programme)), ZERO)
    return WholeLife(budget=programme.whole_life_budget, actual_to_date=actual, forecast=forecast)


def financial_years(programme: Programme) -> list[str]:
    years = {b.financial_year for b in programme.baselines}
    years |= {financial_year_of(r.month) for r in programme.spend}
    return sorted(years)


def spend_to(programme: Programme, last_month: date) -> Decimal:
    """Actual spend recorded for months up to and including ``last_month``."""
    return sum(
        (r.actual for r in programme.spend if r.actual is not None and r.month <= last_month),
        ZERO,
    )


# ----------------------------------------------------------------------------- reading


def programmes(session: Session, *, include_lines: bool = True) -> list[Programme]:
    query = select(Programme).order_by(Programme.kind, Programme.number, Programme.name)
    rows = list(session.scalars(query))
    if not include_lines:
        rows = [p for p in rows if p.kind != PORTFOLIO_LINE_KIND]
    # Programmes first, then the portfolio lines, as the seed's budget table has them.
    return sorted(rows, key=lambda p: (p.kind == PORTFOLIO_LINE_KIND, p.number, p.name))


def get_programme(session: Session, slug: str) -> Programme:
    programme = session.get(Programme, slug)
    if programme is None:
        raise NotFound(f"no programme {slug!r}")
    return programme


def default_year(session: Session) -> str:
    """The financial year to show: the latest with a baseline, else today's."""
    years = sorted(set(session.scalars(select(BudgetBaseline.financial_year))))
    return years[-1] if years else financial_year_of(date.today())


def register_counts(session: Session) -> dict[str, int]:
    """How many programmes, devolution areas and pledges the register holds."""
    return {
        "programmes": count_rows(session, select(Programme.slug)),
        "areas": count_rows(session, select(DevolutionArea.slug)),
        "pledges": count_rows(session, select(Pledge.id)),
    }


def budget_total(session: Session) -> Decimal:
    return sum((p.whole_life_budget for p in programmes(session)), ZERO)


def latest_confidence(programme: Programme) -> ConfidenceAssessment | None:
    return programme.confidence[-1] if programme.confidence else None


# ------------------------------------------------------------------------------ editing


def _assign(row: Any, data: BaseModel, fields: Iterable[str]) -> None:
    values = data.model_dump()
    for name in fields:
        setattr(row, name, values[name])


def _require_programme(session: Session, slug: str) -> Programme:
    try:
        return get_programme(session, slug)
    except NotFound:
        raise Invalid({"programme_slug": f"there is no programme {slug!r}"}) from None


PROGRAMME_FIELDS = (
    "kind",
    "number",
    "name",
    "title",
    "theme",
    "vision",
    "description",
    "sro",
    "whole_life_budget",
    "budget_note",
    "start_date",
    "end_date",
    "aspirations",
)


def create_programme(session: Session, data: schemas.ProgrammeIn) -> Programme:
    if session.get(Programme, data.slug) is not None:
        raise Invalid({"slug": f"a programme {data.slug!r} exists already"})
    programme = Programme(slug=data.slug)
    _assign(programme, data, PROGRAMME_FIELDS)
    session.add(programme)
    _set_indicators(programme, data.indicators)
    session.flush()
    return programme


def update_programme(session: Session, programme: Programme, data: schemas.ProgrammeIn) -> None:
    if data.slug != programme.slug:
        raise Invalid({"slug": "a programme's identifier cannot be changed"})
    _assign(programme, data, PROGRAMME_FIELDS)
    _set_indicators(programme, data.indicators)
    session.flush()


def _set_indicators(programme: Programme, indicator_ids: Iterable[str]) -> None:
    wanted = [i.strip() for i in indicator_ids if i.strip()]
    for link in list(programme.indicators):
        if link.indicator_id not in wanted:
            programme.indicators.remove(link)
    have = {link.indicator_id for link in programme.indicators}
    for indicator_id in dict.fromkeys(wanted):
        if indicator_id not in have:
            programme.indicators.append(ProgrammeIndicator(indicator_id=indicator_id[:32]))


def programme_input(programme: Programme) -> dict[str, Any]:
    return {
        "slug": programme.slug,
        **{name: getattr(programme, name) for name in PROGRAMME_FIELDS},
        "indicators": [link.indicator_id for link in programme.indicators],
    }


def set_baseline(session: Session, data: schemas.BudgetIn) -> BudgetBaseline:
    programme = _require_programme(session, data.programme_slug)
    if any(b.financial_year == data.financial_year for b in programme.baselines):
        raise Invalid(
            {"financial_year": f"{programme.name} has a {data.financial_year} baseline already"}
        )
    row = BudgetBaseline(programme_slug=programme.slug)
    _assign(row, data, ("financial_year", "amount", "variance_explanation"))
    programme.baselines.append(row)
    session.flush()
    _check_variance(programme, data.financial_year)
    return row


def update_baseline(session: Session, row: BudgetBaseline, data: schemas.BudgetIn) -> None:
    _assign(row, data, ("amount", "variance_explanation"))
    session.flush()
    _check_variance(_require_programme(session, row.programme_slug), row.financial_year)


def _check_variance(programme: Programme, financial_year: str) -> None:
    finance = year_finance(programme, financial_year)
    if finance.needs_explanation:
        raise Invalid(
            {
                "explanation": (
                    f"The {financial_year} forecast outturn of {pounds(finance.outturn)} is "
                    f"{finance.variance_pct}% off its baseline of {pounds(finance.baseline)}: "
                    "explain the variance"
                )
            }
        )


def record_spend(session: Session, data: schemas.SpendIn) -> MonthlySpend:
    """Record a month's actual and forecast (replacing what that month held).

    Refused when it leaves the year's forecast more than 5% off its baseline and no
    explanation is given or already on file.
    """
    programme = _require_programme(session, data.programme_slug)
    row = next((r for r in programme.spend if r.month == data.month), None)
    if row is None:
        row = MonthlySpend(programme_slug=programme.slug, month=data.month)
        programme.spend.append(row)
    _apply_spend(session, programme, row, data)
    return row


def update_spend(session: Session, row: MonthlySpend, data: schemas.SpendIn) -> None:
    if data.month != row.month:
        raise Invalid({"month": "move spend by recording the other month instead"})
    _apply_spend(session, _require_programme(session, row.programme_slug), row, data)


def _apply_spend(
    session: Session, programme: Programme, row: MonthlySpend, data: schemas.SpendIn
) -> None:
    row.actual = data.actual
    row.forecast = data.forecast
    row.note = data.note
    financial_year = financial_year_of(data.month)
    baseline = next((b for b in programme.baselines if b.financial_year == financial_year), None)
    if data.explanation and baseline is not None:
        baseline.variance_explanation = data.explanation
    session.flush()
    _check_variance(programme, financial_year)


def spend_input(row: MonthlySpend) -> dict[str, Any]:
    return {
        "programme_slug": row.programme_slug,
        "month": row.month,
        "actual": row.actual,
        "forecast": row.forecast,
        "note": row.note,
    }


def _child_create(session: Session, model: type[T], data: BaseModel, fields: Iterable[str]) -> T:
    _require_programme(session, data.programme_slug)  # type: ignore[attr-defined]
    row = model(programme_slug=data.programme_slug)  # type: ignore[attr-defined,call-arg]
    _assign(row, data, fields)
    session.add(row)
    session.flush()
    return row


MILESTONE_FIELDS = (
    "kind",
    "title",
    "baseline_date",
    "forecast_date",
    "actual_date",
    "notes",
    "status",
    "owner",
)
CONFIDENCE_FIELDS = ("assessed_on", "rating", "assessor", "commentary")
RISK_FIELDS = ("title", "description", "likelihood", "impact", "owner", "mitigation", "status")
STAKEHOLDER_FIELDS = ("role", "group_code", "people", "status", "note", "contact", "position")
PROGRESS_FIELDS = ("programme_slug", "period", "kind", "title", "body", "event_date", "position")


def add_milestone(session: Session, data: schemas.MilestoneIn) -> Milestone:
    return _child_create(session, Milestone, data, MILESTONE_FIELDS)


def add_confidence(session: Session, data: schemas.ConfidenceIn) -> ConfidenceAssessment:
    return _child_create(session, ConfidenceAssessment, data, CONFIDENCE_FIELDS)


def add_risk(session: Session, data: schemas.RiskIn) -> Risk:
    return _child_create(session, Risk, data, RISK_FIELDS)


def add_stakeholder(session: Session, data: schemas.StakeholderIn) -> Stakeholder:
    return _child_create(session, Stakeholder, data, STAKEHOLDER_FIELDS)


def add_progress(session: Session, data: schemas.ProgressIn) -> ProgressUpdate:
    if data.programme_slug:
        _require_programme(session, data.programme_slug)
    row = ProgressUpdate()
    _assign(row, data, PROGRESS_FIELDS)
    session.add(row)
    session.flush()
    return row


def update_fields(session: Session, row: Any, data: BaseModel, fields: Iterable[str]) -> None:
    _assign(row, data, fields)
    session.flush()


def fields_input(row: Any, fields: Iterable[str], *extra: str) -> dict[str, Any]:
    return {name: getattr(row, name) for name in (*extra, *fields)}


# ---------------------------------------------------------------- devolution register

AREA_FIELDS = ("number", "name", "description")
PLEDGE_FIELDS = ("area_slug", "number", "text", "owner", "status", "evidence", "due_date")
PILOT_FIELDS = ("number", "name", "theme", "description", "areas", "partners", "status")


def create_area(session: Session, data: schemas.DevolutionAreaIn) -> DevolutionArea:
    if session.get(DevolutionArea, data.slug) is not None:
        raise Invalid({"slug": f"an area {data.slug!r} exists already"})
    row = DevolutionArea(slug=data.slug)
    _assign(row, data, AREA_FIELDS)
    session.add(row)
    session.flush()
    return row


def create_pledge(session: Session, data: schemas.PledgeIn) -> Pledge:
    if session.get(DevolutionArea, data.area_slug) is None:
        raise Invalid({"area_slug": f"there is no devolution area {data.area_slug!r}"})
    row = Pledge()
    _assign(row, data, PLEDGE_FIELDS)
    session.add(row)
    session.flush()
    return row


def update_pledge(session: Session, row: Pledge, data: schemas.PledgeIn) -> None:
    if session.get(DevolutionArea, data.area_slug) is None:
        raise Invalid({"area_slug": f"there is no devolution area {data.area_slug!r}"})
    update_fields(session, row, data, PLEDGE_FIELDS)


def create_pilot(session: Session, data: schemas.PilotIn) -> Pilot:
    if session.get(Pilot, data.slug) is not None:
        raise Invalid({"slug": f"a pilot {data.slug!r} exists already"})
    row = Pilot(slug=data.slug)
    _assign(row, data, PILOT_FIELDS)
    session.add(row)
    session.flush()
    return row


def reconcile(total: Decimal, allocations: Mapping[str, Decimal | None]) -> None:
    """Refuse a split that does not add up to the total (all blank means "not split yet")."""
    amounts = [allocations.get(slug) for slug, _ in FUND_CATEGORIES]
    if all(a is None for a in amounts):
        return
    if any(a is None for a in amounts):
        raise Invalid(
            {
                "allocations": "give an amount for every category (0 where there is none), "
                "or leave them all blank"
            }
        )
    allocated = sum((a for a in amounts if a is not None), ZERO)
    if allocated != total:
        # Name the category that would take up the difference (the last, "Unallocated").
        slug, name = FUND_CATEGORIES[-1]
        difference = total - allocated
        needed = (allocations.get(slug) or ZERO) + difference
        raise Invalid(
            {
                "allocations": f"the categories add up to {pounds(allocated)} but the year's "
                f"total is {pounds(total)}; they must be equal: {pounds(abs(difference))} "
                f"{'short' if difference > 0 else 'over'} ({name} would be {pounds(needed)})",
                f"allocations.{slug}": f"{name}: {pounds(abs(difference))} "
                f"{'short of' if difference > 0 else 'over'} the year's total",
            }
        )


def fund_allocations(fund: TransformationFund) -> dict[str, Decimal | None]:
    return {a.category: a.amount for a in fund.allocations}


def _apply_fund(fund: TransformationFund, data: schemas.FundIn) -> None:
    reconcile(data.total, data.allocations)
    fund.total = data.total
    fund.note = data.note
    existing = {a.category: a for a in fund.allocations}
    for position, (slug, name) in enumerate(FUND_CATEGORIES):
        row = existing.get(slug)
        if row is None:
            row = FundAllocation(category=slug, name=name, position=position)
            fund.allocations.append(row)
        row.amount = data.allocations.get(slug)


def create_fund(session: Session, data: schemas.FundIn) -> TransformationFund:
    if session.get(TransformationFund, data.period) is not None:
        raise Invalid({"period": f"there is a fund for {data.period} already"})
    fund = TransformationFund(period=data.period, total=data.total)
    session.add(fund)
    _apply_fund(fund, data)
    session.flush()
    return fund


def update_fund(session: Session, fund: TransformationFund, data: schemas.FundIn) -> None:
    if data.period != fund.period:
        raise Invalid({"period": "a fund's year cannot be changed"})
    _apply_fund(fund, data)
    # The new total and split must still hold every grant already made from them.
    check_fund_covers_grants(fund)
    session.flush()


def fund_input(fund: TransformationFund) -> dict[str, Any]:
    return {
        "period": fund.period,
        "total": fund.total,
        "note": fund.note,
        "allocations": fund_allocations(fund),
    }


def fund_reconciles(fund: TransformationFund) -> bool:
    try:
        reconcile(fund.total, fund_allocations(fund))
    except Invalid:
        return False
    return True
