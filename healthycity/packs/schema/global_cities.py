"""``global_cities.csv``: figures for other world cities, each with its source (optional file).

London's goal is to be "the world's healthiest major global city", and the partnership
committed to an annual review that compares London with other global cities (seed 000,
§2.10.2). Comparing cities is treacherous: a "city" figure may describe the city proper,
the metropolitan area, or — often — the whole country standing in for it; it may be
age-standardised or crude; it may be measured (registered deaths) or self-reported (a
survey). So every figure carries those facts, its source and when it was retrieved, and
a figure without a source or a year is refused rather than shown: an unsourced number
in a comparison of cities is worse than a gap.

A row may leave ``value`` blank to record a gap — a city with no comparable figure for a
measure — but must then say why in ``caveat``; the review shows the reason rather than
leaving the city out silently. The file is optional: a pack without it simply has no
comparisons, and the review says so. Rows are read by :func:`read_global_cities`, which
returns every problem at once, each naming the file, the line, the column and the reason.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator

from healthycity.packs.problems import Problem, clean_loc, csv_reason, error_reason
from healthycity.packs.schema.common import Issue, Model, PartialDate, Slug, Text

GLOBAL_CITIES_FILE = "global_cities.csv"

GEOGRAPHIES = ("city-proper", "metropolitan-area", "national")
"""What the figure actually measures: the city's own boundary, its metropolitan area, or
the whole country standing in for the city (say so on every chart)."""

STANDARDISATIONS = ("age-standardised", "crude", "life-table")
"""Age-standardised rates can be compared across populations of different ages; crude
ones cannot; life expectancy comes from a life table (already independent of age mix)."""

COLLECTIONS = ("measured", "self-reported")
"""Measured (registrations, examinations) or self-reported (surveys)."""


def _decimal(value: object) -> object:
    """A CSV cell as an exact decimal; blank cells are refused by the field itself."""
    if isinstance(value, str):
        text = value.strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{text!r} is not a number") from None
        if not number.is_finite():
            raise ValueError("must be a finite number")
        return number
    return value


def _web_address(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("the source's address must be a web address (https://…)")
    return value


def _past_date(value: str) -> str:
    if value > date.today().isoformat()[: len(value)]:
        raise ValueError("the retrieval date is in the future")
    return value


Figure = Annotated[Decimal, BeforeValidator(_decimal), Field(ge=0)]
Url = Annotated[Text, AfterValidator(_web_address)]


class CityFigure(Model):
    """One figure for one city: what, where, when, how, and from whom."""

    city: Text
    country: Text
    measure: Slug
    measure_name: Text
    value: Figure | None = None
    unit: Text
    year: int = Field(ge=1900, le=2100)
    geography: Literal["city-proper", "metropolitan-area", "national"]
    standardisation: Literal["age-standardised", "crude", "life-table"]
    collection: Literal["measured", "self-reported"]
    source_title: Text
    source_url: Url
    retrieved: Annotated[PartialDate, AfterValidator(_past_date)]
    caveat: Text | None = None

    @model_validator(mode="after")
    def _gap_says_why(self) -> Self:
        if self.value is None and self.caveat is None:
            raise ValueError(
                "a row without a value records a gap: say in the caveat why there is no "
                "comparable figure"
            )
        return self


GLOBAL_CITY_COLUMNS = tuple(CityFigure.model_fields)

_REQUIRED_REASONS = {
    "source_title": "a figure needs its source: the title of the document or table",
    "source_url": "a figure needs its source: the web address it was taken from",
    "year": "a figure needs the year it describes",
}


def global_city_issues(rows: Sequence[CityFigure]) -> list[Issue]:
    """Within-file checks: one figure per city, measure and year; a measure has one name
    and one unit throughout (a chart cannot mix per-1,000 and per-100,000)."""
    found: list[Issue] = []
    first: dict[tuple[str, str, int], int] = {}
    named: dict[str, tuple[int, str, str]] = {}
    for index, row in enumerate(rows):
        key = (row.city.casefold(), row.measure, row.year)
        if key in first:
            reason = (
                f"{row.city} already has a figure for {row.measure} in {row.year} "
                f"(first at [{first[key]}])"
            )
            found.append((f"global_cities[{index}].measure", reason))
        else:
            first[key] = index
        seen = named.setdefault(row.measure, (index, row.measure_name, row.unit))
        if (seen[1], seen[2]) != (row.measure_name, row.unit):
            reason = (
                f"measure {row.measure!r} is named {seen[1]!r} in {seen[2]!r} at [{seen[0]}]; "
                "one measure has one name and one unit"
            )
            found.append((f"global_cities[{index}].unit", reason))
    return found


def read_global_cities(
    text: str, file: str = GLOBAL_CITIES_FILE
) -> tuple[tuple[CityFigure, ...] | None, list[Problem]]:
    """Parse the file's text: the figures, or None and every problem (file, line,
    column, reason). Blank lines are skipped; nothing is guessed or filled in."""
    problems: list[Problem] = []
    rows: list[CityFigure] = []
    lines: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return None, [Problem(file, "line 1", "the file is empty", 1)]
        header = [h.strip() for h in header]
        for column in GLOBAL_CITY_COLUMNS:
            if column not in header and column not in ("caveat", "value"):
                problems.append(Problem(file, "line 1", f"missing column {column!r}", 1))
        for column in header:
            if column not in GLOBAL_CITY_COLUMNS:
                problems.append(Problem(file, "line 1", f"unknown column {column!r}", 1))
        if len(set(header)) != len(header):
            problems.append(Problem(file, "line 1", "a column name is repeated", 1))
        if problems:
            return None, problems
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                reason = f"expected {len(header)} values, found {len(values)}"
                problems.append(Problem(file, f"line {line}", reason, line))
                continue
            record = {k: v.strip() for k, v in zip(header, values, strict=True) if v.strip()}
            try:
                rows.append(CityFigure.model_validate(record))
                lines.append(line)
            except ValidationError as exc:
                for error in exc.errors():
                    path = clean_loc(error["loc"])
                    column = str(path[0]) if path else ""
                    reason = error_reason(error)
                    if error["type"] == "missing" and column in _REQUIRED_REASONS:
                        reason = _REQUIRED_REASONS[column]
                    where = f"line {line}, column {column}" if column else f"line {line}"
                    problems.append(Problem(file, where, reason, line))
    except csv.Error as exc:
        return None, [Problem(file, f"line {reader.line_num}", f"CSV error: {exc}")]
    for loc, reason in global_city_issues(rows):
        index = int(loc.split("[", 1)[1].split("]", 1)[0])
        column = loc.rsplit(".", 1)[1]
        line = lines[index]
        where = f"line {line}, column {column}"
        problems.append(Problem(file, where, csv_reason(reason, lines), line))
    if not rows and not problems:
        problems.append(Problem(file, "file", "the file has no figures (delete it instead)"))
    return (tuple(rows) if not problems else None), problems
