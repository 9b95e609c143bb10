"""Maps: the tile map, the boundary map and the heat map of areas by indicators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from healthycity.outcomes.chart_specs.common import (
    PADDING,
    WIDTH,
    HeatCell,
    Spec,
    Tile,
    colour_scale,
    ink,
    legend_domain,
    outline_layer,
    wrap_words,
)


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
            "ink": ink(t.outcome),
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
                        "scale": colour_scale(domain),
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
            outline_layer({}, {"type": "rect", "cornerRadius": 3}),
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
                        "scale": colour_scale(domain),
                        "legend": {
                            "title": legend_title,
                            "titleLimit": WIDTH,
                            "orient": "bottom",
                            "columns": 4,
                        },
                    }
                },
            },
            outline_layer({}, {"type": "geoshape"}, "datum.properties.outcome"),
        ],
    }


# Characters of an indicator's name on one line of the heat map's key.
KEY_LINE = 72


def heat_map(cells: Sequence[HeatCell], *, areas: Sequence[str], indicators: Sequence[str]) -> Spec:
    """Areas × indicators, each cell coloured by comparison and printed with its value.

    Columns are headed by their number and the key beneath the grid gives each number's
    indicator in full (wrapped in whole words, ``wrap_words``): long names at an angle
    either collide or get cut with "…", and a number reads at any width."""
    domain = legend_domain([c.outcome for c in cells])
    number = {name: str(n) for n, name in enumerate(indicators, start=1)}
    values = [
        {
            "area": c.area,
            "column": number.get(c.indicator, c.indicator),
            "outcome": c.outcome,
            "value": c.value_text,
            "ink": ink(c.outcome),
        }
        for c in cells
    ]
    key: list[dict[str, Any]] = []
    for name, n in number.items():
        entry = name if name.startswith(f"{n}. ") else f"{n}. {name}"
        for line in wrap_words(entry, KEY_LINE):
            key.append({"row": len(key), "text": line})
    grid: Spec = {
        "width": {"step": 54},
        "height": {"step": 20},
        "data": {"values": values},
        "encoding": {
            "x": {
                "field": "column",
                "type": "nominal",
                "sort": list(number.values()),
                "title": "Indicator (numbered as in the key below)",
                "axis": {"orient": "top", "labelAngle": 0, "labelFontWeight": "bold"},
            },
            "y": {
                "field": "area",
                "type": "nominal",
                "sort": list(areas),
                "title": None,
                "axis": {"labelLimit": 0},
            },
        },
        "layer": [
            {
                "mark": {"type": "rect", "stroke": "white"},
                "encoding": {
                    "color": {
                        "field": "outcome",
                        "type": "nominal",
                        "scale": colour_scale(domain),
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
    legend_key: Spec = {
        "width": 520,
        "height": {"step": 15},
        "data": {"values": key},
        "mark": {"type": "text", "align": "left", "x": 0, "fontSize": 11, "limit": 0},
        "encoding": {
            "y": {"field": "row", "type": "ordinal", "axis": None},
            "text": {"field": "text"},
        },
    }
    return {"padding": PADDING, "vconcat": [grid, legend_key], "spacing": 12}
