"""Comparisons along one axis: the bars of every area and the area page's spine chart."""

from __future__ import annotations

import json
from collections.abc import Sequence

from healthycity.core.charts import NHS_TEXT
from healthycity.outcomes.chart_specs.common import (
    PADDING,
    WIDTH,
    Bar,
    Spec,
    SpineItem,
    colour_scale,
    legend_domain,
    outline_layer,
    wrap_words,
)

# The spine's own width, the width of each figure column beside it, and how many
# characters of an indicator's name go on one line of its label.
SPINE_WIDTH = 320
FIGURE_STEP = 92
LABEL_LINE = 44


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
                    "scale": colour_scale(domain),
                    "legend": {
                        "titleLimit": WIDTH,
                        "title": legend or f"Compared with {benchmark_name}",
                        "orient": "bottom",
                    },
                },
            },
        },
        outline_layer(
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


def spine_chart(
    items: Sequence[SpineItem],
    *,
    benchmark_name: str,
    area_name: str = "Area",
    legend: str | None = None,
) -> Spec:
    """Fingertips' area-profile spine: per indicator, the range across peer areas
    (light: lowest to highest; dark: middle half), the benchmark as the centre line and
    the area as a marker, scaled so worse is always left and better right; beside it,
    as Fingertips prints them, the area's value, the benchmark's and the range.

    Every label is whole: indicator names are wrapped in whole words (``wrap_words``)
    on rows tall enough for their lines, column headings and the legend's sentence
    likewise, and no limit cuts any of them with "…".
    """
    domain = legend_domain([i.outcome for i in items])
    values = [
        {
            "label": "\n".join(wrap_words(i.label, LABEL_LINE)),
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
    lines = max((str(v["label"]).count("\n") + 1 for v in values), default=1)
    height = {"step": max(22, 14 * lines + 8)}
    order = [v["label"] for v in values]
    y = {
        "field": "label",
        "type": "nominal",
        "sort": order,
        "title": None,
        "axis": {
            "labelLimit": 0,
            "labelFontSize": 11,
            "labelExpr": "split(datum.label, '\\n')",
            "labelLineHeight": 13,
        },
    }
    scale = {"domain": [0, 1]}
    spine: Spec = {
        "width": SPINE_WIDTH,
        "height": height,
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
                                "datum.value == 0 ? 'Worst' : datum.value == 1 ? 'Best' : "
                                + json.dumps(benchmark_name)
                            ),
                            "labelLimit": 0,
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
                        "scale": colour_scale(domain),
                        "legend": {
                            "title": wrap_words(legend or f"Compared with {benchmark_name}", 70),
                            "titleLimit": 0,
                            "labelLimit": 0,
                            "orient": "bottom",
                        },
                    },
                },
            },
        ],
    }
    # The figures beside each row: one text mark per row and column, headed on top.
    headings = {"a": area_name, "b": benchmark_name, "c": "Range"}
    figures = [
        {"label": v["label"], "column": column, "text": text}
        for v, i in zip(values, items, strict=True)
        for column, text in (("a", i.value_text), ("b", i.benchmark_text), ("c", i.range_text))
    ]
    heading_expr = (
        " : ".join(
            f"datum.value == '{key}' ? {json.dumps(wrap_words(name, 14))}"
            for key, name in headings.items()
        )
        + " : ''"
    )
    table: Spec = {
        "width": {"step": FIGURE_STEP},
        "height": height,
        "data": {"values": figures},
        "mark": {"type": "text", "fontSize": 11, "color": NHS_TEXT, "limit": 0},
        "encoding": {
            "y": {"field": "label", "type": "nominal", "sort": order, "axis": None},
            "x": {
                "field": "column",
                "type": "nominal",
                "sort": list(headings),
                "title": None,
                "axis": {
                    "orient": "top",
                    "labelAngle": 0,
                    "labelLimit": 0,
                    "labelExpr": heading_expr,
                    "labelFontWeight": "bold",
                    "labelLineHeight": 13,
                    "domain": False,
                    "ticks": False,
                },
            },
            "text": {"field": "text"},
        },
    }
    return {
        "padding": PADDING,
        "data": {"values": values},
        "spacing": 12,
        "hconcat": [spine, table],
        "resolve": {"scale": {"y": "shared"}},
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
