"""The inequalities page: for every indicator the best and worst area, the gap and
ratio, and the city's slope index of inequality, with a chart of each.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from healthycity.core.web.twins import Table
from healthycity.outcomes import chart_specs as cs
from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.cache import PageCache, cached_page
from healthycity.outcomes.dashboard.common import Chart, cached_geography, cached_summaries
from healthycity.outcomes.dashboard.sii import SIIFigure, city_sii
from healthycity.outcomes.dashboard.words import fmt, with_unit


@dataclass
class GapLine:
    indicator_id: str
    name: str
    unit: str | None
    period: str | None
    areas: int
    best_name: str
    best_text: str
    worst_name: str
    worst_text: str
    gap: float | None
    gap_text: str
    ratio_text: str
    relative_gap: float | None
    judged: bool
    sii_text: str
    sii_note: str
    sii: SIIFigure | None = None
    sii_words: str = ""


@dataclass
class InequalitiesPage:
    lines: list[GapLine]
    city_name: str
    chart: Chart | None
    table: Table
    illustrative: bool
    sii_chart: Chart | None = None

    @property
    def charts(self) -> list[Chart]:
        return [c for c in (self.chart, self.sii_chart) if c is not None]


def _difference_words(value: float, info: q.IndicatorInfo) -> str:
    """A difference in the indicator's unit: "2.5 percentage points", "8.1 years"."""
    unit = (info.unit or "").strip()
    if unit == "%":
        return f"{fmt(value, info.decimals)} percentage points"
    return with_unit(fmt(value, info.decimals), info.unit)


@cached_page("inequalities")
def inequalities(session: Session, cache: PageCache, version: str) -> InequalitiesPage:
    geo = cached_geography(session, cache, version)
    summaries = cached_summaries(session, cache, version)
    codes = [b.code for b in geo.boroughs]
    lines: list[GapLine] = []
    illustrative = False
    for summary in summaries.values():
        info = summary.indicator
        if summary.breakdown is None or not codes or q.is_population(info):
            continue
        latest = q.latest_values(
            session,
            info.id,
            benchmark=geo.country_code,
            area_codes=codes,
            breakdown=summary.breakdown,
        )
        if latest is None:
            continue
        valued = [r.point for r in latest.rows if r.point.value is not None]
        if len(valued) < 2:
            continue
        illustrative = illustrative or latest.illustrative
        high_good = info.polarity != m.LOW_IS_GOOD
        ordered = sorted(valued, key=lambda p: p.value or 0.0, reverse=high_good)
        best, worst = ordered[0], ordered[-1]
        judged = info.polarity in (m.HIGH_IS_GOOD, m.LOW_IS_GOOD)
        assert best.value is not None and worst.value is not None
        gap = abs(best.value - worst.value)
        low = min(best.value, worst.value)
        high = max(best.value, worst.value)
        ratio = high / low if low > 0 else None
        city_value = summary.city.value if summary.city else None
        relative = gap / abs(city_value) * 100 if city_value else None
        figure, sii_note = city_sii(session, info, geo, summary.breakdown)
        sii_text = sii_words = ""
        if figure is not None:
            d = info.decimals
            sii_text = (
                f"{fmt(figure.value, d)} (95% interval {fmt(figure.lower, d)} to "
                f"{fmt(figure.upper, d)})"
            )
            if round(figure.value, d if d is not None else 1) == 0:
                sii_words = "No gap between the most and least deprived on the fitted line."
            else:
                sii_words = (
                    f"{_difference_words(abs(figure.value), info)} "
                    f"{'higher' if figure.value > 0 else 'lower'} at the least deprived end "
                    "than at the most deprived."
                )
        lines.append(
            GapLine(
                indicator_id=info.id,
                name=info.name,
                unit=info.unit,
                period=latest.period,
                areas=len(valued),
                best_name=best.area_name,
                best_text=with_unit(fmt(best.value, info.decimals), info.unit),
                worst_name=worst.area_name,
                worst_text=with_unit(fmt(worst.value, info.decimals), info.unit),
                gap=gap,
                gap_text=_difference_words(gap, info),
                ratio_text=f"{ratio:.2f}" if ratio is not None else "",
                relative_gap=relative,
                judged=judged,
                sii_text=sii_text,
                sii_note=sii_note,
                sii=figure,
                sii_words=sii_words,
            )
        )
    chart = None
    charted = [x for x in lines if x.relative_gap is not None]
    if charted:
        bars = [
            cs.Bar(
                "\n".join(textwrap.wrap(x.name, 40)),
                round(float(x.relative_gap or 0.0), 1),
                None,
                None,
                "not compared",
                None,
            )
            for x in charted
        ]
        widest = max(charted, key=lambda x: x.relative_gap or 0.0)
        description = (
            f"Bar chart of the gap between the highest and lowest area for {len(charted)} "
            f"indicators, as a percentage of the {geo.city_name} value. The widest is "
            f"{widest.name} ({fmt(widest.relative_gap, 0)}%)."
        )
        spec = _no_legend(cs.compare_bars(bars, unit="% of the city value", benchmark_name=""))
        chart = Chart(
            "gaps",
            "Gap between areas, relative to the city value",
            spec,
            description,
            Table(
                ["indicator_id", "indicator", "gap_as_percent_of_city_value"],
                [[x.indicator_id, x.name, x.relative_gap] for x in charted],
            ),
        )
    table = Table(
        [
            "indicator_id",
            "indicator",
            "period",
            "areas",
            "best_or_highest",
            "best_value",
            "worst_or_lowest",
            "worst_value",
            "gap",
            "ratio",
            "slope_index_of_inequality",
            "sii_note",
            "sii",
            "sii_lower_95",
            "sii_upper_95",
            "rii",
            "sii_period",
            "sii_groups",
        ],
        [
            [
                x.indicator_id,
                x.name,
                x.period,
                x.areas,
                x.best_name,
                x.best_text,
                x.worst_name,
                x.worst_text,
                x.gap,
                x.ratio_text,
                x.sii_text,
                x.sii_note,
                *(
                    [
                        x.sii.value,
                        x.sii.lower,
                        x.sii.upper,
                        x.sii.rii,
                        x.sii.period,
                        len(x.sii.groups),
                    ]
                    if x.sii
                    else [None] * 6
                ),
            ]
            for x in lines
        ],
    )
    return InequalitiesPage(
        lines, geo.city_name, chart, table, illustrative, _sii_chart(lines, geo.city_name)
    )


def _sii_chart(lines: Sequence[GapLine], city_name: str) -> Chart | None:
    """Small multiples of every SII on the page: the groups' values along the population
    from most to least deprived, and the fitted line whose slope is the SII."""
    with_sii = [x for x in lines if x.sii is not None]
    if not with_sii:
        return None
    points: list[cs.GradientPoint] = []
    fits: list[cs.GradientLine] = []
    rows: list[list[Any]] = []
    panels: set[str] = set()
    for x in with_sii:
        figure = x.sii
        assert figure is not None
        # Panels are keyed by their title: the whole name in lines (never cut off), with
        # the ID when two indicators share a name.
        panel = "\n".join(textwrap.wrap(x.name, 32))
        if panel in panels:
            panel = "\n".join(textwrap.wrap(f"{x.name} ({x.indicator_id})", 32))
        panels.add(panel)
        fits.append(cs.GradientLine(panel, figure.at_most_deprived, figure.at_least_deprived))
        for g in figure.groups:
            points.append(
                cs.GradientPoint(panel, g.category, g.position, g.value, g.lower, g.upper)
            )
            fitted = figure.at_most_deprived + figure.value * g.position
            rows.append(
                [
                    x.indicator_id,
                    x.name,
                    figure.period,
                    figure.breakdown,
                    g.rank,
                    g.category,
                    g.population,
                    round(g.position, 6),
                    g.value,
                    g.lower,
                    g.upper,
                    fitted,
                    figure.value,
                    figure.lower,
                    figure.upper,
                ]
            )
    higher = sum(1 for x in with_sii if x.sii and x.sii.value > 0)
    description = (
        f"Charts of {len(with_sii)} indicators in {city_name} by deprivation group, from the "
        "most deprived (left) to the least deprived (right), each with the fitted line whose "
        f"slope is the slope index of inequality. On {higher} of them the value is higher at "
        f"the least deprived end; on {len(with_sii) - higher}, at the most deprived end."
    )
    return Chart(
        "sii",
        "Values by deprivation group, with the slope index of inequality",
        _whole_titles(cs.deprivation_gradients(points, fits)),
        description,
        Table(
            [
                "indicator_id",
                "indicator",
                "period",
                "breakdown",
                "deprivation_rank",
                "deprivation_group",
                "population",
                "population_midpoint",
                "value",
                "lower_ci95",
                "upper_ci95",
                "fitted_value",
                "sii",
                "sii_lower_95",
                "sii_upper_95",
            ],
            rows,
        ),
        note="Rank 1 is the most deprived group; the midpoint is where the group sits along "
        "the population, 0 being the most deprived end and 1 the least.",
    )


def _no_legend(spec: Any) -> Any:
    """The gap bars are one colour (a gap is not compared with anything), so a
    better/similar/worse legend would describe marks that are not there: drop it. And
    every name whole, in lines (not cut with "…"); value labels that never collide."""
    if isinstance(spec, dict):
        if "data" in spec and isinstance(spec.get("height"), dict):
            values = spec["data"].get("values", [])
            lines = max((str(v.get("name", "")).count("\n") + 1 for v in values), default=1)
            spec["height"] = {"step": 13 * lines + 8}
        colour = spec.get("color")
        if isinstance(colour, dict) and colour.get("field") == "outcome":
            colour["legend"] = None
        y, x = spec.get("y"), spec.get("x")
        if isinstance(y, dict) and y.get("field") == "name":
            y["axis"] = {
                "labelLimit": 0,
                "labelExpr": "split(datum.value, '\\n')",
                "labelLineHeight": 12,
            }
        if isinstance(x, dict) and x.get("field") == "value" and "title" in x:
            x["axis"] = {**x.get("axis", {}), "tickCount": 5, "labelOverlap": True}
        for value in spec.values():
            _no_legend(value)
    elif isinstance(spec, list):
        for value in spec:
            _no_legend(value)
    return spec


def _whole_titles(spec: dict[str, Any]) -> dict[str, Any]:
    """Small multiples whose titles are whole (drawn as lines, not cut with "…") and
    whose panels line up (every title block the same height, every panel the same size)."""
    lines = max(
        (str(v.get("panel", "")).count("\n") + 1 for v in spec["data"]["values"]), default=1
    )
    spec["facet"]["header"] = {
        "labelLimit": 0,
        "labelFontWeight": "bold",
        "labelExpr": "split(datum.value, '\\n')",
        "labelLineHeight": 14,
        "labelBaseline": "top",
        "labelAnchor": "start",
        "labelPadding": 4,
    }
    spec["spacing"] = {"row": 14 * lines + 20, "column": 24}
    spec["bounds"] = "flush"
    return spec
