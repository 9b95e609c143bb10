"""Properties: money always reconciles and no sequence of edits loses an audit record.

Each example works on its own fresh records (a new slug or fund year) in committed
transactions, so the engine fixture can be shared by all of a test's examples.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine

from healthycity.core.audit import AuditRecord, snapshot
from healthycity.core.db import transaction
from healthycity.portfolio import schemas, service
from healthycity.portfolio.models import Programme, TransformationFund
from tests.workspace.helpers import unit

PROPERTY = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_counter = itertools.count()
pennies = st.integers(min_value=0, max_value=50_000_000).map(lambda p: Decimal(p) / 100)
months = st.sampled_from(service.financial_year_months("2015/16"))
spend_edit = st.tuples(
    months,
    st.none() | pennies,
    st.none() | pennies,
    st.booleans(),
).filter(lambda e: e[1] is not None or e[2] is not None)


def _slug(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


@PROPERTY
@given(baseline=pennies, edits=st.lists(spend_edit, min_size=1, max_size=6))
def test_budgets_and_spend_always_reconcile(
    engine: Engine, baseline: Decimal, edits: list[tuple[date, Any, Any, bool]]
) -> None:
    slug = _slug("p")
    with unit(engine) as session:
        service.create_programme(
            session, schemas.ProgrammeIn(slug=slug, name=slug, whole_life_budget=baseline)
        )
        service.set_baseline(
            session,
            schemas.BudgetIn(programme_slug=slug, financial_year="2015/16", amount=baseline),
        )
    for month, actual, forecast, explain in edits:
        data = schemas.SpendIn(
            programme_slug=slug,
            month=month,
            actual=actual,
            forecast=forecast,
            explanation="Explained." if explain else None,
        )
        try:
            with unit(engine) as session:
                service.record_spend(session, data)
        except service.Invalid as refused:
            assert "explanation" in refused.errors and not explain
        with transaction(engine) as session:
            programme = service.get_programme(session, slug)
            finance = service.year_finance(programme, "2015/16")
            rows = {r.month: r for r in programme.spend}
            actuals = sum((r.actual for r in rows.values() if r.actual is not None), Decimal(0))
            forecasts = sum(
                (r.forecast for r in rows.values() if r.actual is None and r.forecast is not None),
                Decimal(0),
            )
            empty = 12 - len(rows)
            assumed = service.money(baseline * empty / 12)
            assert finance.actual_to_date == actuals
            assert finance.outturn == actuals + forecasts + assumed
            assert finance.variance == finance.outturn - baseline
            assert finance.flagged == (abs(finance.outturn - baseline) * 100 > 5 * baseline) or (
                baseline == 0 and finance.outturn != 0
            )
            # A refused edit leaves nothing behind: no stored year is ever unexplained.
            assert not finance.needs_explanation
            assert service.whole_life(programme).forecast == finance.outturn


split = st.lists(pennies, min_size=3, max_size=3)


@PROPERTY
@given(
    amounts=split,
    perturb=st.sampled_from(["exact", "off-by-a-penny", "one-blank", "all-blank"]),
)
def test_fund_allocations_always_reconcile(
    engine: Engine, amounts: list[Decimal], perturb: str
) -> None:
    period = f"{2100 + next(_counter) % 800}/{(2101 + next(_counter) % 800) % 100:02d}"
    start = int(period[:4])
    period = f"{start}/{(start + 1) % 100:02d}"
    total = sum(amounts, Decimal(0))
    categories = [slug for slug, _ in service.FUND_CATEGORIES]
    allocations: dict[str, Decimal | None] = dict(zip(categories, amounts, strict=True))
    if perturb == "off-by-a-penny":
        allocations["unallocated"] = amounts[2] + Decimal("0.01")
    elif perturb == "one-blank":
        allocations["purpose-defined"] = None
    elif perturb == "all-blank":
        allocations = dict.fromkeys(categories)
    data = schemas.FundIn(period=period, total=total, allocations=allocations)
    accepted = True
    try:
        with unit(engine) as session:
            if session.get(TransformationFund, period) is None:
                service.create_fund(session, data)
            else:
                service.update_fund(session, session.get(TransformationFund, period), data)  # type: ignore[arg-type]
    except service.Invalid:
        accepted = False
    assert accepted == (perturb in ("exact", "all-blank"))
    with transaction(engine) as session:
        fund = session.get(TransformationFund, period)
        if fund is not None:
            assert service.fund_reconciles(fund)
            stored = [a.amount for a in fund.allocations]
            assert (
                all(a is None for a in stored)
                or sum((a for a in stored if a is not None), Decimal(0)) == fund.total
            )


edit = st.one_of(
    st.tuples(st.just("rename"), st.sampled_from(["Alpha", "Beta", "Gamma"])),
    st.tuples(st.just("budget"), pennies),
    st.tuples(st.just("spend"), months, pennies),
    st.tuples(st.just("clear-spend")),
    st.tuples(st.just("delete")),
)


@PROPERTY
@given(edits=st.lists(edit, min_size=1, max_size=8))
def test_no_sequence_of_edits_loses_an_audit_record(
    engine: Engine, edits: list[tuple[Any, ...]]
) -> None:
    slug = _slug("a")
    expected_for_programme = 0
    exists = False
    for operation in [("create",), *edits]:
        with unit(engine) as session:
            programme = session.get(Programme, slug)
            kind = operation[0]
            if kind == "create" or (programme is None and kind != "delete"):
                if programme is None:
                    service.create_programme(session, schemas.ProgrammeIn(slug=slug, name="Alpha"))
                    expected_for_programme += 1
                    exists = True
                continue
            if programme is None:
                continue
            if kind == "rename" and programme.name != operation[1]:
                programme.name = operation[1]
                expected_for_programme += 1
            elif kind == "budget" and programme.whole_life_budget != operation[1]:
                programme.whole_life_budget = operation[1]
                expected_for_programme += 1
            elif kind == "spend":
                service.record_spend(
                    session,
                    schemas.SpendIn(programme_slug=slug, month=operation[1], actual=operation[2]),
                )
            elif kind == "clear-spend":
                programme.spend.clear()
            elif kind == "delete":
                session.delete(programme)
                expected_for_programme += 1
                exists = False
    with transaction(engine) as session:
        own = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.record_type == "programme", AuditRecord.record_id == slug)
            .order_by(AuditRecord.id)
        ).all()
        assert len(own) == expected_for_programme
        # Replaying the trail gives today's records: the last "after" of every record
        # equals its current state, and a deleted record's last entry is its deletion.
        trail = session.scalars(
            select(AuditRecord)
            .where(
                (AuditRecord.record_id == slug)
                | ((AuditRecord.parent_type == "programme") & (AuditRecord.parent_id == slug))
            )
            .order_by(AuditRecord.id)
        ).all()
        last: dict[tuple[str, str], AuditRecord] = {}
        for record in trail:
            last[(record.record_type, record.record_id)] = record
        programme = session.get(Programme, slug)
        assert (programme is not None) == exists
        current: dict[tuple[str, str], dict[str, Any]] = {}
        if programme is not None:
            current[("programme", slug)] = snapshot(programme)
            for row in programme.spend:
                current[("spend", str(row.id))] = snapshot(row)
        for key, record in last.items():
            if key in current:
                assert record.after == current[key], key
            else:
                assert record.action == "delete" and record.after is None, key
        assert set(current) <= set(last)


@PROPERTY
@given(budgets=st.lists(pennies, min_size=1, max_size=4))
def test_portfolio_totals_reconcile_in_every_view(engine: Engine, budgets: list[Decimal]) -> None:
    """The report's budget table, the GMPP export and the service agree to the penny."""
    from healthycity.portfolio import exporting
    from healthycity.reports import progress

    prefix = _slug("t")
    with unit(engine) as session:
        before = service.budget_total(session)
        for i, budget in enumerate(budgets):
            slug = f"{prefix}-{i}"
            service.create_programme(
                session, schemas.ProgrammeIn(slug=slug, name=slug, whole_life_budget=budget)
            )
            service.set_baseline(
                session,
                schemas.BudgetIn(programme_slug=slug, financial_year="2015/16", amount=budget),
            )
    with transaction(engine) as session:
        assert service.budget_total(session) == before + sum(budgets, Decimal(0))
        report = progress.build(session, progress.parse_period("2015-07"), "Test")
        assert report.budget_total == service.budget_total(session)
        rows = exporting.gmpp_rows(session, "2015/16", "Test")
        baseline = exporting.GMPP_COLUMNS.index("Baseline (£)")
        ours = [r for r in rows if str(r[0]).startswith(prefix)]
        assert sum((r[baseline] for r in ours), Decimal(0)) == sum(budgets, Decimal(0))
