"""The pack's service-change tests: the Mayor's assurances, the NHS tests, the bed test.

These are reference data, owned by the pack: loading upserts them (idempotently) and
prunes tests the pack no longer names, unless a proposal's verdict still refers to one.
Each test may carry a rule the assurance service enforces; the rule is read from the
pack (``refers_to_bed_test``) or, for investment and inequality, from the test's slug.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.assurance.models import MAYOR, NHS, AssuranceTest, BedTestCondition, Verdict
from healthycity.core.sync import Sync, count_rows

if TYPE_CHECKING:
    from healthycity.packs.schema import Pack, ServiceTest

BED_TEST_RULE = "bed_test"
INVESTMENT_RULE = "investment"
INEQUALITY_RULE = "inequality"
# Tests whose rule is known by their pack slug (the London pack's, documented in
# docs/workspace.md so another city's pack can use the same slugs).
RULES_BY_SLUG = {
    "sufficient-investment": INVESTMENT_RULE,
    "health-inequality": INEQUALITY_RULE,
}


def _rule(test: ServiceTest) -> str | None:
    if test.refers_to_bed_test:
        return BED_TEST_RULE
    return RULES_BY_SLUG.get(test.slug)


def load_assurance(session: Session, pack: Pack, sync: Sync | None = None) -> None:
    """The tests and bed-test conditions from ``pack`` (idempotent)."""
    sync = sync or Sync(session)
    wanted: list[str] = []
    frameworks = ((MAYOR, pack.assurance.mayor_assurances), (NHS, pack.assurance.nhs_tests))
    for framework, tests in frameworks:
        for test in tests:
            wanted.append(test.slug)
            sync.upsert(
                AssuranceTest,
                {"slug": test.slug},
                {
                    "framework": framework,
                    "number": test.number,
                    "name": test.name,
                    "detail": test.detail,
                    "rule": _rule(test),
                    "pack_id": pack.id,
                },
            )
    conditions = pack.assurance.bed_test.conditions if pack.assurance.bed_test else ()
    for condition in conditions:
        sync.upsert(
            BedTestCondition,
            {"slug": condition.slug},
            {
                "number": condition.number,
                "name": condition.name,
                "detail": condition.detail,
                "pack_id": pack.id,
            },
        )
    session.flush()
    in_use = set(session.scalars(select(Verdict.test_slug).distinct()))
    sync.prune(AssuranceTest, set(wanted) | in_use, "slug")
    session.flush()


def pack_counts(session: Session) -> dict[str, int]:
    """What the database holds of the pack's assurance tests and bed-test conditions."""
    tests = select(AssuranceTest.slug)
    return {
        "assurances": count_rows(session, tests.where(AssuranceTest.framework == MAYOR)),
        "nhs_tests": count_rows(session, tests.where(AssuranceTest.framework != MAYOR)),
        "bed_test_conditions": count_rows(session, select(BedTestCondition.slug)),
    }
