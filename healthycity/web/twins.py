"""Every page has `.json` and `.csv` twins at the same path (as Datasette does).

A page handler returns a `Page`; `twin_routes` registers the path three times — the
suffixed twins first, so `/indicators/93356.csv` never reaches the HTML route as an id.
"""

from __future__ import annotations

import csv
import functools
import inspect
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from healthycity.web.rendering import render


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
            writer.writerow(["" if value is None else value for value in row])
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


def _json_default(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_response(data: Any) -> Response:
    body = orjson.dumps(data, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, media_type="application/json")


def _respond(request: Request, page: Page, suffix: str) -> Response:
    if suffix == ".json":
        payload = (
            page.data if page.data is not None else (page.table.records() if page.table else {})
        )
        return json_response(payload)
    if suffix == ".csv":
        table = page.table or Table(columns=[], rows=[])
        return Response(
            table.to_csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{page.filename}.csv"'},
        )
    response: HTMLResponse = render(request, page.template, title=page.title, **page.context)
    return response


def twin_routes(router: APIRouter, path: str, **route_options: Any) -> Callable[..., Any]:
    """Register ``path`` as an HTML page with ``.json`` and ``.csv`` twins."""

    def decorator(handler: Callable[..., Page]) -> Callable[..., Page]:
        signature = inspect.signature(handler)
        for suffix in (".json", ".csv", ""):

            def endpoint(
                request: Request, *args: Any, _suffix: str = suffix, **kwargs: Any
            ) -> Response:
                return _respond(request, handler(request, *args, **kwargs), _suffix)

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
