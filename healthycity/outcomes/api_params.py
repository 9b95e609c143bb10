"""The open data API's parameters: patterns, descriptions and examples, and paging.

Each parameter is declared once here, with a description that says what it does (not
its name again) and an example, because the OpenAPI document and the reference page at
``/api/v1/docs`` are generated from these declarations (issue 20); a test walks the
document and fails on any parameter without a real description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Path, Query, Request

PREFIX = "/api/v1"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"
CODE_PATTERN = r"^[A-Za-z0-9]{1,16}$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,99}$"
TEXT_PATTERN = r"^[^\x00-\x1f]{1,100}$"
COMPARISON_HELP = (
    "How areas are compared with the benchmark, as Fingertips offers: default (the "
    "indicator's own level, 95% unless its data use 99.8%), 95 or 99.8 (one level), "
    "two-levels (95% and 99.8%: 'better (99.8%)', 'better (95%)') or ci-overlap (the "
    "area's 95% interval against the benchmark's; not compared where the benchmark has "
    "no interval). Where a row has no interval but the publisher's own comparison, that "
    "is used whatever is chosen, and the row says 'as published'."
)
# Rows per page of observations: the default, and the most one request may ask for.
DEFAULT_PAGE = 1000
MAX_PAGE = 10_000

IndicatorId = Annotated[
    str,
    Path(
        pattern=ID_PATTERN,
        description="The indicator's ID: Fingertips' number, or the pack's own 'hc-…' key.",
        examples=["90323"],
    ),
]
AreaCode = Annotated[
    str,
    Path(
        pattern=CODE_PATTERN,
        description="The area's ONS code (E09… a borough, E54… a sub-region, E12… a region).",
        examples=["E09000007"],
    ),
]
AspirationSlug = Annotated[
    str,
    Path(
        pattern=SLUG_PATTERN,
        description="The aspiration's short name, as listed by /api/v1/aspirations.",
        examples=["healthy-start"],
    ),
]
CommitmentSlug = Annotated[
    str,
    Path(
        pattern=SLUG_PATTERN,
        description="The shared commitment's short name, as listed by /api/v1/commitments.",
        examples=["cut-child-obesity"],
    ),
]


def _text(pattern: str, description: str, example: str, **extra: Any) -> Any:
    return Query(pattern=pattern, description=description, examples=[example], **extra)


AgeFilter = Annotated[
    str | None,
    _text(
        TEXT_PATTERN,
        "An age band as published ('10-11 yrs', '18+ yrs'); the indicator's usual age when "
        "left out.",
        "10-11 yrs",
    ),
]
AreaFilter = Annotated[
    str | None,
    _text(
        CODE_PATTERN, "Only this area's rows (an ONS code); all areas when left out.", "E09000007"
    ),
]
AreaTypeFilter = Annotated[
    str | None,
    _text(
        TEXT_PATTERN,
        "Only areas of this type: country, region, sub_region or local_authority.",
        "local_authority",
        alias="type",
    ),
]
AspirationFilter = Annotated[
    str | None,
    _text(
        SLUG_PATTERN,
        "Only the indicators linked to this aspiration (its slug, as in /api/v1/aspirations).",
        "healthy-start",
    ),
]
Benchmark = Annotated[
    str,
    _text(
        CODE_PATTERN,
        "The ONS code of the area to compare with: England, the region or a sub-region.",
        "E12000007",
    ),
]
CommitmentFilter = Annotated[
    str | None,
    _text(
        SLUG_PATTERN,
        "Only the indicators linked to this shared commitment (its slug, as in "
        "/api/v1/commitments).",
        "cut-child-obesity",
    ),
]
Limit = Annotated[
    int,
    Query(
        ge=1,
        le=MAX_PAGE,
        description=f"How many rows to return at most, per page (1 to {MAX_PAGE:,}).",
        examples=[50],
    ),
]
Offset = Annotated[
    int,
    Query(
        ge=0,
        le=10_000_000,
        description="How many rows to skip: follow the response's next link to page.",
        examples=[50],
    ),
]
ParentFilter = Annotated[
    str | None,
    _text(CODE_PATTERN, "Only the areas directly within this one (an ONS code).", "E54000027"),
]
PeriodFilter = Annotated[
    str | None,
    _text(
        TEXT_PATTERN,
        "A time period exactly as published ('2018/19', '2016 - 18'); the latest when left out.",
        "2018/19",
    ),
]
SexFilter = Annotated[
    str | None,
    _text(
        TEXT_PATTERN,
        "Persons, Male or Female; the indicator's headline series when left out.",
        "Persons",
    ),
]
TrendArea = Annotated[
    str, _text(CODE_PATTERN, "The ONS code of the area whose trend is wanted.", "E09000007")
]


@dataclass(frozen=True)
class PageLinks:
    next: str | None
    previous: str | None

    @property
    def header(self) -> str:
        """The RFC 8288 ``Link`` header naming the same pages."""
        parts = [
            f'<{url}>; rel="{rel}"'
            for rel, url in (("next", self.next), ("prev", self.previous))
            if url
        ]
        return ", ".join(parts)


def page_links(request: Request, total: int, offset: int, limit: int) -> PageLinks:
    """Root-relative links to the pages either side, keeping every other parameter."""

    def at(start: int) -> str:
        params = [
            (k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")
        ]
        params += [("offset", str(start)), ("limit", str(limit))]
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return f"{root}{request.url.path}?{urlencode(params)}"

    return PageLinks(
        next=at(offset + limit) if offset + limit < total else None,
        previous=at(max(0, offset - limit)) if offset > 0 else None,
    )
