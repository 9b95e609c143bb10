"""Read functions for the outcomes pages, the open-data API and the exports.

The dashboard (issue 4) calls these and nothing else of the store, so pages stay thin and
every page's ``.json`` / ``.csv`` twin shows the same numbers. Each function takes the
caller's session. An indicator's figures come back as plain dataclasses, so a page can
cache them and render them in a template, a chart spec or a CSV alike; catalogue rows
(aspirations, commitments, an indicator's metadata) come back as loaded, for reading.

Judgements (better / similar / worse, trends, progress to target) are computed here at
read time with the statistics team's functions (``healthycity.outcomes.compare``,
``trend``, ``targets``), not stored: the benchmark is the reader's choice (England,
London, a sub-region), and a method change applies to every page at once. Fingertips'
own published judgement stays available beside ours (``published_england``).

Which rows make the headline: for each indicator, the "headline breakdown" is its
persons / all-categories series at its usual age (the most common age in its data, or
the one the catalogue names), so an indicator published for "18+ yrs" is not lost.

Issue 12: ``published`` (judgements as published, disagreements, why a city figure is
missing, how many indicators are real).

Modules: ``values`` (the dataclasses and the judgements), ``reading`` (an indicator's
series, latest values, summaries, profiles) and ``catalogue`` (the data version, the
catalogue, the search index and the pages' bulk reads). Import from the package.
"""

from healthycity.geography.service import ENGLAND
from healthycity.outcomes.queries.catalogue import (
    all_areas,
    area_names,
    area_observations,
    area_row,
    area_types,
    areas_with_data,
    aspiration,
    aspirations,
    commitment,
    commitments,
    data_version,
    deprivation_rows,
    indicator_ids,
    indicator_links,
    indicator_names,
    indicator_row,
    indicator_rows,
    life_stage,
    life_stages,
    loaded_pack,
    observations_at,
    population_bands,
    population_indicators,
    short_names,
    vision_priorities,
    vision_priority,
)
from healthycity.outcomes.queries.published import (
    Disagreement,
    RealData,
    missing_reason,
    published_disagreements,
    real_data,
)
from healthycity.outcomes.queries.reading import (
    area_profile,
    areas_within,
    breakdowns,
    data_status,
    headline_breakdown,
    indicator_info,
    indicator_summaries,
    is_population,
    latest_values,
    periods,
    point_of,
    recent_trend,
    spread,
    time_series,
)
from healthycity.outcomes.queries.values import (
    AS_PUBLISHED,
    COMPUTED_NOTE,
    AreaValue,
    Breakdown,
    DataStatus,
    IndicatorInfo,
    IndicatorSummary,
    Judgement,
    LatestTable,
    Point,
    SpineRow,
    Spread,
    TargetProgress,
    Trend,
    compare_point,
    compare_points,
    published_outcome,
    target_progress,
    trend_of,
)

__all__ = [
    "ENGLAND",
    "AS_PUBLISHED",
    "COMPUTED_NOTE",
    "AreaValue",
    "Breakdown",
    "DataStatus",
    "Disagreement",
    "IndicatorInfo",
    "IndicatorSummary",
    "Judgement",
    "LatestTable",
    "Point",
    "RealData",
    "SpineRow",
    "Spread",
    "TargetProgress",
    "Trend",
    "all_areas",
    "area_names",
    "area_observations",
    "area_profile",
    "area_row",
    "area_types",
    "areas_with_data",
    "areas_within",
    "aspiration",
    "aspirations",
    "breakdowns",
    "commitment",
    "commitments",
    "compare_point",
    "compare_points",
    "data_status",
    "data_version",
    "deprivation_rows",
    "headline_breakdown",
    "indicator_ids",
    "indicator_info",
    "indicator_links",
    "indicator_names",
    "indicator_row",
    "indicator_rows",
    "indicator_summaries",
    "is_population",
    "latest_values",
    "life_stage",
    "life_stages",
    "loaded_pack",
    "missing_reason",
    "observations_at",
    "periods",
    "point_of",
    "population_bands",
    "population_indicators",
    "published_disagreements",
    "published_outcome",
    "real_data",
    "recent_trend",
    "short_names",
    "spread",
    "target_progress",
    "time_series",
    "trend_of",
    "vision_priorities",
    "vision_priority",
]
