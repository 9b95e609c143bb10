"""Workspace routes for reports, exports and imports.

``/workspace/reports`` lists the months with report content and offers the exports and
the import form; the progress report is served as HTML and as PDF from the same page.
The JSON API has the same import and export (``/api/v1/import/<kind>``,
``/api/v1/export/gmpp``), for scripts with a token.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select

from healthycity.core import auth
from healthycity.core.auth import Principal
from healthycity.core.web.workspace import (
    FORM_ERROR_STATUS,
    install,
    read_session,
    unit_of_work,
    viewer,
    writer,
    ws_render,
)
from healthycity.portfolio import exporting, importing
from healthycity.portfolio.models import BudgetBaseline, ProgressUpdate
from healthycity.reports import progress, review

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _organisation(session: Any) -> str:
    from healthycity.core.models import LoadedPack

    pack = session.scalars(select(LoadedPack)).first()
    return pack.name if pack else "the partnership"


def _reports_page(
    request: Request,
    principal: Principal,
    *,
    errors: list[importing.RowError] | None = None,
    imported: importing.ImportResult | None = None,
    choose_error: str | None = None,
) -> Response:
    from healthycity.portfolio.service import default_year

    with read_session(request) as session:
        periods = sorted(set(session.scalars(select(ProgressUpdate.period))), reverse=True)
        year = default_year(session)
        years = _report_years(session, periods)
        review_years = sorted(review.review_years(session), reverse=True)
    error_items = [{"text": str(e), "href": "#f-file"} for e in (errors or [])][:50]
    return ws_render(
        request,
        "workspace/reports.html",
        "Reports, exports and imports",
        principal,
        status_code=FORM_ERROR_STATUS,
        periods=periods,
        year=year,
        years=years,
        review_years=review_years,
        months=MONTHS,
        kinds=list(importing.KINDS),
        import_errors=errors or [],
        error_list=error_items,
        error_title=bool(errors),
        imported=imported,
        choose_error=choose_error,
    )


MONTHS = [(f"{m:02d}", calendar.month_name[m]) for m in range(1, 13)] + [
    (f"Q{q}", f"Quarter {q} ({calendar.month_name[3 * q - 2]} to {calendar.month_name[3 * q]})")
    for q in range(1, 5)
]


def _report_years(session: Any, periods: list[str]) -> list[int]:
    """Every calendar year a report could cover: from the first record to this year."""
    from healthycity.portfolio.models import MonthlySpend

    found = {int(p[:4]) for p in periods}
    found |= {m.year for m in session.scalars(select(MonthlySpend.month))}
    found |= {int(y[:4]) for y in session.scalars(select(BudgetBaseline.financial_year))}
    first = min(found, default=date.today().year)
    return list(range(date.today().year, first - 1, -1))


@router.get("/workspace/reports/choose")
def choose_report(request: Request) -> Response:
    """The chooser's answer: the report of the month (or quarter) and year picked."""
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.PROGRESS)
    year = request.query_params.get("year", "")
    month = request.query_params.get("month", "")
    suffix = ".pdf" if request.query_params.get("format") == "pdf" else ""
    period = f"{year}-{month}"
    try:
        progress.parse_period(period)
    except progress.PeriodError:
        return _reports_page(request, principal, choose_error="Choose a month and a year")
    return RedirectResponse(f"/workspace/reports/progress/{period}{suffix}", status_code=303)


@router.get("/workspace/reports", response_class=HTMLResponse)
def reports(request: Request) -> Response:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.PROGRESS)
    return _reports_page(request, principal)


def _report(request: Request, period_text: str) -> progress.ProgressReport:
    from healthycity.core.errors import NotFound

    try:
        period = progress.parse_period(period_text)
    except progress.PeriodError as exc:
        raise NotFound(str(exc)) from None
    with read_session(request) as session:
        return progress.build(session, period)


@router.get("/workspace/reports/progress/{period}.pdf")
def progress_pdf(request: Request, period: str) -> Response:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.PROGRESS)
    pdf = progress.render_pdf(progress.render_html(_report(request, period)))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="progress-{period}.pdf"'},
    )


@router.get("/workspace/reports/progress/{period}", response_class=HTMLResponse)
def progress_html(request: Request, period: str) -> Response:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.PROGRESS)
    html = progress.render_html(_report(request, period))
    # The report carries its own styles inline (one file for print and for WeasyPrint).
    return HTMLResponse(
        html,
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


def _gmpp(request: Request, principal: Principal, fmt: str) -> Response:
    from healthycity.portfolio.service import default_year, is_financial_year

    auth.authorize(principal, auth.VIEW, auth.PROGRAMME)
    with read_session(request) as session:
        year = request.query_params.get("year") or default_year(session)
        if not is_financial_year(year):
            year = default_year(session)
        rows = exporting.gmpp_rows(session, year, _organisation(session))
    name = f"gmpp-{year.replace('/', '-')}"
    if fmt == "xlsx":
        body = exporting.to_xlsx(f"GMPP {year.replace('/', '-')}", exporting.GMPP_COLUMNS, rows)
        return Response(
            body,
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return Response(
        exporting.to_csv(exporting.GMPP_COLUMNS, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/workspace/export/gmpp.{fmt}")
def gmpp_export(request: Request, fmt: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        from healthycity.core.errors import NotFound

        raise NotFound("exports are .csv or .xlsx")
    return _gmpp(request, viewer(request), fmt)


@router.get("/api/v1/export/gmpp")
def gmpp_export_api(request: Request) -> Response:
    return _gmpp(request, viewer(request), request.query_params.get("format", "csv"))


@router.get("/workspace/export/{kind}.csv")
def table_export(request: Request, kind: str) -> Response:
    principal = viewer(request)
    with read_session(request) as session:
        if kind == "spend":
            auth.authorize(principal, auth.VIEW, auth.SPEND)
            body = exporting.to_csv(exporting.SPEND_COLUMNS, exporting.spend_rows(session))
        elif kind == "pledges":
            auth.authorize(principal, auth.VIEW, auth.PLEDGE)
            body = exporting.to_csv(exporting.PLEDGE_COLUMNS, exporting.pledge_rows(session))
        else:
            from healthycity.core.errors import NotFound

            raise NotFound(f"no export {kind!r}")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )


def _run_import(
    request: Request, principal: Principal, kind: str, filename: str, content: bytes
) -> importing.ImportResult:
    def check(action: str, record_type: str, owner: str | None) -> None:
        auth.authorize(principal, action, record_type, owner)

    with unit_of_work(request, principal) as session:
        return importing.import_file(session, kind, filename, content, authorize=check)


@router.post("/workspace/import", response_class=HTMLResponse)
async def import_form(request: Request) -> Response:
    principal = await writer(request)
    form = await request.form()
    kind = str(form.get("kind", ""))
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        errors = [importing.RowError("(no file)", 0, "", "choose a CSV or XLSX file")]
        return _reports_page(request, principal, errors=errors)
    content = await upload.read(importing.MAX_BYTES + 1)
    try:
        result = _run_import(request, principal, kind, upload.filename, content)
    except importing.ImportRefused as exc:
        return _reports_page(request, principal, errors=exc.errors)
    return _reports_page(request, principal, imported=result)


@router.post("/api/v1/import/{kind}")
async def import_api(request: Request, kind: str) -> Response:
    """Body: the file itself; ``?filename=spend.csv`` (or .xlsx) says how to read it."""
    principal = await writer(request)
    filename = request.query_params.get("filename", f"{kind}.csv")
    content = await request.body()
    try:
        result = _run_import(request, principal, kind, filename, content)
    except importing.ImportRefused as exc:
        return JSONResponse(
            {
                "detail": str(exc),
                "errors": [
                    {"file": e.file, "row": e.row, "column": e.column, "reason": e.reason}
                    for e in exc.errors
                ],
            },
            status_code=422,
        )
    return JSONResponse(
        {
            "kind": result.kind,
            "rows": result.rows,
            "created": result.created,
            "updated": result.updated,
        }
    )


def register(app: FastAPI) -> None:
    """Mount the reports page, the progress report (HTML and PDF), exports and imports."""
    install(app)
    app.include_router(router)
