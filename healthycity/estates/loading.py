"""``estates load``: ERIC returns, NHS Choices locations and the sub-region lookup, checked
whole before anything is written.

Why it reads this way:
- Every file is parsed and checked first; a problem anywhere (a missing key column, text
  in a money column other than ``Not Applicable`` / ``No Data Provided``, a site twice
  in one file) is reported with file, row, column and reason, and the command writes
  nothing. Only then are the rows written, in one transaction the caller owns.
- Rows are upserted on their natural keys and a row whose figures are unchanged is not
  touched, so loading the same files twice (or the London file after the England file,
  which repeats London's rows) changes nothing.
- The standard csv module rather than Polars: these files are under a megabyte, and
  the checks need each cell's exact published text and its row number.
- No path is built in here: the files are what the command line was given (the package
  reads no data folder of its own at run time).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.estates import columns as c
from healthycity.estates.models import (
    AGGREGATE_SITE_CODE,
    PFI,
    SITE,
    TRUST,
    EstatesOrganisation,
    EstatesReturn,
    EstatesSite,
)
from healthycity.estates.register import apply_locations, apply_lookup, apply_pfi_tenure

_PENNY = Decimal("0.01")
# Units that mark a published numeric column; money is the one the issue insists on.
_NUMERIC_UNITS = ("(£)", "(m²)", "(%)", "(Hectares)", "(Hectare)")


@dataclass(frozen=True)
class Problem:
    """Why one cell (or one file) was refused."""

    file: str
    row: int | None  # the row number a spreadsheet shows (header = 1)
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column!r}"
        return f"{where}: {self.reason}"


class LoadRefused(ValueError):
    """The files were refused; ``problems`` says where and why. Nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class ParsedFile:
    """One file, checked: its layout, its year (ERIC files) and its rows as values."""

    name: str
    layout: str
    year: str | None
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LoadResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    files: list[str] = field(default_factory=list)


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _numeric_column(name: str) -> bool:
    return any(unit in name for unit in _NUMERIC_UNITS)


def _check_cells(name: str, line: int, row: dict[str, str], problems: list[Problem]) -> None:
    for column, text in row.items():
        if column is None or text in c.MARKERS or text == "" or not _numeric_column(column):
            continue
        if _number(text) is None:
            kind = "money" if "(£)" in column else "numeric"
            problems.append(
                Problem(
                    name,
                    line,
                    column,
                    f"{text!r} is not a number, and not {c.NOT_APPLICABLE!r} or {c.NO_DATA!r}"
                    f" (a {kind} column)",
                )
            )


def _figure(row: dict[str, str], column: str | None, missing: dict[str, str], key: str) -> Any:
    """The typed value of a published cell; markers become None with the reason kept."""
    if column is None:
        return None
    text = row.get(column, "")
    if text in c.MARKERS:
        missing[key] = text
        return None
    value = _number(text) if text else None
    if value is None:
        return None
    if key in c.MONEY_FIGURES:
        return value.quantize(_PENNY, rounding=ROUND_HALF_UP)
    if key in c.AREA_FIGURES:
        return value.quantize(_PENNY, rounding=ROUND_HALF_UP)
    return float(value)


def _sum_of(row: dict[str, str], names: Iterable[str]) -> Decimal | None:
    """The sum of the columns the file has among ``names``; None when none has a number."""
    found = [_number(row[n]) for n in names if n in row and row[n] not in c.MARKERS and row[n]]
    values = [v for v in found if v is not None]
    return sum(values, Decimal(0)).quantize(_PENNY, rounding=ROUND_HALF_UP) if values else None


def _eric_values(row: dict[str, str], header: set[str]) -> dict[str, Any]:
    missing: dict[str, str] = {}
    values: dict[str, Any] = {
        key: _figure(row, c.column_for(key, header), missing, key) for key in c.FIGURES
    }
    values["critical_infrastructure_risk"] = _sum_of(row, c.CRITICAL_INFRASTRUCTURE)
    values["running_cost"] = _sum_of(row, c.RUNNING_COSTS)
    values["age_profile"] = {
        name.removeprefix(c.AGE_PREFIX).removesuffix(" (%)"): _figure(row, name, missing, name)
        for name in row
        if name.startswith(c.AGE_PREFIX) and name != c.AGE_TOTAL
    }
    # Every marked cell, by its published name, beside the typed figures' own keys.
    values["missing"] = missing | {k: v for k, v in row.items() if v in c.MARKERS}
    values["published"] = dict(row)
    values["commissioning_region"] = row.get(c.REGION) or None
    values["site_type"] = row.get(c.SITE_TYPE) or None
    values["postcode"] = row.get(c.POSTCODE) or None
    return values


def _key(layout: str, row: dict[str, str]) -> tuple[str, str, str]:
    return (
        row[c.ORG_CODE],
        row.get(c.SITE_CODE, "") if layout != TRUST else "",
        row.get(c.SCHEME, "") if layout == PFI else "",
    )


def parse(name: str, data: bytes, year: str | None = None) -> ParsedFile:
    """Check one file and return its rows; raise `LoadRefused` with every problem found."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LoadRefused([Problem(name, None, None, "is not UTF-8 text")]) from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if len(set(header)) != len(header):
        repeated = sorted({h for h in header if header.count(h) > 1})
        raise LoadRefused([Problem(name, 1, repeated[0], "column name appears twice")])
    try:
        layout = c.layout_of(header)
    except c.UnknownLayout as exc:
        raise LoadRefused([Problem(name, 1, None, str(exc))]) from None
    reader.fieldnames = header
    parsed = ParsedFile(name, layout.name, None)
    if layout.name in (TRUST, SITE, PFI):
        parsed.year = year or c.year_from_name(name)
        if parsed.year is None:
            raise LoadRefused(
                [Problem(name, None, None, "the year is not in the file name: give --year")]
            )
    problems: list[Problem] = []
    seen: dict[tuple[str, str, str], int] = {}
    for line, raw in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if layout.name not in (TRUST, SITE, PFI):
            parsed.rows.append(row)
            continue
        for key_column in (c.ORG_CODE, *((c.SITE_CODE,) if layout.name != TRUST else ())):
            if not row.get(key_column):
                problems.append(Problem(name, line, key_column, "the key is empty"))
        _check_cells(name, line, row, problems)
        key = _key(layout.name, row)
        if all(key[:2] if layout.name != TRUST else key[:1]) and key in seen:
            what = "site" if layout.name == SITE else layout.name
            problems.append(
                Problem(
                    name,
                    line,
                    c.SITE_CODE if layout.name != TRUST else c.ORG_CODE,
                    f"duplicate {what} {' '.join(k for k in key if k)} (first at row {seen[key]})",
                )
            )
        seen.setdefault(key, line)
        parsed.rows.append(row)
    if problems:
        raise LoadRefused(problems)
    return parsed


def _upsert(session: Session, existing: Any, values: dict[str, Any], result: LoadResult) -> None:
    changed = False
    for attr, value in values.items():
        if getattr(existing, attr) != value:
            setattr(existing, attr, value)
            changed = True
    if changed:
        result.updated += 1
    else:
        result.unchanged += 1


def _organisation(
    session: Session, cache: dict[str, EstatesOrganisation], row: dict[str, str], year: str
) -> EstatesOrganisation:
    code = row[c.ORG_CODE]
    org = cache.get(code)
    if org is None:
        org = EstatesOrganisation(code=code, name=row.get(c.ORG_NAME) or code, name_year=year)
        session.add(org)
    elif org.name_year is None or org.name_year < year:
        org.name, org.name_year = row.get(c.ORG_NAME) or org.name, year
    if row.get(c.ORG_TYPE) and (org.org_type is None or org.name_year == year):
        org.org_type = row[c.ORG_TYPE]
    cache[code] = org
    return org


def _site(
    session: Session, cache: dict[tuple[str, str], EstatesSite], row: dict[str, str], year: str
) -> None:
    key = (row[c.ORG_CODE], row[c.SITE_CODE])
    site = cache.get(key)
    if site is None:
        site = EstatesSite(
            org_code=key[0],
            site_code=key[1],
            name=row.get(c.SITE_NAME) or key[1],
            name_year=year,
            is_aggregate=key[1] == AGGREGATE_SITE_CODE,
            source="eric",
        )
        session.add(site)
    elif site.name_year is None or site.name_year < year:
        site.name, site.name_year = row.get(c.SITE_NAME) or site.name, year
        site.site_type = row.get(c.SITE_TYPE) or site.site_type
    if site.site_type is None:
        site.site_type = row.get(c.SITE_TYPE) or None
    cache[key] = site


def write_eric(
    session: Session, parsed: ParsedFile, result: LoadResult, tick: Callable[[], None]
) -> None:
    """Upsert one checked ERIC file's organisations, sites and returns."""
    assert parsed.year is not None
    year = parsed.year
    orgs = {o.code: o for o in session.scalars(select(EstatesOrganisation))}
    sites = {(s.org_code, s.site_code): s for s in session.scalars(select(EstatesSite))}
    existing = {
        (r.org_code, r.site_code, r.scheme): r
        for r in session.scalars(
            select(EstatesReturn).where(
                EstatesReturn.year == year, EstatesReturn.level == parsed.layout
            )
        )
    }
    header = set(parsed.rows[0]) if parsed.rows else set()
    for row in parsed.rows:
        _organisation(session, orgs, row, year)
        if parsed.layout == SITE:
            _site(session, sites, row, year)
        key = _key(parsed.layout, row)
        values = _eric_values(row, header)
        found = existing.get(key)
        if found is None:
            session.add(
                EstatesReturn(
                    year=year,
                    level=parsed.layout,
                    org_code=key[0],
                    site_code=key[1],
                    scheme=key[2],
                    source_file=parsed.name,
                    **values,
                )
            )
            result.added += 1
        else:
            _upsert(session, found, values, result)
        tick()


def load(
    session: Session,
    files: list[tuple[str, bytes]],
    *,
    year: str | None = None,
    progress: Callable[[int], Callable[[], None]] | None = None,
) -> LoadResult:
    """Check every file, then write them all in the caller's transaction.

    Order inside one call does not matter: ERIC files are written first, then the
    lookup (sub-regions and mergers), then the locations, which are joined to the sites.
    ``progress(total)`` returns a function called once per row written.
    """
    problems: list[Problem] = []
    parsed: list[ParsedFile] = []
    for name, data in files:
        try:
            parsed.append(parse(name, data, year))
        except LoadRefused as exc:
            problems += exc.problems
    if problems:
        raise LoadRefused(problems)
    tick = progress(sum(len(p.rows) for p in parsed)) if progress else (lambda: None)
    result = LoadResult(files=[p.name for p in parsed])
    order = {TRUST: 0, SITE: 0, PFI: 0, c.LOOKUP: 1, c.LOCATIONS: 2}
    for item in sorted(parsed, key=lambda p: order[p.layout]):
        if item.layout in (TRUST, SITE, PFI):
            write_eric(session, item, result, tick)
        elif item.layout == c.LOOKUP:
            apply_lookup(session, item.rows, result, tick)
        else:
            apply_locations(session, item.rows, result, tick)
        session.flush()
    if any(p.layout == PFI for p in parsed):
        apply_pfi_tenure(session, result)
        session.flush()
    return result
