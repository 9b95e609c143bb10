"""What a validated pack holds: entity counts and the budget total, for ``pack show``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

from healthycity.packs.schema import Pack


def _count(items: Sequence[object] | Iterator[object]) -> int:
    return len(list(items))


def pack_counts(pack: Pack) -> dict[str, int]:
    """How many of each entity the pack holds, for ``pack show`` and load checks."""
    organisations = pack.organisations.organisations
    forums = pack.organisations.forums
    assurance = pack.assurance
    fund = pack.devolution.transformation_fund
    return {
        "local_authorities": len(pack.local_authorities),
        "sub_regions": len(pack.geography.sub_regions),
        "planning_groups": len(pack.geography.planning_groups),
        "organisations": len(organisations),
        "ccgs": _count(o for o in organisations if o.kind == "ccg"),
        "councils": _count(o for o in organisations if o.kind == "council"),
        "parties": _count(o for o in organisations if o.party_to_agreement),
        "forums": _count(f for f in forums if f.kind == "decision_making"),
        "supporting_groups": _count(f for f in forums if f.kind == "supporting"),
        "partnerships": len(pack.organisations.partnerships),
        "aspirations": len(pack.aspirations.aspirations),
        "ambitions": sum(len(a.ambitions) for a in pack.aspirations.aspirations),
        "shared_objectives": len(pack.aspirations.shared_objectives),
        "life_stages": len(pack.vision.life_stages),
        "vision_priorities": len(pack.vision.priorities),
        "commitments": len(pack.vision.commitments()),
        "guiding_principles": len(pack.vision.principles),
        "themes": len(pack.portfolio.themes),
        "programmes": len(pack.portfolio.programmes),
        "portfolio_lines": len(pack.portfolio.portfolio_lines),
        "devolution_areas": len(pack.devolution.areas),
        "pilots": len(pack.devolution.pilots),
        "fund_categories": len(fund.categories) if fund else 0,
        "critical_tasks": len(pack.devolution.critical_tasks),
        "assurances": len(assurance.mayor_assurances),
        "nhs_tests": len(assurance.nhs_tests),
        "bed_test_conditions": len(assurance.bed_test.conditions) if assurance.bed_test else 0,
        "indicators": len(pack.indicators.indicators),
        "targets": sum(len(i.targets) for i in pack.indicators.indicators),
    }


def programme_budget_total(pack: Pack) -> Decimal:
    """The programme budgets plus the portfolio lines, in pounds to the penny."""
    total = sum((p.budget for p in pack.portfolio.programmes), Decimal(0))
    total += sum((line.budget for line in pack.portfolio.portfolio_lines), Decimal(0))
    return total.quantize(Decimal("0.01"))


def pack_summary(pack: Pack) -> dict[str, object]:
    """The shape ``healthycity pack show --json`` prints (scripts rely on it)."""
    return {
        "pack": pack.pack.id,
        "counts": pack_counts(pack),
        "programme_budget_total": str(programme_budget_total(pack)),
    }
