"""The home page's headline figures: for each aspiration, one indicator's latest figure
for the city against the country, with a small trend line of both.

Why a hand-made SVG and not a Vega-Lite chart: ten sparklines on the home page would
cost ten vl-convert renders on every new data version for two lines each; a polyline
is a few hundred bytes, costs nothing, and carries its finding in its accessible name
like every other chart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.common import Geography, IndicatorLine, indicator_line

WIDTH, HEIGHT, PAD = 120.0, 36.0, 3.0


@dataclass
class Headline:
    indicator_id: str
    name: str
    line: IndicatorLine
    sparkline: Markup


def _path(points: Sequence[tuple[int, float]], xs: tuple[int, int], ys: tuple[float, float]) -> str:
    (x0, x1), (y0, y1) = xs, ys
    span_x = (x1 - x0) or 1
    span_y = (y1 - y0) or 1.0
    return " ".join(
        f"{PAD + (x - x0) / span_x * (WIDTH - 2 * PAD):.1f},"
        f"{HEIGHT - PAD - (y - y0) / span_y * (HEIGHT - 2 * PAD):.1f}"
        for x, y in points
    )


def sparkline(
    city: Sequence[q.Point], country: Sequence[q.Point], city_name: str, country_name: str
) -> Markup:
    """Two lines (the city solid, the country dashed) in one small ``role="img"`` SVG."""
    series = [
        [(p.time_period_sortable, p.value) for p in s if p.value is not None]
        for s in (city, country)
    ]
    everything = [pt for s in series for pt in s]
    if len(series[0]) < 2:
        return Markup("")
    xs = (min(x for x, _ in everything), max(x for x, _ in everything))
    ys = (min(y for _, y in everything), max(y for _, y in everything))
    first, last = city[0], city[-1]
    said = (
        f"Trend: {city_name} {first.value:,.1f} in {first.period} to {last.value:,.1f} in "
        f"{last.period}"
    )
    if country:
        said += f"; {country_name} {country[0].value or 0:,.1f} to {country[-1].value or 0:,.1f}"
    lines = [
        f'<polyline points="{_path(series[0], xs, ys)}" class="hc-spark__city"/>',
    ]
    if len(series[1]) >= 2:
        lines.append(f'<polyline points="{_path(series[1], xs, ys)}" class="hc-spark__country"/>')
    svg = (
        f'<svg class="hc-spark" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" role="img" '
        f'aria-label="{escape(said)}." focusable="false">{"".join(lines)}</svg>'
    )
    return Markup(svg)  # noqa: S704 - numbers we formatted; the only text is escaped


def headline_for(
    session: Session,
    geo: Geography,
    ids: Sequence[str],
    summaries: dict[str, q.IndicatorSummary],
) -> Headline | None:
    """The first of ``ids`` with a city figure compared with the country and a trend."""
    for indicator_id in ids:
        summary = summaries.get(indicator_id)
        if summary is None or summary.city is None or q.is_population(summary.indicator):
            continue
        codes = [geo.city_code, geo.country_code]
        series = q.time_series(session, indicator_id, codes)
        city, country = series.get(geo.city_code, []), series.get(geo.country_code, [])
        if len([p for p in city if p.value is not None]) < 2:
            continue
        return Headline(
            indicator_id,
            summary.indicator.name,
            indicator_line(summary, geo, None),
            sparkline(city, country, geo.city_name, geo.country_name),
        )
    return None
