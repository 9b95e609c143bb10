"""Input types every module validates at the edge: money, months, names, slugs, lists.

One definition each, so a form, the JSON API and a spreadsheet import refuse the same
input with the same words in every module (portfolio, assurance and those to come).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

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


class Input(BaseModel):
    """Base for every input: unknown fields are refused and text is trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def form_data(form: Any) -> dict[str, Any]:
    """Form fields as a plain dict; repeated fields become lists."""
    out: dict[str, Any] = {}
    for key in form:
        values = form.getlist(key)
        out[key] = values if len(values) > 1 else values[0]
    return out
