"""What may come in: one pydantic model per record, shared by forms, the API and imports.

Validation happens here, at the edge, once: lengths, ranges, the IPA scale, money as
exact non-negative pounds with at most two decimal places. Rules that need the database
(does the programme exist, does the fund reconcile) live in `portfolio.service`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from healthycity.core.inputs import (
    AreaCode,
    FinancialYear,
    Input,
    Money,
    Month,
    Name,
    OptionalDate,
    OptionalMoney,
    OptionalName,
    OptionalProse,
    OptionalTitle,
    PeriodMonth,
    Prose,
    Slug,
    TextList,
    Title,
    blank_to_none,
    text_list,
)
from healthycity.portfolio.models import FUND_CATEGORIES


def _check_financial_year(value: str) -> str:
    start, end = value.split("/")
    if (int(start) + 1) % 100 != int(end):
        raise ValueError(f"{value} is not a financial year; write it like 2015/16")
    return value


def _yes(value: object) -> bool:
    """A form's "yes" (or a JSON true) as True; anything else, blank included, as False."""
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "true", "on", "1")
    return bool(value)


class ProgrammeIn(Input):
    slug: Slug = Field(max_length=100)
    kind: Literal["programme", "portfolio_line"] = "programme"
    number: int = Field(0, ge=0, le=999)
    name: Name
    title: OptionalTitle = None
    theme: OptionalName = None
    vision: OptionalProse = None
    description: OptionalProse = None
    sro: OptionalName = None
    whole_life_budget: Money = Decimal("0.00")
    budget_note: OptionalProse = None
    start_date: OptionalDate = None
    end_date: OptionalDate = None
    aspirations: TextList = []
    indicators: TextList = []

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("the end date must be on or after the start date")
        return self


class BudgetIn(Input):
    programme_slug: Slug
    financial_year: FinancialYear
    amount: Money
    variance_explanation: OptionalProse = None

    _fy = field_validator("financial_year")(_check_financial_year)


class SpendIn(Input):
    """A month's spend: the actual once known, the forecast, and — when the year's
    forecast is more than 5% off its baseline — the explanation GMPP asks for."""

    programme_slug: Slug
    month: Month
    actual: OptionalMoney = None
    forecast: OptionalMoney = None
    note: OptionalProse = None
    explanation: OptionalProse = None
    # Entering a month that already holds spend replaces it only when this is confirmed.
    replace: Annotated[bool, BeforeValidator(_yes)] = False

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.actual is None and self.forecast is None:
            raise ValueError("enter the actual spend, the forecast, or both")
        return self


class MilestoneIn(Input):
    programme_slug: Slug
    kind: Literal["milestone", "deliverable"] = "milestone"
    title: Title
    baseline_date: date
    forecast_date: OptionalDate = None
    actual_date: OptionalDate = None
    notes: OptionalProse = None
    # Blank: worked out from the dates (done once met, late once the forecast slips).
    status: Annotated[
        Literal["not_started", "on_track", "at_risk", "late", "done"] | None,
        BeforeValidator(blank_to_none),
    ] = None
    owner: OptionalName = None


class ConfidenceIn(Input):
    programme_slug: Slug
    assessed_on: date
    # The IPA's five-point scale (models.DCA_RATINGS).
    rating: Literal["Green", "Amber/Green", "Amber", "Amber/Red", "Red"]
    assessor: Name
    commentary: Prose


class RiskIn(Input):
    programme_slug: Slug
    title: Title
    description: OptionalProse = None
    likelihood: int = Field(ge=1, le=5)
    impact: int = Field(ge=1, le=5)
    owner: OptionalName = None
    mitigation: OptionalProse = None
    status: Literal["open", "closed"] = "open"


class StakeholderIn(Input):
    programme_slug: Slug
    role: Literal["sro", "hlp_lead", "spg_lead", "ccg_lead"]
    group_code: Annotated[
        Annotated[str, StringConstraints(pattern=r"^([A-Z][A-Z0-9]{1,7}|[EKNSW]\d{8})$")] | None,
        BeforeValidator(blank_to_none),
    ] = None
    people: TextList = []
    status: Literal["named", "tbc", "not_applicable", "other"] = "named"
    note: OptionalProse = None
    contact: OptionalName = None
    position: int = Field(0, ge=0, le=9999)

    @model_validator(mode="after")
    def _group_for_role(self) -> Self:
        if self.role in ("spg_lead", "ccg_lead") and not self.group_code:
            raise ValueError("say which sub-regional group or CCG area this lead is for")
        if self.status == "named" and not self.people:
            raise ValueError("name at least one person, or mark the lead as to be confirmed")
        return self


class ProgressIn(Input):
    programme_slug: Annotated[str | None, BeforeValidator(blank_to_none)] = None
    period: PeriodMonth
    kind: Literal["introduction", "highlight", "progress", "event"] = "progress"
    title: OptionalTitle = None
    body: Prose
    event_date: OptionalDate = None
    position: int = Field(0, ge=0, le=9999)

    @model_validator(mode="after")
    def _programme_progress(self) -> Self:
        if self.kind == "progress" and not self.programme_slug:
            raise ValueError("programme progress must name its programme")
        if self.kind == "event" and not self.title:
            raise ValueError("give the event a title")
        return self


class DevolutionAreaIn(Input):
    slug: Slug = Field(max_length=100)
    number: int = Field(0, ge=0, le=999)
    name: Name
    description: OptionalProse = None


class PledgeIn(Input):
    area_slug: Slug
    number: int = Field(0, ge=0, le=9999)
    text: Prose
    owner: Name
    status: Literal["not_started", "in_progress", "at_risk", "delivered"] = "not_started"
    evidence: OptionalProse = None
    due_date: OptionalDate = None

    @model_validator(mode="after")
    def _evidence_when_delivered(self) -> Self:
        if self.status == "delivered" and not self.evidence:
            raise ValueError("a delivered pledge needs its evidence")
        return self


class PilotIn(Input):
    slug: Slug = Field(max_length=100)
    number: int = Field(0, ge=0, le=999)
    name: Name
    theme: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    description: OptionalProse = None
    areas: Annotated[list[AreaCode], BeforeValidator(text_list)] = []
    partners: TextList = []
    status: OptionalName = None


CATEGORY_SLUGS = tuple(slug for slug, _ in FUND_CATEGORIES)


class FundIn(Input):
    """A year's transformation funding and its split into the three categories."""

    period: FinancialYear
    total: Money
    note: OptionalProse = None
    allocations: dict[str, OptionalMoney] = Field(default_factory=dict)

    _fy = field_validator("period")(_check_financial_year)

    @field_validator("allocations")
    @classmethod
    def _known_categories(cls, value: dict[str, Decimal | None]) -> dict[str, Decimal | None]:
        unknown = sorted(set(value) - set(CATEGORY_SLUGS))
        if unknown:
            raise ValueError(f"unknown categories: {', '.join(unknown)}")
        return value


class GrantIn(Input):
    """A grant from one category of a year's transformation fund to a pilot or a programme.

    Money is validated by `core.inputs.Money`: pounds and pence, never negative; a zero
    grant is refused too (it gives nothing). Whether the fund can afford it is the
    database's question (`portfolio.funds`).
    """

    fund_period: FinancialYear
    category: Literal["contracts-issued", "purpose-defined", "unallocated"]
    recipient_kind: Literal["pilot", "programme"]
    recipient: Slug
    recipient_name: Name
    amount: Money
    awarded_on: date
    purpose: Prose
    status: Literal["proposed", "approved", "paid", "withdrawn"] = "approved"
    note: OptionalProse = None

    _fy = field_validator("fund_period")(_check_financial_year)

    @field_validator("amount")
    @classmethod
    def _above_zero(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("enter an amount above £0")
        return value


def _paper_link(value: str) -> str:
    """Papers are links people follow from a public page: http(s) only, never a script."""
    if not value.lower().startswith(("https://", "http://")) or len(value) > 500:
        raise ValueError(f"{value[:60]!r} is not a web address starting https://")
    return value


PaperLinks = Annotated[
    list[Annotated[str, AfterValidator(_paper_link)]],
    BeforeValidator(text_list),
    Field(max_length=50),
]


class MeetingIn(Input):
    """A meeting of one of the partnership's forums."""

    forum_slug: Slug
    held_on: date
    title: OptionalTitle = None
    status: Literal["scheduled", "held", "postponed", "cancelled"] = "scheduled"
    papers: PaperLinks = []
    note: OptionalProse = None


def _pledge_numbers(value: object) -> object:
    items = text_list(value)
    if isinstance(items, list):
        out = []
        for item in items:
            if isinstance(item, str) and not item.strip().isdigit():
                raise ValueError(f"{item!r} is not a pledge number; give pledge ids, one a line")
            out.append(int(item))
        return out
    return items


class DecisionIn(Input):
    """What a forum decided, by whom, linked to programmes and pledges; public once
    ``published``."""

    forum_slug: Slug
    meeting_id: Annotated[int | None, BeforeValidator(blank_to_none)] = None
    decided_on: date
    title: Title
    decision: Prose
    decided_by: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)
    ]
    programmes: Annotated[list[Slug], BeforeValidator(text_list), Field(max_length=50)] = []
    pledges: Annotated[list[int], BeforeValidator(_pledge_numbers), Field(max_length=100)] = []
    published: Annotated[bool, BeforeValidator(_yes)] = False
    note: OptionalProse = None
