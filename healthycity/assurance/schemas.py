"""Inputs for proposals and assessments, validated at the edge (forms, API, imports)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BeforeValidator, Field, StringConstraints, model_validator

from healthycity.core.inputs import (
    MAX_MONEY,
    AreaCode,
    Input,
    Money,
    Name,
    OptionalProse,
    Prose,
    Title,
    blank_to_none,
    text_list,
)


def _signed_money(value: object) -> object:
    """Pounds that may be negative (a saving to councils): "-25000", "£1,200.50"."""
    value = blank_to_none(value)
    if value is None:
        return Decimal("0.00")
    text = str(value).strip().replace(",", "").replace("£", "")
    if not re.fullmatch(r"-?\d{1,12}(\.\d{1,2})?", text):
        raise ValueError("enter an amount in pounds, like 250000 or -25000 for a saving")
    return Decimal(text).quantize(Decimal("0.01"))


SignedMoney = Annotated[Decimal, BeforeValidator(_signed_money), Field(ge=-MAX_MONEY, le=MAX_MONEY)]
Beds = Annotated[int, Field(ge=0, le=100000)]
Boroughs = Annotated[list[AreaCode], BeforeValidator(text_list), Field(min_length=1)]
ConditionSlug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=100)
]


class ProposalIn(Input):
    """A service-change proposal as its sponsor describes it."""

    title: Title
    sponsor: Name
    summary: OptionalProse = None
    services: Prose
    affected_boroughs: Boroughs
    beds_now: Beds = 0
    beds_proposed: Beds = 0
    investment_required: Money = Decimal("0.00")
    investment_identified: Money = Decimal("0.00")
    social_care_cost_impact: SignedMoney = Decimal("0.00")
    social_care_note: OptionalProse = None
    engagement_evidence: OptionalProse = None
    clinical_evidence: OptionalProse = None
    # Evidence for each bed-test condition the proposal claims to meet, by condition slug.
    bed_evidence: dict[ConditionSlug, Annotated[str, StringConstraints(max_length=20000)]] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _drop_blank_evidence(self) -> Self:
        self.bed_evidence = {k: v.strip() for k, v in self.bed_evidence.items() if v.strip()}
        return self


Verdict = Literal["met", "partly_met", "not_met", "not_enough_evidence"]


class VerdictIn(Input):
    test_slug: ConditionSlug
    verdict: Verdict
    rationale: Prose
    evidence: OptionalProse = None


class AssessIn(Input):
    """An assessor's work on a proposal: verdicts so far, and whether it is complete.

    A submitted proposal moves to "under review" with the first assessment call.
    """

    verdicts: list[VerdictIn] = Field(default_factory=list, max_length=50)
    complete: bool = False
    overall_summary: OptionalProse = None


class PublishIn(Input):
    """Publishing takes no fields; the model exists so the API refuses unknown ones."""
