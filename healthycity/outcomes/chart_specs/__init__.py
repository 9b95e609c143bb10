"""Vega-Lite specs for the outcomes charts, as plain dicts.

Why plain dicts and not Altair objects: a dict is data. The same spec is rendered to SVG
on the live page, in the static export and in the PDF reports, is offered for download
beside the chart (``…/chart-NAME.vl.json``), and hashes to the SVG cache key in
``healthycity.core.charts``; nothing here imports Altair or touches the database.

Every function takes rows that the dashboard has already computed (values, limits and
the comparison *in words*) and returns a spec. Colour follows the Fingertips convention
people know (green better, amber similar, red worse, blues where no judgement applies),
and nothing relies on colour alone: the tile map prints each area's label, the bars sit
beside a table, and every chart has a text alternative written by the dashboard.

One module per chart family — ``maps`` (tile, boundary, heat map), ``bars`` (compare
bars, spine chart), ``series`` (trend, pyramid, deprivation gradients), ``funnel``
(each area against its denominator, inside control limits) — over
``common`` (colours, legend, the row types). Import from the package.
"""

from healthycity.outcomes.chart_specs.bars import compare_bars, spine_chart, spine_position
from healthycity.outcomes.chart_specs.common import (
    JUDGED,
    JUDGED_TWO,
    TWO_LEVEL_COLOURS,
    UNJUDGED,
    UNJUDGED_TWO,
    Bar,
    HeatCell,
    PyramidBar,
    Spec,
    SpineItem,
    Tile,
    TrendPoint,
    legend_domain,
    legend_title,
    quiet,
    wrap_words,
)
from healthycity.outcomes.chart_specs.funnel import (
    POSITIONS,
    FunnelArea,
    LimitPoint,
    funnel_plot,
)
from healthycity.outcomes.chart_specs.maps import boundary_map, heat_map, tile_map
from healthycity.outcomes.chart_specs.series import (
    GradientLine,
    GradientPoint,
    deprivation_gradients,
    population_pyramid,
    trend_chart,
)

__all__ = [
    "POSITIONS",
    "FunnelArea",
    "LimitPoint",
    "funnel_plot",
    "JUDGED",
    "JUDGED_TWO",
    "TWO_LEVEL_COLOURS",
    "UNJUDGED",
    "UNJUDGED_TWO",
    "Bar",
    "GradientLine",
    "GradientPoint",
    "HeatCell",
    "PyramidBar",
    "Spec",
    "SpineItem",
    "Tile",
    "TrendPoint",
    "boundary_map",
    "compare_bars",
    "deprivation_gradients",
    "heat_map",
    "legend_domain",
    "legend_title",
    "population_pyramid",
    "quiet",
    "spine_chart",
    "spine_position",
    "tile_map",
    "trend_chart",
    "wrap_words",
]
