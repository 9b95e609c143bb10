"""The open data API's shapes: every response's pydantic model, each field described,
each model with an example, and the error responses each route can give.

Kept apart from the routes (``api.py``) and the parameters (``api_params.py``) so a
reader sees the published contract in one place; the OpenAPI document and the reference
page at ``/api/v1/docs`` are generated from these models, so changing one is changing
``/api/v1``. The examples are checked against their models by a test, so they cannot
drift from what the API sends.

Issue 12 on the API: what the pages say about where a figure comes from is here too —
a judgement taken from the publisher because the data have no interval is flagged
``as_published`` (with the publisher's words), a figure computed from the boroughs
carries its ``source_note`` ("computed from the boroughs (32 of 33)"), and every
indicator says whether its data are published or illustrative (``data_kind``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Re-exported: the routes import parameters and models from one place.
from healthycity.outcomes.api_params import (  # noqa: F401
    COMPARISON_HELP,
    DEFAULT_PAGE,
    MAX_PAGE,
    PREFIX,
    AreaCode,
    AspirationSlug,
    CommitmentSlug,
    IndicatorId,
    page_links,
)

DataKind = Literal["published", "illustrative", "no data"]
DATA_KIND_HELP = (
    "What kind of figures the indicator has: 'published' (at least one real figure, "
    "from a publisher's file, the shipped snapshot or counts loaded here), "
    "'illustrative' (only generated demonstration data, not real measurements) or "
    "'no data'"
)
AS_PUBLISHED_HELP = (
    "True when the row has no confidence interval to judge here and the publisher's "
    "own comparison (for example Fingertips' 'Compared to England' column) is shown "
    "instead of this site's; the comparison's method then reads 'as published'"
)
SOURCE_NOTE_HELP = (
    "How the figure was obtained when it is not simply as published: 'computed from the "
    "boroughs (N of M)' for a city or sub-region total summed from its boroughs' counts "
    "and denominators; null otherwise"
)
COMPARISON_OUTCOME_HELP = (
    "better, similar, worse (or higher, similar, lower where no judgement applies), or "
    "'not compared'; with two levels the level follows, as in 'better (99.8%)'"
)


def _example(**values: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [values]})


class ErrorOut(BaseModel):
    """The body of a refusal: what was not found, in words."""

    model_config = _example(detail="unknown indicator")
    detail: str = Field(description="Why the request was refused, in words")


class Problem(BaseModel):
    type: str = Field(description="The kind of problem ('string_pattern_mismatch')")
    loc: list[str | int] = Field(description="Where: 'path', 'query' and the parameter's name")
    msg: str = Field(description="What was wrong, in words")


class InvalidOut(BaseModel):
    """The body of a 422: every parameter that broke its pattern or range."""

    model_config = _example(
        detail=[
            {
                "type": "string_pattern_mismatch",
                "loc": ["path", "indicator_id"],
                "msg": "String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$'",
            }
        ]
    )
    detail: list[Problem] = Field(description="Each problem found, with where and why")


class Link(BaseModel):
    kind: str = Field(description="What the indicator is linked to: aspiration or commitment")
    slug: str = Field(description="The aspiration's or commitment's short name")


INDICATOR_EXAMPLE: dict[str, Any] = dict(
    id="90323",
    name="Year 6 prevalence of obesity (including severe obesity)",
    unit="%",
    value_type="proportion",
    polarity="low_is_good",
    source="pack",
    fingertips_id="90323",
    links=[{"kind": "aspiration", "slug": "healthy-start"}],
    data_kind="published",
)


class IndicatorOut(BaseModel):
    model_config = _example(**INDICATOR_EXAMPLE)
    id: str = Field(description="The indicator's ID, as used in every other path")
    name: str = Field(description="The indicator's full name")
    unit: str | None = Field(description="The unit of its values ('%', 'per 100,000')")
    value_type: str = Field(
        description="proportion, crude_rate, dsr, mean, life_expectancy, count or other: "
        "which statistical method its intervals use"
    )
    polarity: str | None = Field(
        description="high_is_good, low_is_good or null (no judgement: higher or lower)"
    )
    source: str = Field(description="pack, fingertips, csv or demo: where the definition came from")
    fingertips_id: str | None = Field(description="Its Fingertips indicator number, if any")
    links: list[Link] = Field(description="The aspirations and commitments it measures")
    data_kind: DataKind = Field(description=DATA_KIND_HELP)


class TargetOut(BaseModel):
    link_kind: str = Field(description="Whose target: aspiration or commitment")
    link_slug: str = Field(description="The aspiration's or commitment's short name")
    statement: str = Field(description="The target as its source states it")
    kind: str = Field(description="What sort of target: level, reduction, increase…")
    status: str = Field(description="set or not_set (the source left the figure open)")
    value: float | None = Field(description="The figure to reach, when set")
    unit: str | None = Field(description="The unit of the figure")
    target_period: str | None = Field(description="When it is to be reached")


class IndicatorDetail(IndicatorOut):
    model_config = _example(
        **INDICATOR_EXAMPLE,
        definition="Proportion of children in Year 6 classified as obese or severely obese.",
        rationale=None,
        methodology=None,
        multiplier=100.0,
        numerator_definition=None,
        numerator_source="National Child Measurement Programme",
        denominator_definition=None,
        denominator_source=None,
        standard_population=None,
        confidence_interval_method="Wilson score",
        disclosure_control=None,
        caveats=None,
        data_source="NHS Digital",
        frequency="Annual",
        last_updated=None,
        targets=[
            {
                "link_kind": "commitment",
                "link_slug": "cut-child-obesity",
                "statement": "Reduce childhood obesity",
                "kind": "reduction",
                "status": "not_set",
                "value": None,
                "unit": None,
                "target_period": "2020",
            }
        ],
    )
    definition: str | None = Field(description="What the indicator measures")
    rationale: str | None = Field(description="Why it matters")
    methodology: str | None = Field(description="How the values are calculated")
    multiplier: float | None = Field(description="The rate's multiplier (100, 100,000)")
    numerator_definition: str | None = Field(description="What is counted")
    numerator_source: str | None = Field(description="Where the count comes from")
    denominator_definition: str | None = Field(description="The population it is counted in")
    denominator_source: str | None = Field(description="Where the population comes from")
    standard_population: str | None = Field(
        description="The standard population of a standardised rate (ESP 2013)"
    )
    confidence_interval_method: str | None = Field(description="How intervals are computed")
    disclosure_control: str | None = Field(description="What small numbers are suppressed")
    caveats: str | None = Field(description="What to bear in mind when reading it")
    data_source: str | None = Field(description="Who publishes the data")
    frequency: str | None = Field(description="How often new figures are published")
    last_updated: str | None = Field(description="When the definition was last changed")
    targets: list[TargetOut] = Field(description="Its targets as their sources state them")


OBSERVATION_EXAMPLE: dict[str, Any] = dict(
    area_code="E12000007",
    area_name="London",
    area_type="region",
    period="2018/19",
    time_period_sortable=20180000,
    sex="Persons",
    age="10-11 yrs",
    category_type="",
    category="",
    value=23.2,
    lower_ci95=23.0,
    upper_ci95=23.4,
    lower_ci998=22.8,
    upper_ci998=23.6,
    count=21301.0,
    denominator=91815.0,
    value_note="Computed from the boroughs (33 of 33 boroughs): counts and denominators "
    "summed; Wilson",
    computed=True,
    source_note="computed from the boroughs (33 of 33)",
    compared_to_england=None,
    compared_to_region=None,
    illustrative=False,
)


class ObservationOut(BaseModel):
    model_config = _example(**OBSERVATION_EXAMPLE)
    area_code: str = Field(description="The area's ONS code")
    area_name: str = Field(description="The area's name")
    area_type: str = Field(description="country, region, sub_region or local_authority")
    period: str = Field(description="The time period as published ('2018/19')")
    time_period_sortable: int = Field(description="Fingertips' sortable form of the period")
    sex: str = Field(description="Persons, Male or Female")
    age: str = Field(description="The age band as published")
    category_type: str = Field(description="The breakdown's kind (deprivation…); '' for none")
    category: str = Field(description="The breakdown's category; '' for none")
    value: float | None = Field(description="The value; null where suppressed or missing")
    lower_ci95: float | None = Field(description="Lower 95% confidence limit")
    upper_ci95: float | None = Field(description="Upper 95% confidence limit")
    lower_ci998: float | None = Field(description="Lower 99.8% confidence limit")
    upper_ci998: float | None = Field(description="Upper 99.8% confidence limit")
    count: float | None = Field(description="The numerator (events), when published")
    denominator: float | None = Field(description="The population, when published")
    value_note: str | None = Field(
        description="The publisher's or the platform's note on the value"
    )
    computed: bool = Field(
        description="True when the figure was computed here from the boroughs' counts "
        "(the city or a sub-region), not published"
    )
    source_note: str | None = Field(description=SOURCE_NOTE_HELP)
    compared_to_england: str | None = Field(
        description="The publisher's own comparison with England, as published ('Better 95%')"
    )
    compared_to_region: str | None = Field(
        description="The publisher's own comparison with the region, as published"
    )
    illustrative: bool = Field(description="True for generated demonstration figures")


class DataOut(BaseModel):
    model_config = _example(
        indicator_id="90323",
        total=312,
        offset=0,
        limit=1,
        next="/api/v1/indicators/90323/data?offset=1&limit=1",
        previous=None,
        rows=[OBSERVATION_EXAMPLE],
    )
    indicator_id: str = Field(description="The indicator asked for")
    total: int = Field(description="How many rows match, over every page")
    offset: int = Field(description="How many rows were skipped before this page")
    limit: int = Field(description="The most rows this page could hold")
    next: str | None = Field(None, description="The next page's URL; null on the last page")
    previous: str | None = Field(None, description="The previous page's URL; null on the first")
    rows: list[ObservationOut] = Field(description="This page's observations, oldest first")


class ComparisonRow(BaseModel):
    area_code: str = Field(description="The area's ONS code")
    area_name: str = Field(description="The area's name")
    value: float | None = Field(description="The area's value at the period compared")
    lower_ci95: float | None = Field(description="Lower 95% confidence limit")
    upper_ci95: float | None = Field(description="Upper 95% confidence limit")
    comparison: str = Field(description=COMPARISON_OUTCOME_HELP)
    comparison_label: str = Field(
        description="The comparison as the pages show it: the outcome, with '(as "
        "published)' after it when the judgement is the publisher's"
    )
    as_published: bool = Field(description=AS_PUBLISHED_HELP)
    published_comparison: str | None = Field(
        description="The publisher's words for a judgement as published ('Better 95%')"
    )
    method: str | None = Field(
        description="How the area was judged: the test used, or 'as published'"
    )
    confidence: float | None = Field(
        description="The confidence level of the judgement (0.95, 0.998); null as published"
    )
    value_note: str | None = Field(description="The publisher's or the platform's note")
    source_note: str | None = Field(description=SOURCE_NOTE_HELP)
    illustrative: bool = Field(description="True for generated demonstration figures")


class ComparisonsOut(BaseModel):
    model_config = _example(
        indicator_id="92443",
        benchmark="E92000001",
        comparison_method="Judgements as published (the data have no confidence intervals "
        "to judge here)",
        benchmark_value=14.4,
        benchmark_note=None,
        period="2018",
        sex="Persons",
        age="18+ yrs",
        illustrative=False,
        published_judgements=1,
        rows=[
            {
                "area_code": "E09000007",
                "area_name": "Camden",
                "value": 12.1,
                "lower_ci95": None,
                "upper_ci95": None,
                "comparison": "similar",
                "comparison_label": "similar (as published)",
                "as_published": True,
                "published_comparison": "Similar",
                "method": "as published",
                "confidence": None,
                "value_note": None,
                "source_note": None,
                "illustrative": False,
            }
        ],
    )
    indicator_id: str = Field(description="The indicator asked for")
    benchmark: str = Field(description="The ONS code of the area compared with")
    comparison_method: str = Field(
        description="How every row was judged, in words, saying how many judgements are "
        "as published when some are"
    )
    benchmark_value: float | None = Field(description="The benchmark's value at the period")
    benchmark_note: str | None = Field(
        description="How the benchmark's figure was obtained (" + SOURCE_NOTE_HELP + ")"
    )
    period: str | None = Field(description="The period compared; null when there are no data")
    sex: str | None = Field(description="The sex of the series compared")
    age: str | None = Field(description="The age band of the series compared")
    illustrative: bool = Field(description="True when any figure is generated, not real")
    published_judgements: int = Field(description="How many rows' judgements are as published")
    rows: list[ComparisonRow] = Field(description="Every area with data at the period")


class TrendOut(BaseModel):
    model_config = _example(
        indicator_id="90323",
        area_code="E09000007",
        outcome="no significant change",
        method="chi-squared test for trend in proportions, last 5 points, 99.8%",
        points=8,
    )
    indicator_id: str = Field(description="The indicator asked for")
    area_code: str = Field(description="The area whose trend this is")
    outcome: str | None = Field(
        description="increasing, decreasing (getting better or worse where the indicator "
        "has a polarity), no significant change, or cannot be calculated"
    )
    method: str | None = Field(description="The test used over the last five points")
    points: int = Field(description="How many periods of the area have a value")


class ProgressOut(BaseModel):
    model_config = _example(
        statement="A 10% cut in the proportion of children obese by Year 6, by 2020.",
        link_kind="aspiration",
        link_slug="healthy-start",
        status="on track",
        method="least-squares line through the last 5 points, projected to 2021; target at "
        "most 22.4603",
        target_value=22.460259232086084,
        target_period="2020",
    )
    statement: str = Field(description="The target as its source states it")
    link_kind: str = Field(description="Whose target: aspiration or commitment")
    link_slug: str = Field(description="The aspiration's or commitment's short name")
    status: str = Field(description="achieved, on track, off track, not set, not enough data")
    method: str = Field(description="How progress was judged, in words")
    target_value: float | None = Field(description="The figure to reach, when set")
    target_period: str | None = Field(description="When it is to be reached")


class AreaOut(BaseModel):
    model_config = _example(
        code="E09000007", name="Camden", area_type="local_authority", parent_code="E54000028"
    )
    code: str = Field(description="The area's ONS code")
    name: str = Field(description="The area's name")
    area_type: str = Field(description="country, region, sub_region or local_authority")
    parent_code: str | None = Field(description="The ONS code of the area it sits within")


class AreaDetail(AreaOut):
    model_config = _example(
        code="E54000027",
        name="North West London",
        area_type="sub_region",
        parent_code="E12000007",
        population=None,
        children=[
            {
                "code": "E09000005",
                "name": "Brent",
                "area_type": "local_authority",
                "parent_code": "E54000027",
            }
        ],
    )
    population: int | None = Field(description="Its resident population, when the pack has it")
    children: list[AreaOut] = Field(description="The areas directly within it, by name")


class ProfileRow(BaseModel):
    model_config = _example(
        indicator_id="90323",
        indicator_name="Year 6 prevalence of obesity (including severe obesity)",
        period="2018/19",
        value=25.1,
        benchmark_value=20.2,
        benchmark_note=None,
        comparison="worse",
        comparison_label="worse",
        as_published=False,
        published_comparison=None,
        comparison_method="benchmark inside the area's confidence interval (95%)",
        value_note=None,
        source_note=None,
        illustrative=False,
        peers=33,
        peer_minimum=13.8,
        peer_median=22.4,
        peer_maximum=28.5,
    )
    indicator_id: str = Field(description="The indicator's ID")
    indicator_name: str = Field(description="The indicator's full name")
    period: str = Field(description="The area's latest period with data")
    value: float | None = Field(description="The area's value at that period")
    benchmark_value: float | None = Field(description="The benchmark's value at that period")
    benchmark_note: str | None = Field(
        description="How the benchmark's figure was obtained (" + SOURCE_NOTE_HELP + ")"
    )
    comparison: str = Field(description=COMPARISON_OUTCOME_HELP)
    comparison_label: str = Field(
        description="The comparison as the pages show it, '(as published)' when the publisher's"
    )
    as_published: bool = Field(description=AS_PUBLISHED_HELP)
    published_comparison: str | None = Field(
        description="The publisher's words for a judgement as published"
    )
    comparison_method: str | None = Field(
        None, description="How the comparison was made (method and confidence level)"
    )
    value_note: str | None = Field(description="The publisher's or the platform's note")
    source_note: str | None = Field(description=SOURCE_NOTE_HELP)
    illustrative: bool = Field(description="True for generated demonstration figures")
    peers: int = Field(description="How many areas of the same type have a value")
    peer_minimum: float | None = Field(description="The lowest value among them")
    peer_median: float | None = Field(description="The median of their values")
    peer_maximum: float | None = Field(description="The highest value among them")


class ThemeOut(BaseModel):
    model_config = _example(
        slug="healthy-start",
        number=1,
        title="Give all London's children a healthy, happy start to life",
        statements=["Reduce childhood obesity"],
        indicator_ids=["90631", "90323"],
    )
    slug: str = Field(description="The short name in its page's address")
    number: int | None = Field(description="Its number in the city's strategy")
    title: str = Field(description="Its title, as the strategy words it")
    statements: list[str] = Field(description="Its ambitions or commitment, in words")
    indicator_ids: list[str] = Field(description="The indicators that measure it")


class StatusOut(BaseModel):
    model_config = _example(
        last_updated="2024-05-01T09:30:00",
        illustrative=True,
        real_observations=2184,
        illustrative_observations=18240,
        releases=3,
        published_indicators=12,
        indicators=40,
    )
    last_updated: str | None = Field(description="When data were last loaded (ISO 8601)")
    illustrative: bool = Field(description="True when any figure shown is generated")
    real_observations: int = Field(description="How many published (real) figures are held")
    illustrative_observations: int = Field(description="How many generated figures are held")
    releases: int = Field(description="How many data releases have been loaded")
    published_indicators: int = Field(description="How many indicators show published figures")
    indicators: int = Field(description="How many indicators the site has")


# Every model with its example, for the test that holds the examples to their models.
EXAMPLED: tuple[type[BaseModel], ...] = (
    ErrorOut,
    InvalidOut,
    IndicatorOut,
    IndicatorDetail,
    ObservationOut,
    DataOut,
    ComparisonsOut,
    TrendOut,
    ProgressOut,
    AreaOut,
    AreaDetail,
    ProfileRow,
    ThemeOut,
    StatusOut,
)

# ------------------------------------------------------------------------- responses

INVALID = (
    "A parameter broke its pattern or range (an ID with spaces, a limit over 10,000, an "
    "unknown comparison method): `detail` lists each, where it was and why"
)


def refusals(
    missing: str | None = None, detail: str = "", *, invalid: bool = True
) -> dict[int | str, Any]:
    """The error responses of a route, each described with an example body: 404 when
    ``missing`` (what was not found, in words; ``detail`` the message sent), 422 when it
    takes parameters."""
    found: dict[int | str, Any] = {}
    if missing:
        found[404] = {
            "model": ErrorOut,
            "description": missing,
            "content": {"application/json": {"example": {"detail": detail}}},
        }
    if invalid:
        found[422] = {"model": InvalidOut, "description": INVALID}
    return found


# Rows of the database as the API's shapes.


def indicator_out(row: Any, links: list[Link], data_kind: DataKind) -> IndicatorOut:
    return IndicatorOut(
        id=row.id,
        name=row.name,
        unit=row.unit,
        value_type=row.value_type,
        polarity=row.polarity,
        source=row.source,
        fingertips_id=row.fingertips_id,
        links=links,
        data_kind=data_kind,
    )


def area_out(area: Any) -> AreaOut:
    return AreaOut(
        code=area.code, name=area.name, area_type=area.area_type, parent_code=area.parent_code
    )
