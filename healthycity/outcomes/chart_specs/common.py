"""What every chart shares: the colours, the legend, the rows the dashboard hands over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from healthycity.core.charts import COMPARISON_COLOURS, NHS_BLUE, NHS_TEXT

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
COLOURS = {**COMPARISON_COLOURS, **TWO_LEVEL_COLOURS}
# Text on a tile must stay readable over its fill.
DARK_FILLS = {
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
SERIES_COLOURS = (NHS_BLUE, NHS_TEXT, "#ae2573", "#007f3b", "#ed8b00")
SERIES_DASHES = ([1, 0], [6, 4], [2, 2], [8, 2, 2, 2], [4, 1])
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
    # The benchmark's value and the range across peers, printed beside the row.
    benchmark_text: str = ""
    range_text: str = ""


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
    """The legend's categories: the outcomes the chart draws, in the usual order for
    the polarity (and for one or two levels), then anything unusual. Only those drawn:
    a legend entry with no mark of its colour misleads (issue 20)."""
    two = any(o.endswith("%)") for o in outcomes)
    unjudged = any(o.split(" (")[0] in ("higher", "lower") for o in outcomes)
    if two:
        base: tuple[str, ...] = UNJUDGED_TWO if unjudged else JUDGED_TWO
    else:
        base = UNJUDGED if unjudged else JUDGED
    drawn = set(outcomes)
    extra = sorted(drawn - set(base))
    return [o for o in base if o in drawn] + extra


def legend_title(method_text: str, outcomes: Sequence[str]) -> str:
    """The legend's title: how areas were compared, in words, and what an outline
    means when two levels are shown."""
    if any(o.endswith("%)") for o in outcomes):
        return f"{method_text}; outlined: significant at 99.8%"
    return method_text


def colour_scale(domain: Sequence[str]) -> dict[str, Any]:
    return {
        "domain": list(domain),
        "range": [COLOURS.get(o, COMPARISON_COLOURS["not compared"]) for o in domain],
    }


def outline_layer(
    encoding: dict[str, Any], mark: dict[str, Any], field: str = "datum.outcome"
) -> Spec:
    """The same marks again, unfilled with a thick dark edge, for 99.8% results only."""
    return {
        "transform": [{"filter": f"indexof({field}, '{OUTLINE}') >= 0"}],
        "mark": {**mark, "filled": False, "fill": None, "stroke": NHS_TEXT, "strokeWidth": 3},
        "encoding": encoding,
    }


def wrap_words(text: str, width: int) -> list[str]:
    """``text`` in whole words on lines of at most ``width`` characters (a longer word
    keeps a line of its own): drawn one under the other, the full text, never cut."""
    import textwrap

    return textwrap.wrap(text, width, break_long_words=False) or [text]


def ink(outcome: str) -> str:
    return "white" if outcome in DARK_FILLS else NHS_TEXT
