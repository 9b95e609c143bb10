"""Exports: the portfolio as a GMPP-style return, and spend and pledges in the import's
own columns (so an export can be edited and imported back).

GMPP's annual data reports one row per project: baseline and forecast for the financial
year, the variance (with an explanation when over 5%), whole-life cost, start and end
dates, and the delivery confidence rating with its commentary.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.portfolio import service
from healthycity.portfolio.models import MonthlySpend, Pledge

GMPP_COLUMNS: tuple[str, ...] = (
    "Project name",
    "Organisation",
    "Senior responsible owner",
    "Delivery confidence assessment",
    "DCA date",
    "DCA commentary",
    "Start date",
    "End date",
    "Financial year",
    "Baseline (£)",
    "Forecast (£)",
    "Variance (£)",
    "Variance (%)",
    "Variance over 5%",
    "Variance explanation",
    "Spend to date (£)",
    "Whole-life cost baseline (£)",
    "Whole-life cost forecast (£)",
    "Whole-life variance (%)",
)


def gmpp_rows(session: Session, financial_year: str, organisation: str) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for programme in service.programmes(session):
        finance = service.year_finance(programme, financial_year)
        whole = service.whole_life(programme)
        dca = service.latest_confidence(programme)
        rows.append(
            [
                programme.name,
                organisation,
                programme.sro,
                dca.rating if dca else None,
                dca.assessed_on if dca else None,
                dca.commentary if dca else None,
                programme.start_date,
                programme.end_date,
                financial_year,
                finance.baseline,
                finance.outturn,
                finance.variance,
                finance.variance_pct,
                "Yes" if finance.flagged else "No",
                finance.explanation,
                finance.actual_to_date,
                whole.budget,
                whole.forecast,
                whole.variance_pct,
            ]
        )
    return rows


SPEND_COLUMNS = ("programme_slug", "month", "actual", "forecast", "note")
PLEDGE_COLUMNS = ("area_slug", "number", "text", "owner", "status", "evidence", "due_date")


def spend_rows(session: Session) -> list[list[Any]]:
    query = select(MonthlySpend).order_by(MonthlySpend.programme_slug, MonthlySpend.month)
    return [
        [r.programme_slug, r.month.strftime("%Y-%m"), r.actual, r.forecast, r.note]
        for r in session.scalars(query)
    ]


def pledge_rows(session: Session) -> list[list[Any]]:
    query = select(Pledge).order_by(Pledge.area_slug, Pledge.number, Pledge.id)
    return [
        [p.area_slug, p.number, p.text, p.owner, p.status, p.evidence, p.due_date]
        for p in session.scalars(query)
    ]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_safe(_text(v)) for v in row])
    return buffer.getvalue().encode("utf-8")


def _safe(text: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    if text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def to_xlsx(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_xlsx_value(v) for v in row])
    for index, column in enumerate(columns, start=1):
        if "(£)" in column:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "#,##0.00"
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # shown to the penny by the cell's number format
    if isinstance(value, str) and value[:1] in ("=", "+", "@"):
        return "'" + value
    return value
