"""Values along a scale: trends over time, the population pyramid, deprivation gradients."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from healthycity.core.charts import NHS_BLUE, NHS_DARK_GREY, NHS_TEXT
from healthycity.outcomes.chart_specs.common import (
    PADDING,
    SERIES_COLOURS,
    SERIES_DASHES,
    WIDTH,
    PyramidBar,
    Spec,
    TrendPoint,
)


def trend_chart(points: Sequence[TrendPoint], *, unit: str) -> Spec:
    """Lines over time for a few areas, each with its own colour *and* dash pattern,
    points on every period and whiskers for the 95% interval."""
    names: list[str] = []
    for p in points:
        if p.series not in names:
            names.append(p.series)
    periods = [p.period for p in sorted(points, key=lambda p: (p.order, p.period))]
    period_order = list(dict.fromkeys(periods))
    colours = [SERIES_COLOURS[i % len(SERIES_COLOURS)] for i in range(len(names))]
    dashes = [SERIES_DASHES[i % len(SERIES_DASHES)] for i in range(len(names))]
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
