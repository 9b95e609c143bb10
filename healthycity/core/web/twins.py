"""Every page has `.json` and `.csv` twins at the same path (as Datasette does).

A page handler returns a `Page`; `twin_routes` registers the path three times — the
suffixed twins first, so `/indicators/93356.csv` never reaches the HTML route as an id.
The three share one handler, so whatever the handler checks (who is signed in, what
they may see) holds for the twins exactly as for the page.

A page with several tables names the others in `Page.tables`; each is the CSV twin
with ``?table=NAME`` (the name ``table`` is therefore not free for a page's own query).
Signed-in pages pass ``private=True``: every answer, the twins included, is then sent
with ``Cache-Control: private, no-store`` so no shared or browser cache keeps a copy.

CSV cells are written for spreadsheets, which run a cell beginning ``=``, ``+``, ``-``
or ``@`` as a formula (OWASP "CSV injection"): such text is prefixed with ``'``. Numbers
are left alone, so ``-12.50`` stays a number and figures round-trip.
"""

from __future__ import annotations

import csv
import functools
import inspect
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from healthycity.core.web.rendering import render

# What a spreadsheet would start evaluating, and text that is merely a signed number.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_PENNY = Decimal("0.01")


def csv_safe(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet will show rather than run."""
    if value is None:
        return ""
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_START)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def money(value: Decimal | int | str | None) -> str | None:
    """Pounds and pence as text with exactly two decimals (``"1200000.00"``).

    Money is stored as Numeric(14,2); as text it survives JSON (no float rounding) and a
    spreadsheet import, and reads the same on every engine.
    """
    if value is None:
        return None
    return format(Decimal(value).quantize(_PENNY, rounding=ROUND_HALF_UP), "f")


@dataclass(frozen=True)
class Table:
    """Rows for the CSV twin (and for the table that sits beside each chart)."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([csv_safe(value) for value in row])
        return buffer.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass
class Page:
    template: str
    title: str
    context: dict[str, Any] = field(default_factory=dict)
    data: Any = None
    table: Table | None = None
    filename: str = "data"
    # Further tables, each the CSV twin with ``?table=NAME`` (file ``FILENAME-NAME.csv``).
    tables: dict[str, Table] = field(default_factory=dict)


def _json_default(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_response(data: Any) -> Response:
    body = orjson.dumps(data, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, media_type="application/json")


def _csv_twin(request: Request, page: Page) -> Response:
    name = request.query_params.get("table")
    filename = page.filename
    if name is None:
        table = page.table or Table(columns=[], rows=[])
    elif name in page.tables:
        table = page.tables[name]
        filename = f"{page.filename}-{name}"
    else:
        raise HTTPException(status_code=404, detail=f"This page has no table called {name!r}.")
    return Response(
        table.to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def _respond(request: Request, page: Page, suffix: str) -> Response:
    if suffix == ".json":
        payload = (
            page.data if page.data is not None else (page.table.records() if page.table else {})
        )
        return json_response(payload)
    if suffix == ".csv":
        return _csv_twin(request, page)
    response: HTMLResponse = render(request, page.template, title=page.title, **page.context)
    return response


def twin_routes(
    router: APIRouter, path: str, *, private: bool = False, **route_options: Any
) -> Callable[..., Any]:
    """Register ``path`` as an HTML page with ``.json`` and ``.csv`` twins.

    ``private`` marks a signed-in page: the page and its twins are sent ``private, no-store``.
    """

    def decorator(handler: Callable[..., Page]) -> Callable[..., Page]:
        signature = inspect.signature(handler)
        for suffix in (".json", ".csv", ""):

            def endpoint(
                request: Request, *args: Any, _suffix: str = suffix, **kwargs: Any
            ) -> Response:
                response = _respond(request, handler(request, *args, **kwargs), _suffix)
                if private:
                    response.headers["Cache-Control"] = "private, no-store"
                return response

            wrapped = functools.wraps(handler)(endpoint)
            wrapped.__signature__ = signature  # type: ignore[attr-defined]
            router.add_api_route(
                path + suffix,
                wrapped,
                methods=["GET"],
                response_class=HTMLResponse if not suffix else Response,
                include_in_schema=False,
                name=f"{handler.__name__}{suffix.replace('.', '_')}",
                **route_options,
            )
        return handler

    return decorator
