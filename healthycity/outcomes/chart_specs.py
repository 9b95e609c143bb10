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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from healthycity.core.charts import COMPARISON_COLOURS, NHS_BLUE, NHS_DARK_GREY, NHS_TEXT

Spec = dict[str, Any]

# Order of the comparison legend: judged outcomes, then the no-judgement words.
JUDGED = ("better", "similar", "worse", "not compared")
UNJUDGED = ("lower", "similar", "higher", "not compared")
# Two levels (95% and 99.8%): significant at 99.8% is the darker shade *and* outlined,
# significant only at 95% the lighter shade, so the levels differ by more than colour.
JUDGED_TWO = (
    "better (99.8%)",
    "better (95%)",
    "similar",
    "worse (95%)",
    "worse (99.8%)",
    "not compared",
)
UNJUDGED_TWO = (
    "lower (99.8%)",
    "lower (95%)",
    "similar",
    "higher (95%)",
    "higher (99.8%)",
    "not compared",
)
# Shades checked for WCAG 2.2 AA text contrast with the ink printed on them (white on
# the dark ones, NHS text colour on the light ones: every pair 5:1 or more).
TWO_LEVEL_COLOURS: dict[str, str] = {
    "better (99.8%)": "#00401e",
    "better (95%)": "#78be20",
    "worse (95%)": "#f28b82",
    "worse (99.8%)": "#8a1538",
    "higher (95%)": "#41b6e6",
    "higher (99.8%)": "#005eb8",
    "lower (95%)": "#a58fd6",
    "lower (99.8%)": "#330072",
}
_COLOURS = {**COMPARISON_COLOURS, **TWO_LEVEL_COLOURS}
# Text on a tile must stay readable over its fill.
_DARK_FILLS = {
    "better",
    "worse",
    "lower",
    "better (99.8%)",
    "worse (99.8%)",
    "higher (99.8%)",
    "lower (99.8%)",
}
# Outlined in the maps and bars: the stronger of two levels.
OUTLINE = "(99.8%)"
_SERIES_COLOURS = (NHS_BLUE, NHS_TEXT, "#ae2573", "#007f3b", "#ed8b00")
_SERIES_DASHES = ([1, 0], [6, 4], [2, 2], [8, 2, 2, 2], [4, 1])
WIDTH = 640
# Room for axis labels drawn in a wider fallback font than the one they were measured in.
PADDING = {"left": 40, "right": 12, "top": 8, "bottom": 8}


@dataclass(frozen=True)
class Tile:
    """One area on the tile map."""

    code: str
    name: str
    label: str
    col: int
    row: int
    outcome: str
    value_text: str


@dataclass(frozen=True)
class Bar:
    """One area on the compare-areas chart (value with its interval)."""

    name: str
    value: float
    lower: float | None
    upper: float | None
    outcome: str
    benchmark: float | None
    highlight: bool = False


@dataclass(frozen=True)
class TrendPoint:
    series: str
    period: str
    order: int
    value: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class SpineItem:
    """One indicator on a spine chart, already scaled: 0 worst, 0.5 benchmark, 1 best."""

    label: str
    low: float
    q1: float
    q3: float
    high: float
    area: float
    outcome: str
    value_text: str


@dataclass(frozen=True)
class HeatCell:
    area: str
    indicator: str
    outcome: str
    value_text: str


@dataclass(frozen=True)
class PyramidBar:
    age: str
    order: int
    sex: str
    population: float


def quiet(spec: Spec) -> Spec:
    """Hide the marks, axes and legends from assistive technology.

    The rendered SVG is one image with one name (its text alternative) and a table
    beside it; Vega's per-mark ARIA roles inside it would only add unnamed noise.
    """

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            mark = out.get("mark")
            if isinstance(mark, str):
                out["mark"] = {"type": mark, "aria": False}
            elif isinstance(mark, dict):
                out["mark"] = {**mark, "aria": False}
            for key in ("axis", "legend"):
                if isinstance(out.get(key), dict):
                    out[key] = {**out[key], "aria": False}
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    walked: Spec = walk(spec)
    return walked


def legend_domain(outcomes: Sequence[str]) -> list[str]:
    """The legend's categories: the usual set for the polarity (and for one or two
    levels), plus anything unusual."""
    two = any(o.endswith("%)") for o in outcomes)
    unjudged = any(o.split(" (")[0] in ("higher", "lower") for o in outcomes)
    if two:
        base: tuple[str, ...] = UNJUDGED_TWO if unjudged else JUDGED_TWO
    else:
        base = UNJUDGED if unjudged else JUDGED
    extra = sorted({o for o in outcomes if o not in base})
    return [*base, *extra]


def legend_title(method_text: str, outcomes: Sequence[str]) -> str:
    """The legend's title: how areas were compared, in words, and what an outline
    means when two levels are shown."""
    if any(o.endswith("%)") for o in outcomes):
        return f"{method_text}; outlined: significant at 99.8%"
    return method_text


def _colour_scale(domain: Sequence[str]) -> dict[str, Any]:
    return {
        "domain": list(domain),
        "range": [_COLOURS.get(o, COMPARISON_COLOURS["not compared"]) for o in domain],
    }


def _outline_layer(
    encoding: dict[str, Any], mark: dict[str, Any], field: str = "datum.outcome"
) -> Spec:
    """The same marks again, unfilled with a thick dark edge, for 99.8% results only."""
    return {
        "transform": [{"filter": f"indexof({field}, '{OUTLINE}') >= 0"}],
        "mark": {**mark, "filled": False, "fill": None, "stroke": NHS_TEXT, "strokeWidth": 3},
        "encoding": encoding,
    }


def _ink(outcome: str) -> str:
    return "white" if outcome in _DARK_FILLS else NHS_TEXT


def tile_map(tiles: Sequence[Tile], *, legend_title: str) -> Spec:
    """A tile grid (one square per area, placed as the city pack says), coloured by
    comparison, each tile labelled so no one needs the colour to find an area."""
    cols = max((t.col for t in tiles), default=0)
    rows = max((t.row for t in tiles), default=0)
    domain = legend_domain([t.outcome for t in tiles])
    values = [
        {
            "code": t.code,
            "name": t.name,
            "label": t.label,
            "col": t.col,
            "row": t.row,
            "outcome": t.outcome,
            "value": t.value_text,
            "ink": _ink(t.outcome),
        }
        for t in tiles
    ]
    size = 68
    x = {
        "field": "col",
        "type": "ordinal",
        "axis": None,
        "scale": {"domain": list(range(cols + 1)), "paddingInner": 0.08},
    }
    y = {
        "field": "row",
        "type": "ordinal",
        "axis": None,
        "scale": {"domain": list(range(rows + 1)), "paddingInner": 0.08},
    }
    return {
        "width": size * (cols + 1),
        "height": size * (rows + 1),
        "data": {"values": values},
        "encoding": {"x": x, "y": y},
        "layer": [
            {
                "mark": {"type": "rect", "cornerRadius": 3, "stroke": "white"},
                "encoding": {
                    "color": {
                        "field": "outcome",
                        "type": "nominal",
                        "scale": _colour_scale(domain),
                        "legend": {
                            "titleLimit": WIDTH,
                            "title": legend_title,
                            "orient": "bottom",
                            "columns": 4,
                            "symbolType": "square",
                            "symbolSize": 160,
                        },
                    }
                },
            },
            _outline_layer({}, {"type": "rect", "cornerRadius": 3}),
            {
                "mark": {"type": "text", "fontSize": 14, "fontWeight": "bold", "dy": -8},
                "encoding": {"text": {"field": "label"}, "color": {"field": "ink", "scale": None}},
            },
            {
                "mark": {"type": "text", "fontSize": 12, "dy": 10},
                "encoding": {"text": {"field": "value"}, "color": {"field": "ink", "scale": None}},
            },
        ],
    }


def boundary_map(features: Sequence[dict[str, Any]], *, legend_title: str) -> Spec:
    """Real boundaries (GeoJSON features whose properties carry ``name`` and
    ``outcome``), coloured by comparison, in a Mercator projection fitted to them."""
    domain = legend_domain([str(f["properties"].get("outcome", "")) for f in features])
    return {
        "width": WIDTH,
        "height": 480,
        "data": {"values": list(features), "format": {"type": "json"}},
        "projection": {"type": "mercator"},
        "layer": [
            {
                "mark": {"type": "geoshape", "stroke": "white", "strokeWidth": 1},
                "encoding": {
                    "color": {
                        "field": "properties.outcome",
                        "type": "nominal",
                        "scale": _colour_scale(domain),
                        "legend": {
                            "title": legend_title,
                            "titleLimit": WIDTH,
                            "orient": "bottom",
                            "columns": 4,
                        },
                    }
                },
            },
            _outline_layer({}, {"type": "geoshape"}, "datum.properties.outcome"),
        ],
    }


def compare_bars(
    bars: Sequence[Bar], *, unit: str, benchmark_name: str, legend: str | None = None
) -> Spec:
    """Bars ordered by value with their interval as whiskers, and the benchmark drawn
    as one line (or as a tick on each bar when areas have different benchmarks)."""
    domain = legend_domain([b.outcome for b in bars])
    values = [
        {
            "name": b.name,
            "value": b.value,
            "lower": b.lower,
            "upper": b.upper,
            "outcome": b.outcome,
            "benchmark": b.benchmark,
            "weight": "bold" if b.highlight else "normal",
        }
        for b in bars
    ]
    order = [b.name for b in sorted(bars, key=lambda b: -b.value)]
    y = {
        "field": "name",
        "type": "nominal",
        "sort": order,
        "title": None,
        "axis": {"labelLimit": 220},
    }
    x_title = f"Value ({unit})" if unit else "Value"
    layers: list[Spec] = [
        {
            "mark": {"type": "bar", "height": {"band": 0.7}},
            "encoding": {
                "y": y,
                "x": {"field": "value", "type": "quantitative", "title": x_title},
                "color": {
                    "field": "outcome",
                    "type": "nominal",
                    "scale": _colour_scale(domain),
                    "legend": {
                        "titleLimit": WIDTH,
                        "title": legend or f"Compared with {benchmark_name}",
                        "orient": "bottom",
                    },
                },
            },
        },
        _outline_layer(
            {"y": y, "x": {"field": "value", "type": "quantitative"}},
            {"type": "bar", "height": {"band": 0.7}},
        ),
        {
            "transform": [{"filter": "isValid(datum.lower) && isValid(datum.upper)"}],
            "mark": {"type": "rule", "color": NHS_TEXT},
            "encoding": {
                "y": y,
                "x": {"field": "lower", "type": "quantitative"},
                "x2": {"field": "upper"},
            },
        },
    ]
    benchmarks = {b.benchmark for b in bars if b.benchmark is not None}
    if len(benchmarks) == 1:
        (level,) = benchmarks
        layers.append(
            {
                "data": {"values": [{"benchmark": level, "label": benchmark_name}]},
                "encoding": {"x": {"field": "benchmark", "type": "quantitative"}},
                "layer": [
                    {"mark": {"type": "rule", "color": NHS_TEXT, "strokeWidth": 2}},
                    {
                        "mark": {
                            "type": "text",
                            "align": "left",
                            "dx": 4,
                            "dy": -6,
                            "y": 0,
                            "color": NHS_TEXT,
                            "fontWeight": "bold",
                        },
                        "encoding": {"text": {"field": "label"}},
                    },
                ],
            }
        )
    elif benchmarks:
        layers.append(
            {
                "transform": [{"filter": "isValid(datum.benchmark)"}],
                "mark": {"type": "tick", "color": NHS_TEXT, "thickness": 2},
                "encoding": {"y": y, "x": {"field": "benchmark", "type": "quantitative"}},
            }
        )
    return {
        "width": WIDTH - 240,
        "height": {"step": 17},
        "padding": PADDING,
        "data": {"values": values},
        "layer": layers,
    }


def trend_chart(points: Sequence[TrendPoint], *, unit: str) -> Spec:
    """Lines over time for a few areas, each with its own colour *and* dash pattern,
    points on every period and whiskers for the 95% interval."""
    names: list[str] = []
    for p in points:
        if p.series not in names:
            names.append(p.series)
    periods = [p.period for p in sorted(points, key=lambda p: (p.order, p.period))]
    period_order = list(dict.fromkeys(periods))
    colours = [_SERIES_COLOURS[i % len(_SERIES_COLOURS)] for i in range(len(names))]
    dashes = [_SERIES_DASHES[i % len(_SERIES_DASHES)] for i in range(len(names))]
    values = [
        {
            "series": p.series,
            "period": p.period,
            "value": p.value,
            "lower": p.lower,
            "upper": p.upper,
        }
        for p in points
        if p.value is not None
    ]
    x = {
        "field": "period",
        "type": "ordinal",
        "sort": period_order,
        "title": "Time period",
        "axis": {"labelAngle": -40 if len(period_order) > 6 else 0},
    }
    colour = {
        "field": "series",
        "type": "nominal",
        "scale": {"domain": names, "range": colours},
        "legend": {"title": None, "orient": "bottom"},
    }
    return {
        "width": WIDTH - 80,
        "height": 300,
        "data": {"values": values},
        "encoding": {"x": x, "color": colour},
        "layer": [
            {
                "mark": {"type": "line", "strokeWidth": 2.5},
                "encoding": {
                    "y": {
                        "field": "value",
                        "type": "quantitative",
                        "title": f"Value ({unit})" if unit else "Value",
                        "scale": {"zero": False},
                    },
                    "strokeDash": {
                        "field": "series",
                        "type": "nominal",
                        "scale": {"domain": names, "range": dashes},
                        "legend": None,
                    },
                },
            },
            {
                "transform": [{"filter": "isValid(datum.lower) && isValid(datum.upper)"}],
                "mark": {"type": "rule", "strokeWidth": 1.5},
                "encoding": {
                    "y": {"field": "lower", "type": "quantitative"},
                    "y2": {"field": "upper"},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 45},
                "encoding": {
                    "y": {"field": "value", "type": "quantitative"},
                    "shape": {"field": "series", "type": "nominal", "legend": None},
                },
            },
        ],
    }


def spine_chart(
    items: Sequence[SpineItem], *, benchmark_name: str, legend: str | None = None
) -> Spec:
    """Fingertips' area-profile spine: per indicator, the range across peer areas
    (light: lowest to highest; dark: middle half), the benchmark as the centre line and
    the area as a marker. Scaled so worse is always left and better right."""
    domain = legend_domain([i.outcome for i in items])
    values = [
        {
            "label": i.label,
            "low": i.low,
            "q1": i.q1,
            "q3": i.q3,
            "high": i.high,
            "area": i.area,
            "outcome": i.outcome,
            "value": i.value_text,
        }
        for i in items
    ]
    order = [i.label for i in items]
    y = {
        "field": "label",
        "type": "nominal",
        "sort": order,
        "title": None,
        "axis": {"labelLimit": 260, "labelFontSize": 11},
    }
    scale = {"domain": [0, 1]}
    return {
        "width": 420,
        "height": {"step": 22},
        "padding": PADDING,
        "data": {"values": values},
        "layer": [
            {
                "mark": {"type": "bar", "color": "#d8dde0", "height": {"band": 0.7}},
                "encoding": {
                    "y": y,
                    "x": {
                        "field": "low",
                        "type": "quantitative",
                        "scale": scale,
                        "axis": {
                            "values": [0, 0.5, 1],
                            "labelExpr": (
                                "datum.value == 0 ? 'Worst' : datum.value == 1 ? 'Best' : '"
                                + benchmark_name.replace("'", "")
                                + "'"
                            ),
                            "title": None,
                            "grid": False,
                        },
                    },
                    "x2": {"field": "high"},
                },
            },
            {
                "mark": {"type": "bar", "color": "#aeb7bd", "height": {"band": 0.7}},
                "encoding": {
                    "y": y,
                    "x": {"field": "q1", "type": "quantitative", "scale": scale},
                    "x2": {"field": "q3"},
                },
            },
            {
                "data": {"values": [{"centre": 0.5}]},
                "mark": {"type": "rule", "color": "#d5281b", "strokeWidth": 2},
                "encoding": {"x": {"field": "centre", "type": "quantitative", "scale": scale}},
            },
            {
                "mark": {
                    "type": "point",
                    "filled": True,
                    "size": 110,
                    "stroke": NHS_TEXT,
                    "strokeWidth": 1,
                    "opacity": 1,
                },
                "encoding": {
                    "y": y,
                    "x": {"field": "area", "type": "quantitative", "scale": scale},
                    "color": {
                        "field": "outcome",
                        "type": "nominal",
                        "scale": _colour_scale(domain),
                        "legend": {
                            "titleLimit": WIDTH,
                            "title": legend or f"Compared with {benchmark_name}",
                            "orient": "bottom",
                        },
                    },
                },
            },
        ],
    }


def spine_position(
    value: float, benchmark: float, low: float, high: float, *, low_is_good: bool
) -> float:
    """Place ``value`` on the spine: the benchmark at 0.5 and the furthest peer from it
    at 0 or 1, mirrored when low is good so that better is always to the right."""
    reach = max(abs(benchmark - low), abs(high - benchmark))
    if reach <= 0:
        return 0.5
    position = 0.5 + (value - benchmark) / (2 * reach)
    if low_is_good:
        position = 1 - position
    return min(1.0, max(0.0, position))


def heat_map(cells: Sequence[HeatCell], *, areas: Sequence[str], indicators: Sequence[str]) -> Spec:
    """Areas × indicators, each cell coloured by comparison and printed with its value."""
    domain = legend_domain([c.outcome for c in cells])
    values = [
        {
            "area": c.area,
            "indicator": c.indicator,
            "outcome": c.outcome,
            "value": c.value_text,
            "ink": _ink(c.outcome),
        }
        for c in cells
    ]
    step = 54
    return {
        "width": {"step": step},
        "height": {"step": 20},
        "data": {"values": values},
        "encoding": {
            "x": {
                "field": "indicator",
                "type": "nominal",
                "sort": list(indicators),
                "title": None,
                "axis": {"orient": "top", "labelAngle": -45, "labelLimit": 200},
            },
            "y": {
                "field": "area",
                "type": "nominal",
                "sort": list(areas),
                "title": None,
                "axis": {"labelLimit": 200},
            },
        },
        "layer": [
            {
                "mark": {"type": "rect", "stroke": "white"},
                "encoding": {
                    "color": {
                        "field": "outcome",
                        "type": "nominal",
                        "scale": _colour_scale(domain),
                        "legend": {"title": "Compared with England", "orient": "bottom"},
                    }
                },
            },
            {
                "mark": {"type": "text", "fontSize": 10},
                "encoding": {"text": {"field": "value"}, "color": {"field": "ink", "scale": None}},
            },
        ],
    }


def population_pyramid(bars: Sequence[PyramidBar], *, sexes: tuple[str, str]) -> Spec:
    """Males to the left, females to the right, oldest at the top."""
    left, right = sexes
    ages = [b.age for b in sorted(bars, key=lambda b: -b.order)]
    order = list(dict.fromkeys(ages))
    values = [
        {
            "age": b.age,
            "sex": b.sex,
            "signed": -b.population if b.sex == left else b.population,
            "population": b.population,
        }
        for b in bars
    ]
    return {
        "width": WIDTH - 200,
        "height": {"step": 16},
        "data": {"values": values},
        "mark": {"type": "bar", "height": {"band": 0.85}},
        "encoding": {
            "y": {"field": "age", "type": "nominal", "sort": order, "title": "Age"},
            "x": {
                "field": "signed",
                "type": "quantitative",
                "title": "People",
                "axis": {"labelExpr": "format(abs(datum.value), '~s')"},
            },
            "color": {
                "field": "sex",
                "type": "nominal",
                "scale": {"domain": [left, right], "range": [NHS_BLUE, NHS_DARK_GREY]},
                "legend": {"title": None, "orient": "bottom"},
            },
        },
    }


@dataclass(frozen=True)
class GradientPoint:
    """One deprivation group of one indicator: its place on the population scale (the
    midpoint of its cumulative share, 0 = most deprived end) and its value."""

    panel: str
    group: str
    position: float
    value: float
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class GradientLine:
    """The line whose slope is the SII: its fitted value at each end of the scale."""

    panel: str
    most_deprived: float
    least_deprived: float


def deprivation_gradients(
    points: Sequence[GradientPoint], lines: Sequence[GradientLine], *, columns: int = 3
) -> Spec:
    """Small multiples, one panel per indicator: each deprivation group's value with its
    95% interval, placed along the population from most to least deprived, and the
    fitted line whose slope is the slope index of inequality. Every panel has its own
    value scale (indicators come in different units); the table beside it has the
    figures."""
    values: list[dict[str, Any]] = [
        {
            "panel": p.panel,
            "kind": "group",
            "group": p.group,
            "x": p.position,
            "value": p.value,
            "lower": p.lower,
            "upper": p.upper,
        }
        for p in points
    ]
    values += [
        {
            "panel": line.panel,
            "kind": "fit",
            "x": 0.0,
            "x2": 1.0,
            "value": line.most_deprived,
            "value2": line.least_deprived,
        }
        for line in lines
    ]
    x = {
        "field": "x",
        "type": "quantitative",
        "scale": {"domain": [0, 1]},
        "title": "Most deprived → least deprived",
        "axis": {"values": [0, 0.5, 1], "format": ".0%", "titleFontWeight": "normal"},
    }
    y = {
        "field": "value",
        "type": "quantitative",
        "scale": {"zero": False},
        "title": None,
        "axis": {"tickCount": 4, "format": "~s"},
    }
    return {
        "padding": PADDING,
        "data": {"values": values},
        "facet": {
            "field": "panel",
            "type": "nominal",
            "title": None,
            "sort": list(dict.fromkeys(line.panel for line in lines)),
            "header": {"labelLimit": 210, "labelFontWeight": "bold"},
        },
        "columns": columns,
        "spec": {
            "width": 190,
            "height": 110,
            "layer": [
                {
                    "transform": [
                        {"filter": "datum.kind === 'group' && isValid(datum.lower)"},
                    ],
                    "mark": {"type": "rule", "color": NHS_DARK_GREY},
                    "encoding": {
                        "x": x,
                        "y": {**y, "field": "lower"},
                        "y2": {"field": "upper"},
                    },
                },
                {
                    "transform": [{"filter": "datum.kind === 'group'"}],
                    "mark": {"type": "point", "filled": True, "color": NHS_BLUE, "size": 28},
                    "encoding": {"x": x, "y": y},
                },
                {
                    "transform": [{"filter": "datum.kind === 'fit'"}],
                    "mark": {"type": "rule", "color": NHS_TEXT, "strokeWidth": 2},
                    "encoding": {
                        "x": x,
                        "x2": {"field": "x2"},
                        "y": y,
                        "y2": {"field": "value2"},
                    },
                },
            ],
        },
        "resolve": {"scale": {"y": "independent"}},
    }
