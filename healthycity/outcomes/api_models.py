"""The open data API's shapes: every response's pydantic model and the path parameters.

Kept apart from the routes (``api.py``) so a reader sees the published contract in one
place; the OpenAPI document is generated from these models, so changing one is changing
``/api/v1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Path, Query, Request
from pydantic import BaseModel, Field

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
    "no interval)"
)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not found"}}

IndicatorId = Annotated[
    str,
    Path(
        pattern=ID_PATTERN,
        description="The indicator's ID: Fingertips' number, or the pack's own 'hc-…' key.",
        examples=["90631"],
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
Slug = Annotated[
    str,
    Path(
        pattern=SLUG_PATTERN,
        description="The short name in its page's address, as listed by the collection.",
        examples=["healthy-start"],
    ),
]


# ------------------------------------------------------------------------- models


class Link(BaseModel):
    kind: str = Field(description="aspiration or commitment")
    slug: str


class IndicatorOut(BaseModel):
    id: str
    name: str
    unit: str | None
    value_type: str
    polarity: str | None
    source: str = Field(description="pack, fingertips, csv or demo: where the definition came from")
    fingertips_id: str | None
    links: list[Link]


class TargetOut(BaseModel):
    link_kind: str
    link_slug: str
    statement: str
    kind: str
    status: str = Field(description="set or not_set (the source left the figure open)")
    value: float | None
    unit: str | None
    target_period: str | None


class IndicatorDetail(IndicatorOut):
    definition: str | None
    rationale: str | None
    methodology: str | None
    multiplier: float | None
    numerator_definition: str | None
    numerator_source: str | None
    denominator_definition: str | None
    denominator_source: str | None
    standard_population: str | None
    confidence_interval_method: str | None
    disclosure_control: str | None
    caveats: str | None
    data_source: str | None
    frequency: str | None
    last_updated: str | None
    targets: list[TargetOut]


class ObservationOut(BaseModel):
    area_code: str
    area_name: str
    area_type: str
    period: str
    time_period_sortable: int
    sex: str
    age: str
    category_type: str
    category: str
    value: float | None
    lower_ci95: float | None
    upper_ci95: float | None
    lower_ci998: float | None
    upper_ci998: float | None
    count: float | None
    denominator: float | None
    value_note: str | None
    illustrative: bool


class DataOut(BaseModel):
    indicator_id: str
    total: int
    offset: int
    limit: int
    next: str | None = Field(None, description="The next page's URL; null on the last page")
    previous: str | None = Field(None, description="The previous page's URL; null on the first")
    rows: list[ObservationOut]


# Rows per page of observations: the default, and the most one request may ask for.
DEFAULT_PAGE = 1000
MAX_PAGE = 10_000

# The query parameters, each described (what it does, not its name) with an example for
# the API documentation (issue 20).


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
        "E92000001",
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
    int, Query(ge=1, le=MAX_PAGE, description="How many rows to return at most, per page.")
]
Offset = Annotated[
    int,
    Query(
        ge=0,
        le=10_000_000,
        description="How many rows to skip: follow the response's next link to page.",
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


class ComparisonRow(BaseModel):
    area_code: str
    area_name: str
    value: float | None
    lower_ci95: float | None
    upper_ci95: float | None
    comparison: str = Field(
        description="better, similar, worse, higher, lower, not compared; with two levels "
        "the level follows, as in 'better (99.8%)'"
    )
    method: str | None
    confidence: float | None


class ComparisonsOut(BaseModel):
    indicator_id: str
    benchmark: str
    comparison_method: str = Field(description="How every row was judged, in words")
    benchmark_value: float | None
    period: str | None
    sex: str | None
    age: str | None
    illustrative: bool
    rows: list[ComparisonRow]


class TrendOut(BaseModel):
    indicator_id: str
    area_code: str
    outcome: str | None
    method: str | None
    points: int


class ProgressOut(BaseModel):
    statement: str
    link_kind: str
    link_slug: str
    status: str = Field(description="achieved, on track, off track, not set, not enough data")
    method: str
    target_value: float | None
    target_period: str | None


class AreaOut(BaseModel):
    code: str
    name: str
    area_type: str
    parent_code: str | None


class AreaDetail(AreaOut):
    population: int | None
    children: list[AreaOut]


class ProfileRow(BaseModel):
    indicator_id: str
    indicator_name: str
    period: str
    value: float | None
    benchmark_value: float | None
    comparison: str
    comparison_method: str | None = Field(
        None, description="How the comparison was made (method and confidence level)"
    )
    peers: int
    peer_minimum: float | None
    peer_median: float | None
    peer_maximum: float | None


class ThemeOut(BaseModel):
    slug: str
    number: int | None
    title: str
    statements: list[str]
    indicator_ids: list[str]


class StatusOut(BaseModel):
    last_updated: str | None
    illustrative: bool
    real_observations: int
    illustrative_observations: int
    releases: int


# Rows of the database as the API's shapes.


def indicator_out(row: Any, links: list[Link]) -> IndicatorOut:
    return IndicatorOut(
        id=row.id,
        name=row.name,
        unit=row.unit,
        value_type=row.value_type,
        polarity=row.polarity,
        source=row.source,
        fingertips_id=row.fingertips_id,
        links=links,
    )


def area_out(area: Any) -> AreaOut:
    return AreaOut(
        code=area.code, name=area.name, area_type=area.area_type, parent_code=area.parent_code
    )
