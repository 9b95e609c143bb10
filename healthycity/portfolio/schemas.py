"""What may come in: one pydantic model per record, shared by forms, the API and imports.

Validation happens here, at the edge, once: lengths, ranges, the IPA scale, money as
exact non-negative pounds with at most two decimal places. Rules that need the database
(does the programme exist, does the fund reconcile) live in `portfolio.service`.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from healthycity.portfolio.models import FUND_CATEGORIES

MAX_MONEY = Decimal("999999999999.99")


def blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _money(value: object) -> object:
    """Pounds as an exact Decimal: "£1,234.50", "1234.5" and 1234 are all accepted."""
    value = blank_to_none(value)
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("enter an amount in pounds")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, int | Decimal):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("enter an amount in pounds")
    text = value.strip().replace(",", "").removeprefix("£").strip()
    if not re.fullmatch(r"\d{1,12}(\.\d{1,2})?", text):
        raise ValueError("enter an amount in pounds and pence, like 12500 or 12500.50")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guards this
        raise ValueError("enter an amount in pounds") from exc
    return amount.quantize(Decimal("0.01"))


def _month(value: object) -> object:
    """A month as 2015-07 or any date within it; stored as the first day of the month."""
    value = blank_to_none(value)
    if isinstance(value, date):
        return value.replace(day=1)
    if isinstance(value, str):
        match = re.fullmatch(r"(\d{4})-(\d{2})(-\d{2})?", value.strip())
        if not match:
            raise ValueError("enter a month as YYYY-MM, like 2015-07")
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise ValueError("the month must be between 01 and 12")
        return date(year, month, 1)
    return value


def text_list(value: object) -> object:
    """A list of strings, or one string with one item per line or separated by ';'."""
    value = blank_to_none(value)
    if value is None:
        return []
    if isinstance(value, str):
        parts = re.split(r"[;\n]", value)
        return [p.strip() for p in parts if p.strip()]
    return value


Money = Annotated[Decimal, BeforeValidator(_money), Field(ge=0, le=MAX_MONEY)]
OptionalMoney = Annotated[
    Annotated[Decimal, Field(ge=0, le=MAX_MONEY)] | None, BeforeValidator(_money)
]
Month = Annotated[date, BeforeValidator(_month)]
Slug = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Prose = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
OptionalName = Annotated[
    Annotated[str, StringConstraints(max_length=200)] | None, BeforeValidator(blank_to_none)
]
OptionalTitle = Annotated[
    Annotated[str, StringConstraints(max_length=300)] | None, BeforeValidator(blank_to_none)
]
OptionalProse = Annotated[
    Annotated[str, StringConstraints(max_length=20000)] | None, BeforeValidator(blank_to_none)
]
OptionalDate = Annotated[date | None, BeforeValidator(blank_to_none)]
TextList = Annotated[list[str], BeforeValidator(text_list), Field(max_length=200)]
FinancialYear = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{4}/\d{2}$")]
PeriodMonth = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
]
AreaCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[EKNSW]\d{8}$")]


def _check_financial_year(value: str) -> str:
    start, end = value.split("/")
    if (int(start) + 1) % 100 != int(end):
        raise ValueError(f"{value} is not a financial year; write it like 2015/16")
    return value


class Input(BaseModel):
    """Base for every input: unknown fields are refused and text is trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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


def form_data(form: Any) -> dict[str, Any]:
    """Form fields as a plain dict; repeated fields become lists."""
    out: dict[str, Any] = {}
    for key in form:
        values = form.getlist(key)
        out[key] = values if len(values) > 1 else values[0]
    return out
