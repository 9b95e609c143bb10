"""Maps: the tile map, the boundary map and the heat map of areas by indicators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from healthycity.outcomes.chart_specs.common import (
    WIDTH,
    HeatCell,
    Spec,
    Tile,
    colour_scale,
    ink,
    legend_domain,
    outline_layer,
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


def heat_map(cells: Sequence[HeatCell], *, areas: Sequence[str], indicators: Sequence[str]) -> Spec:
    """Areas × indicators, each cell coloured by comparison and printed with its value."""
    domain = legend_domain([c.outcome for c in cells])
    values = [
        {
            "area": c.area,
            "indicator": c.indicator,
            "outcome": c.outcome,
            "value": c.value_text,
            "ink": ink(c.outcome),
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
