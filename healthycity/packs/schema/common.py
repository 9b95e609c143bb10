"""Field types, validators and base models shared by every pack file's schema.

Every model forbids unknown keys (a misspelt key is an error, not a silently ignored value)
and is frozen (a loaded pack is a value, safe to share between threads and cache).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

# ---------------------------------------------------------------------------- types

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=80)]
"""Lower-case words joined by hyphens: stable identifiers used in URLs and references."""

ShortCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,7}$")]
"""A short upper-case code such as a sub-region (NWL) or planning group (WELC)."""

GSS_PATTERN = r"^[EKNSW]\d{8}$"
"""ONS Government Statistical Service codes: a country letter and eight digits."""

GssCode = Annotated[str, StringConstraints(pattern=GSS_PATTERN)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^(E92|W92|S92|N92|K0[234])\d{6}$")]
RegionCode = Annotated[str, StringConstraints(pattern=r"^(E12|E92|W92|S92|N92)\d{6}$")]
LocalAuthorityCode = Annotated[str, StringConstraints(pattern=r"^(E0[6-9]|W06|S12|N09)\d{6}$")]
"""Local authority districts: English unitary (E06), district (E07), metropolitan (E08) and
London borough (E09) codes, and their Welsh, Scottish and Northern Irish equivalents."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""Required prose: blank strings are refused, since a blank vision or reason is a mistake."""

SourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")]


def _no_float(value: object) -> object:
    """Refuse binary floats: 0.1 + 0.2 is not 0.3, and money must add up exactly."""
    if isinstance(value, float):
        raise ValueError(
            'write decimals as quoted strings (e.g. "1234567.00" or "13.5"), not bare numbers'
        )
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


def _money(value: object) -> object:
    """Money is pounds with at most two decimal places, written in YAML as a quoted string.

    A Decimal from code is accepted as it is exact; bare YAML numbers are refused, since a
    float may already have lost pennies before the schema sees it.
    """
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.quantize(Decimal("0.01")):
            return value
        raise ValueError(f"{value} is not an amount in pounds and pence")
    if not isinstance(value, str):
        raise ValueError('money must be a quoted decimal string such as "1234567.00"')
    if not re.fullmatch(r"-?\d{1,15}(\.\d{1,2})?", value.strip()):
        raise ValueError(f'{value!r} is not an amount in pounds such as "1234567.00"')
    return value.strip()


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _date_text(value: object) -> object:
    """YAML turns 2017-11-16 into a date; keep every date as ISO text (year, month or day)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


Money = Annotated[Decimal, BeforeValidator(_money), AfterValidator(_non_negative)]
"""Pounds as an exact Decimal, written in YAML as a quoted string; never negative."""

Number = Annotated[
    Decimal, BeforeValidator(_no_float), AfterValidator(_finite), AfterValidator(_non_negative)
]
"""An exact, non-negative number (a target value, a demo value): int or quoted decimal."""

SignedNumber = Annotated[Decimal, BeforeValidator(_no_float), AfterValidator(_finite)]


def _real_date(value: str) -> str:
    if len(value) == 10:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a date in the calendar") from None
    return value


PartialDate = Annotated[
    str,
    BeforeValidator(_date_text),
    StringConstraints(pattern=r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"),
    AfterValidator(_real_date),
]
"""A year, year-month or full date as ISO text: the seeds date things to varying precision."""

Period = Annotated[str, BeforeValidator(_date_text), StringConstraints(min_length=4, max_length=20)]
"""A reporting period as Fingertips writes it: 2020, 2018/19, 2016 - 18."""


def _person(value: object) -> object:
    """Let authors write a bare name where no note is needed."""
    if isinstance(value, str):
        return {"name": value}
    return value


class Model(BaseModel):
    """Base for every pack model: unknown keys are errors and loaded values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Issue = tuple[str, str]
"""(location within the file, reason): a problem found by a within-file check."""

FileIssue = tuple[str, str, str]
"""(file name, location, reason): a problem found by a cross-file check."""


def collecting(info: ValidationInfo) -> bool:
    context = info.context
    return isinstance(context, dict) and bool(context.get("collect"))


def raise_issues(issues: Sequence[Issue] | Sequence[FileIssue]) -> None:
    if issues:
        lines = [": ".join(issue) for issue in issues]
        raise ValueError("; ".join(lines))


def duplicates(items: Iterable[tuple[int, str]], where: str, what: str = "slug") -> list[Issue]:
    """Issues for repeated keys: the second and later uses, pointing back at the first."""
    first: dict[str, int] = {}
    issues: list[Issue] = []
    for index, key in items:
        if key in first:
            issues.append(
                (f"{where}[{index}].{what}", f"duplicate {what} {key!r} (first at [{first[key]}])")
            )
        else:
            first[key] = index
    return issues


class FileModel(Model):
    """A model for one whole pack file, with its own within-file checks."""

    FILE: ClassVar[str] = ""

    def issues(self) -> list[Issue]:
        """Within-file problems; empty when the file is consistent."""
        return []

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Self:
        if not collecting(info):
            raise_issues(self.issues())
        return self


class Person(Model):
    """A named person, with an optional note (a role, an organisation, a caveat)."""

    name: Text
    note: Text | None = None


PersonRef = Annotated[Person, BeforeValidator(_person)]
