"""The London pack in the workspace: budgets to the penny, leads, devolution, the tests."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.assurance.models import AssuranceTest, BedTestCondition
from healthycity.core.audit import AuditRecord
from healthycity.core.db import transaction
from healthycity.portfolio import schemas, service
from healthycity.portfolio.models import (
    DevolutionArea,
    Pilot,
    Programme,
    ProgressUpdate,
    TransformationFund,
)
from tests.workspace.helpers import load_london, unit

SEED_004_BUDGETS = {
    "Urgent & Emergency Care": "1135076",
    "Children and Young People": "667268",
    "Mental Health": "1148443",
    "Cancer": "2073270",
    "Prevention": "702394",
    "Primary Care": "2682984",
    "Estates": "472381",
    "Workforce": "191745",
    "Portfolio (Support costs)": "865163",
    "Portfolio (Non pay on costs)": "1350000",
}


def _audit_count(engine: Engine) -> int:
    with transaction(engine) as session:
        return int(session.scalar(select(func.count()).select_from(AuditRecord)) or 0)


def test_the_london_portfolio_loads_with_its_seed_budgets(engine: Engine) -> None:
    load_london(engine)
    with transaction(engine) as session:
        rows = service.programmes(session)
        assert len([p for p in rows if not p.is_portfolio_line]) == 13
        assert len([p for p in rows if p.is_portfolio_line]) == 2
        assert service.budget_total(session) == Decimal("15525236.00")
        by_name = {p.name: p for p in rows}
        for name, budget in SEED_004_BUDGETS.items():
            matches = [p for n, p in by_name.items() if n.lower().startswith(name.lower()[:12])]
            assert matches, name
            assert matches[0].whole_life_budget == Decimal(budget), name
        cancer = session.get(Programme, "cancer")
        assert cancer is not None and cancer.sro == "Paul Haigh"
        assert [b.financial_year for b in cancer.baselines] == ["2015/16"]
        assert cancer.baselines[0].amount == Decimal("2073270.00")
        roles = {s.role for s in cancer.stakeholders}
        assert roles == {"sro", "hlp_lead", "spg_lead", "ccg_lead"}
        assert any("Teresa Moss" in p for s in cancer.stakeholders for p in s.people)
        progress = session.scalars(
            select(ProgressUpdate).where(ProgressUpdate.period == "2015-07")
        ).all()
        assert len({u.programme_slug for u in progress}) >= 13
        assert session.scalar(select(func.count()).select_from(DevolutionArea)) == 7
        assert session.scalar(select(func.count()).select_from(Pilot)) == 5
        fund = session.get(TransformationFund, "2018/19")
        assert fund is not None and fund.total == Decimal("114000000.00")
        assert [a.amount for a in fund.allocations] == [None, None, None]
        assert service.fund_reconciles(fund)
        tests = session.scalars(select(AssuranceTest)).all()
        assert sorted(t.framework for t in tests).count("mayor") == 6
        assert sorted(t.framework for t in tests).count("nhs") == 4
        rules = {t.slug: t.rule for t in tests if t.rule}
        assert rules == {
            "hospital-capacity": "bed_test",
            "sufficient-investment": "investment",
            "health-inequality": "inequality",
        }
        assert session.scalar(select(func.count()).select_from(BedTestCondition)) == 3


def test_loading_twice_changes_nothing_and_keeps_workspace_edits(engine: Engine) -> None:
    load_london(engine)
    first = _audit_count(engine)
    assert first > 0  # the load itself is in the trail, attributed to the pack loader
    load_london(engine)
    assert _audit_count(engine) == first
    with unit(engine) as session:
        cancer = service.get_programme(session, "cancer")
        data = service.programme_input(cancer) | {"sro": "A. N. Other"}
        service.update_programme(session, cancer, schemas.ProgrammeIn.model_validate(data))
    load_london(engine)
    with transaction(engine) as session:
        assert service.get_programme(session, "cancer").sro == "A. N. Other"
        loader = session.scalars(
            select(AuditRecord.actor).where(AuditRecord.id <= first).distinct()
        ).all()
        assert loader == ["system: pack loader"]
