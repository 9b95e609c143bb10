"""The funnel plot: each area's value against its denominator, inside control limits.

Why a funnel and not a league table: a small area's value swings more by chance than a
large one's, so ranking them misleads. The limits narrow as the denominator grows, and
an area outside them differs from the centre by more than chance would explain at that
size (Spiegelhalter, "Funnel plots for comparing institutional performance", Stat Med
2005). The dashboard computes the limits (``healthycity.outcomes.stats.funnel``); this
module only draws them. Nothing relies on colour: each position has its own marker
shape, the two levels have their own dash patterns, and the table twin lists every area.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from healthycity.core.charts import NHS_DARK_GREY, NHS_TEXT
from healthycity.outcomes.chart_specs.common import PADDING, WIDTH, Spec

# Where an area sits, in the order the legend lists them.
POSITIONS = (
    "above the 99.8% limit",
    "above the 95% limit",
    "within the 95% limits",
    "below the 95% limit",
    "below the 99.8% limit",
)
# Shapes and colours (contrast checked against white): the shape carries the meaning.
_SHAPES = ("triangle-up", "diamond", "circle", "square", "triangle-down")
_COLOURS = ("#330072", "#005eb8", "#4c6272", "#ae2573", "#8a1538")
LIMIT_NAMES = ("95% limits", "99.8% limits")
_DASHES = ([6, 4], [1, 0])


@dataclass(frozen=True)
class FunnelArea:
    """One area on the funnel: where it sits, and what it is called."""

    name: str
    denominator: float
    value: float
    position: str


@dataclass(frozen=True)
class LimitPoint:
    """One point of a control-limit line: ``limit`` names the level, ``side`` the line."""

    limit: str
    side: str
    denominator: float
    value: float


def funnel_plot(
    areas: Sequence[FunnelArea],
    limits: Sequence[LimitPoint],
    *,
    centre: float,
    centre_name: str,
    unit: str,
    denominator_title: str,
) -> Spec:
    """Points for the areas, dashed and solid lines for the 95% and 99.8% limits, and a
    rule at the centre (the benchmark the limits are drawn around)."""
    y_title = f"Value ({unit})" if unit else "Value"
    x = {
        "field": "denominator",
        "type": "quantitative",
        "title": denominator_title,
        "scale": {"zero": False, "nice": False},
        "axis": {"format": ",.0f", "labelOverlap": True},
    }
    lines = [
        {"limit": p.limit, "side": p.side, "denominator": p.denominator, "value": p.value}
        for p in limits
    ]
    points = [
        {"name": a.name, "denominator": a.denominator, "value": a.value, "position": a.position}
        for a in areas
    ]
    shown = [p for p in POSITIONS if any(a.position == p for a in areas)]
    # One legend for shape and colour (the same field): the shape carries the meaning.
    legend = {
        "title": f"Compared with {centre_name}",
        "orient": "bottom",
        "values": shown,
        "columns": 2,
    }
    return {
        "width": WIDTH - 120,
        "height": 320,
        "padding": PADDING,
        "layer": [
            {
                "data": {"values": lines},
                "mark": {"type": "line", "strokeWidth": 1.5, "color": NHS_DARK_GREY},
                "encoding": {
                    "x": x,
                    "y": {
                        "field": "value",
                        "type": "quantitative",
                        "title": y_title,
                        "scale": {"zero": False},
                    },
                    "detail": {"field": "side", "type": "nominal"},
                    "order": {"field": "denominator", "type": "quantitative"},
                    "strokeDash": {
                        "field": "limit",
                        "type": "nominal",
                        "scale": {"domain": list(LIMIT_NAMES), "range": list(_DASHES)},
                        "legend": {"title": "Control limits", "orient": "bottom"},
                    },
                },
            },
            {
                "data": {"values": [{"centre": centre, "label": centre_name}]},
                "mark": {"type": "rule", "color": NHS_TEXT, "strokeWidth": 2},
                "encoding": {"y": {"field": "centre", "type": "quantitative"}},
            },
            {
                "data": {"values": points},
                "mark": {"type": "point", "size": 80, "filled": True, "opacity": 1},
                "encoding": {
                    "x": x,
                    "y": {"field": "value", "type": "quantitative"},
                    "shape": {
                        "field": "position",
                        "type": "nominal",
                        "scale": {
                            "domain": list(POSITIONS),
                            "range": list(_SHAPES),
                        },
                        "legend": legend,
                    },
                    "color": {
                        "field": "position",
                        "type": "nominal",
                        "scale": {"domain": list(POSITIONS), "range": list(_COLOURS)},
                        "legend": legend,
                    },
                },
            },
        ],
        "config": {"legend": {"labelLimit": 260}},
    }
