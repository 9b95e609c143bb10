"""Portfolio rules: GMPP variance with its explanation, whole-life view, funds that add up."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core.audit import AuditRecord
from healthycity.core.db import transaction
from healthycity.portfolio import schemas, service
from healthycity.portfolio.models import MonthlySpend
from tests.workspace.helpers import unit


def _programme(engine: Engine, slug: str = "alpha", baseline: str = "1200.00") -> None:
    with unit(engine) as session:
        service.create_programme(
            session,
            schemas.ProgrammeIn(slug=slug, name=slug.title(), whole_life_budget="2400"),
        )
        service.set_baseline(
            session,
            schemas.BudgetIn(programme_slug=slug, financial_year="2015/16", amount=baseline),
        )


def _spend(slug: str, month: str, **values: str) -> schemas.SpendIn:
    return schemas.SpendIn.model_validate({"programme_slug": slug, "month": month, **values})


def test_financial_years_run_april_to_march() -> None:
    assert service.financial_year_of(date(2015, 4, 1)) == "2015/16"
    assert service.financial_year_of(date(2016, 3, 31)) == "2015/16"
    assert service.financial_year_of(date(1999, 12, 1)) == "1999/00"
    months = service.financial_year_months("2015/16")
    assert months[0] == date(2015, 4, 1) and months[-1] == date(2016, 3, 1) and len(months) == 12


@pytest.mark.parametrize(
    ("outturn", "baseline", "flagged"),
    [
        ("105.00", "100.00", False),
        ("105.01", "100.00", True),
        ("94.99", "100.00", True),
        ("95.00", "100.00", False),
        ("0.00", "0.00", False),
        ("0.01", "0.00", True),
    ],
)
def test_variance_is_flagged_over_five_percent(outturn: str, baseline: str, flagged: bool) -> None:
    assert service.is_flagged(Decimal(outturn), Decimal(baseline)) is flagged


def test_a_flagged_year_needs_an_explanation_and_nothing_is_written_without_one(
    engine: Engine,
) -> None:
    _programme(engine)
    with unit(engine) as session:
        for m in range(4, 10):
            service.record_spend(session, _spend("alpha", f"2015-{m:02d}", actual="100"))
        for m in range(10, 13):
            service.record_spend(session, _spend("alpha", f"2015-{m:02d}", forecast="100"))
    before = _audit_count(engine)
    with pytest.raises(service.Invalid) as refused, unit(engine) as session:
        service.record_spend(session, _spend("alpha", "2016-01", forecast="400"))
    assert "explain the variance" in refused.value.errors["explanation"]
    assert _audit_count(engine) == before
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(MonthlySpend)) == 9
    with unit(engine) as session:
        service.record_spend(
            session,
            _spend("alpha", "2016-01", forecast="400", explanation="Clinical leads hired early"),
        )
    with transaction(engine) as session:
        finance = service.year_finance(service.get_programme(session, "alpha"), "2015/16")
        assert finance.actual_to_date == Decimal("600.00")
        assert finance.forecast_remaining == Decimal("700.00")
        assert finance.assumed_remaining == Decimal("200.00")  # Feb and Mar at plan
        assert finance.outturn == Decimal("1500.00") and finance.variance == Decimal("300.00")
        assert finance.variance_pct == Decimal("25.0") and finance.flagged
        assert finance.explanation == "Clinical leads hired early"
        whole = service.whole_life(service.get_programme(session, "alpha"))
        assert whole.forecast == Decimal("1500.00") and whole.variance == Decimal("-900.00")
        assert whole.flagged


def test_an_actual_replaces_the_forecast_for_its_month(engine: Engine) -> None:
    _programme(engine, baseline="1200")
    with unit(engine) as session:
        for m in (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3):
            service.record_spend(
                session, _spend("alpha", f"{2015 + (m < 4)}-{m:02d}", forecast="100")
            )
        service.record_spend(session, _spend("alpha", "2015-04", actual="101", forecast="100"))
    with transaction(engine) as session:
        finance = service.year_finance(service.get_programme(session, "alpha"), "2015/16")
        assert finance.outturn == Decimal("1201.00") and not finance.flagged
        assert service.spend_to(service.get_programme(session, "alpha"), date(2015, 7, 1)) == (
            Decimal("101.00")
        )


def test_money_is_exact_and_never_negative() -> None:
    assert schemas.SpendIn(programme_slug="a", month="2015-07", actual="£1,234.5").actual == (
        Decimal("1234.50")
    )
    for bad in ("-1", "1.234", "abc", "1e5"):
        with pytest.raises(ValidationError):
            schemas.SpendIn(programme_slug="a", month="2015-07", actual=bad)
    with pytest.raises(ValidationError, match="actual spend, the forecast, or both"):
        schemas.SpendIn(programme_slug="a", month="2015-07")
    with pytest.raises(ValidationError, match="financial year"):
        schemas.BudgetIn(programme_slug="a", financial_year="2015/17", amount="1")


def test_fund_allocations_must_add_up_to_the_total(engine: Engine) -> None:
    with unit(engine) as session:
        service.create_fund(session, schemas.FundIn(period="2018/19", total="114000000"))
    split = {"contracts-issued": "50000000", "purpose-defined": "40000000"}
    with pytest.raises(service.Invalid, match="every category"), unit(engine) as session:
        fund = session.get(service.TransformationFund, "2018/19")
        service.update_fund(
            session, fund, schemas.FundIn(period="2018/19", total="114000000", allocations=split)
        )
    with pytest.raises(service.Invalid, match="add up to £113,000,000"), unit(engine) as session:
        fund = session.get(service.TransformationFund, "2018/19")
        data = schemas.FundIn(
            period="2018/19",
            total="114000000",
            allocations=split | {"unallocated": "23000000"},
        )
        service.update_fund(session, fund, data)
    with unit(engine) as session:
        fund = session.get(service.TransformationFund, "2018/19")
        data = schemas.FundIn(
            period="2018/19",
            total="114000000",
            allocations=split | {"unallocated": "24000000"},
        )
        service.update_fund(session, fund, data)
    with transaction(engine) as session:
        fund = session.get(service.TransformationFund, "2018/19")
        assert fund is not None and service.fund_reconciles(fund)
        assert sum(a.amount or 0 for a in fund.allocations) == Decimal("114000000.00")


def test_milestones_risks_and_confidence_history(engine: Engine) -> None:
    _programme(engine)
    with unit(engine) as session:
        service.add_milestone(
            session,
            schemas.MilestoneIn(
                programme_slug="alpha",
                title="Network specification published",
                baseline_date="2015-07-01",
                forecast_date="2015-07-15",
            ),
        )
        service.add_risk(
            session,
            schemas.RiskIn(programme_slug="alpha", title="Recruitment", likelihood=3, impact=4),
        )
        for rating, day in (("Amber", "2015-06-30"), ("Amber/Green", "2015-07-31")):
            service.add_confidence(
                session,
                schemas.ConfidenceIn(
                    programme_slug="alpha",
                    assessed_on=day,
                    rating=rating,
                    assessor="Portfolio office",
                    commentary="Mobilising to plan.",
                ),
            )
    with pytest.raises(ValidationError):
        schemas.ConfidenceIn(
            programme_slug="alpha",
            assessed_on="2015-07-31",
            rating="Purple",
            assessor="x",
            commentary="y",
        )
    with pytest.raises(service.Invalid, match="no programme"), unit(engine) as session:
        service.add_risk(
            session, schemas.RiskIn(programme_slug="nope", title="x", likelihood=1, impact=1)
        )
    with transaction(engine) as session:
        alpha = service.get_programme(session, "alpha")
        assert [c.rating for c in alpha.confidence] == ["Amber", "Amber/Green"]
        assert service.latest_confidence(alpha).rating == "Amber/Green"  # type: ignore[union-attr]
        assert alpha.risks[0].score == 12
        parents = session.scalars(
            select(AuditRecord.parent_id).where(AuditRecord.record_type == "confidence")
        ).all()
        assert parents == ["alpha", "alpha"]


def _audit_count(engine: Engine) -> int:
    with transaction(engine) as session:
        return int(session.scalar(select(func.count()).select_from(AuditRecord)) or 0)
