"""Vega-Lite specs for the estates pages: each chart is data in, spec out.

Each spec is drawn from the same rows its table twin lists, so the chart and the table
cannot disagree. Risk bands keep one order and one colour ramp everywhere (high darkest).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from healthycity.core.charts import NHS_BLUE, NHS_DARK_GREY

Spec = dict[str, Any]
WIDTH = 560
BAND_ORDER = ["high", "significant", "moderate", "low"]
BAND_COLOURS = ["#8a1538", "#d5281b", "#ed8b00", "#ffb81c"]


def _band_colour(title: str) -> dict[str, Any]:
    return {
        "field": "band",
        "type": "nominal",
        "sort": BAND_ORDER,
        "scale": {"domain": BAND_ORDER, "range": BAND_COLOURS},
        "legend": {"title": title, "orient": "bottom"},
    }


def backlog_bars(rows: Sequence[dict[str, Any]], category: str, title: str) -> Spec:
    """Stacked horizontal bars: backlog (£m) by risk band for each ``category`` value.
    ``rows`` carry ``category``, ``band`` and ``pounds``."""
    values = [r | {"millions": (r["pounds"] or 0) / 1e6} for r in rows]
    return {
        "width": WIDTH,
        "height": {"step": 26},
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": category, "type": "nominal", "title": None, "sort": None},
            "x": {"field": "millions", "type": "quantitative", "title": "Backlog (£ million)"},
            "color": _band_colour(title),
            "order": {"field": "band_order", "type": "ordinal"},
        },
    }


def backlog_trend(rows: Sequence[dict[str, Any]]) -> Spec:
    """Stacked columns of backlog (£m) by risk band, one column per year."""
    values = [r | {"millions": (r["pounds"] or 0) / 1e6} for r in rows]
    return {
        "width": WIDTH,
        "height": 260,
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "year", "type": "ordinal", "title": "Financial year"},
            "y": {"field": "millions", "type": "quantitative", "title": "Backlog (£ million)"},
            "color": _band_colour("Risk band"),
            "order": {"field": "band_order", "type": "ordinal"},
        },
    }


def share_against_target(
    rows: Sequence[dict[str, Any]], field: str, title: str, target: float
) -> Spec:
    """Bars of a percentage for each place, with the target drawn as a labelled rule."""
    return {
        "width": WIDTH,
        "height": {"step": 26},
        "layer": [
            {
                "data": {"values": list(rows)},
                "mark": {"type": "bar", "color": NHS_BLUE},
                "encoding": {
                    "y": {"field": "place", "type": "nominal", "title": None, "sort": None},
                    "x": {"field": field, "type": "quantitative", "title": title},
                },
            },
            {
                "data": {"values": [{"target": target}]},
                "mark": {"type": "rule", "color": NHS_DARK_GREY, "strokeDash": [6, 3]},
                "encoding": {"x": {"field": "target", "type": "quantitative"}},
            },
            {
                "data": {"values": [{"target": target, "label": f"Target {target:g}%"}]},
                "mark": {
                    "type": "text",
                    "align": "left",
                    "dx": 4,
                    "dy": -6,
                    "color": NHS_DARK_GREY,
                },
                "encoding": {
                    "x": {"field": "target", "type": "quantitative"},
                    "y": {"value": 0},
                    "text": {"field": "label"},
                },
            },
        ],
    }


def site_map(points: Sequence[dict[str, Any]], boundaries: Sequence[dict[str, Any]]) -> Spec:
    """Sites as circles sized by backlog, over borough boundaries when they are loaded.

    ``points`` carry ``name``, ``latitude``, ``longitude``, ``backlog_millions`` and
    ``subregion``; ``boundaries`` are GeoJSON features (may be empty).
    """
    layers: list[Spec] = []
    if boundaries:
        layers.append(
            {
                "data": {"values": list(boundaries), "format": {"type": "json"}},
                "mark": {"type": "geoshape", "fill": "#f0f4f5", "stroke": "#aeb7bd"},
            }
        )
    layers.append(
        {
            "data": {"values": list(points)},
            "mark": {"type": "circle", "opacity": 0.75, "stroke": "white", "strokeWidth": 0.5},
            "encoding": {
                "longitude": {"field": "longitude", "type": "quantitative"},
                "latitude": {"field": "latitude", "type": "quantitative"},
                "size": {
                    "field": "backlog_millions",
                    "type": "quantitative",
                    "title": "Backlog (£m)",
                    "scale": {"range": [20, 900]},
                    "legend": {"orient": "bottom"},
                },
                "color": {
                    "field": "subregion",
                    "type": "nominal",
                    "title": "Sub-region",
                    "scale": {"scheme": "tableau10"},
                    "legend": {"orient": "bottom"},
                },
            },
        }
    )
    return {"width": WIDTH, "height": 460, "projection": {"type": "mercator"}, "layer": layers}


RECEIPT_KINDS = ["received", "expected"]


def receipts_bars(rows: Sequence[dict[str, Any]]) -> Spec:
    """Bars of disposal receipts (£m) for each sub-region: received (sold) and expected (in
    the pipeline), side by side. ``rows`` carry ``place``, ``kind``, ``kind_order``, ``pounds``."""
    values = [r | {"millions": (r["pounds"] or 0) / 1e6} for r in rows]
    return {
        "width": WIDTH,
        "height": {"step": 14},
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "place", "type": "nominal", "title": None, "sort": None},
            "yOffset": {"field": "kind", "sort": RECEIPT_KINDS},
            "x": {"field": "millions", "type": "quantitative", "title": "Receipts (£ million)"},
            "color": {
                "field": "kind",
                "type": "nominal",
                "sort": RECEIPT_KINDS,
                "scale": {"domain": RECEIPT_KINDS, "range": [NHS_BLUE, "#768692"]},
                "legend": {"title": "Receipts", "orient": "bottom"},
            },
        },
    }


# Oldest darkest, newest lightest: a single-hue ramp reads as age at a glance.
AGE_COLOURS = [
    "#e8f1fb",
    "#c6dbef",
    "#9ecae1",
    "#6baed6",
    "#4292c6",
    "#2171b5",
    "#08519c",
    "#08306b",
    "#041f47",
]


def age_bars(rows: Sequence[dict[str, Any]], bands: Sequence[str]) -> Spec:
    """Stacked horizontal bars: the share of floor area built in each age band, per place.
    ``rows`` carry ``place``, ``band``, ``band_order`` and ``pct``; ``bands`` newest first."""
    colours = (AGE_COLOURS * 2)[: len(bands)]
    return {
        "width": WIDTH,
        "height": {"step": 26},
        "data": {"values": [r | {"pct": r["pct"] or 0} for r in rows]},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "place", "type": "nominal", "title": None, "sort": None},
            "x": {
                "field": "pct",
                "type": "quantitative",
                "title": "Share of floor area (%)",
                "scale": {"domain": [0, 100]},
            },
            "color": {
                "field": "band",
                "type": "nominal",
                "sort": list(bands),
                "scale": {"domain": list(bands), "range": colours},
                "legend": {"title": "Built", "orient": "bottom", "columns": 5},
            },
            "order": {"field": "band_order", "type": "ordinal"},
        },
    }


INVESTMENT_KINDS = ["backlog (all risk categories)", "investment to reduce backlog"]


def investment_bars(rows: Sequence[dict[str, Any]]) -> Spec:
    """Paired bars (£m) per place: the backlog of the trusts that reported investment, and
    the year's investment to reduce it. ``rows`` carry ``place``, ``kind`` and ``pounds``."""
    values = [r | {"millions": (r["pounds"] or 0) / 1e6} for r in rows]
    return {
        "width": WIDTH,
        "height": {"step": 14},
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "place", "type": "nominal", "title": None, "sort": None},
            "yOffset": {"field": "kind", "sort": INVESTMENT_KINDS},
            "x": {"field": "millions", "type": "quantitative", "title": "£ million"},
            "color": {
                "field": "kind",
                "type": "nominal",
                "sort": INVESTMENT_KINDS,
                "scale": {"domain": INVESTMENT_KINDS, "range": [BAND_COLOURS[0], NHS_BLUE]},
                "legend": {"title": None, "orient": "bottom"},
            },
        },
    }
