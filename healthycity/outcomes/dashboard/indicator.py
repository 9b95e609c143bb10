"""The indicator page: every area's latest value against the reader's benchmark, the
map, the bars and the trend, the city's figures by sex, age and category, and the
indicator's metadata and targets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from healthycity.core.errors import NotFound
from healthycity.core.web.twins import Table
from healthycity.geography.models import COUNTRY, REGION
from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.cache import PageCache, cached_page
from healthycity.outcomes.dashboard.choices import (
    BadChoice,
    IndicatorQuery,
    Option,
    benchmark_for,
    benchmark_label,
    benchmark_options,
    check_benchmark,
    comparison_options,
    options,
    unusable_key,
)
from healthycity.outcomes.dashboard.common import Chart, TargetLine, cached_geography
from healthycity.outcomes.dashboard.funnel import funnel_chart
from healthycity.outcomes.dashboard.indicator_charts import (
    AreaRow,
    BreakdownRow,
    breakdown_rows,
    compare_chart,
    map_chart,
    trend_chart,
)
from healthycity.outcomes.dashboard.words import (
    SOURCE_WORDS,
    VALUE_TYPE_WORDS,
    comparison_words,
    data_kind,
    fmt,
    interval,
    is_demo_note,
    method_words,
    outcome_of,
    outcome_tag,
    polarity_words,
    row_method,
    source_note,
    target_tag,
    target_words,
    trend_method,
    trend_tag,
    trend_words,
    with_unit,
)


@dataclass
class IndicatorPage:
    id: str
    name: str
    unit: str | None
    metadata: list[tuple[str, str]]
    links: list[tuple[str, str]]
    benchmark: str
    benchmark_name: str
    benchmark_options: list[Option]
    comparison: str
    comparison_options: list[Option]
    method_text: str
    breakdown: q.Breakdown | None
    breakdown_options: list[Option]
    period: str | None
    period_options: list[Option]
    area: str | None
    area_options: list[Option]
    headline: str
    rows: list[AreaRow]
    charts: list[Chart]
    map_note: str
    trend_text: str
    trend_tag: str
    targets: list[TargetLine]
    breakdown_rows: list[BreakdownRow]
    illustrative: bool
    has_data: bool
    city_name: str
    country_name: str
    query: str
    table: Table
    # The tile grid as a second view of the map, when the map draws real outlines.
    tile_map: Chart | None = None
    # Issue 12: what kind of figures the page shows ("published", "illustrative …"),
    # why there is no funnel plot, which test made the trend, why the city has no
    # figure, and where our judgement and the publisher's differ.
    data_kind: str = ""
    funnel_note: str = ""
    trend_method: str = ""
    city_missing: str = ""
    disagreements: list[q.Disagreement] = field(default_factory=list)

    def chart(self, name: str) -> Chart | None:
        return next((c for c in self.downloads if c.name == name), None)

    @property
    def has_computed(self) -> bool:
        """Whether a row shown was computed here from the boroughs."""
        return any(r.source.startswith("computed") for r in self.rows)

    @property
    def downloads(self) -> list[Chart]:
        """Every chart with a ``chart-NAME.csv``: the page's charts and the tile view."""
        return [*self.charts, *([self.tile_map] if self.tile_map else [])]


def _metadata(row: m.Indicator) -> list[tuple[str, str]]:
    items: list[tuple[str, Any]] = [
        ("Indicator ID", row.id),
        ("Definition", row.definition),
        ("Rationale", row.rationale),
        ("Methodology", row.methodology),
        ("Unit", row.unit),
        ("Value type", VALUE_TYPE_WORDS.get(row.value_type, row.value_type)),
        ("Multiplier", fmt(row.multiplier, 0) if row.multiplier else None),
        ("Polarity", polarity_words(row.polarity)),
        ("Numerator", row.numerator_definition),
        ("Numerator source", row.numerator_source),
        ("Denominator", row.denominator_definition),
        ("Denominator source", row.denominator_source),
        ("Standard population", row.standard_population),
        ("Confidence intervals", row.confidence_interval_method),
        ("Disclosure control", row.disclosure_control),
        ("Caveats", row.caveats),
        ("Data source", row.data_source),
        ("Frequency", row.frequency),
        ("Age", row.age),
        ("Sexes", ", ".join(row.sexes) if row.sexes else None),
        ("Published for", ", ".join(a.replace("_", " ") for a in row.area_levels or []) or None),
        ("Fingertips indicator ID", row.fingertips_id),
        ("Where the definition comes from", SOURCE_WORDS.get(row.source, row.source)),
        ("Last updated (as published)", row.last_updated),
        (
            "Data loaded here",
            row.data_loaded_at.strftime("%-d %B %Y") if row.data_loaded_at else None,
        ),
    ]
    for key, value in sorted((row.extra or {}).items()):
        if isinstance(value, str | int | float) and str(value).strip():
            items.append((str(key), value))
    return [(label, str(value)) for label, value in items if value not in (None, "")]


@cached_page("indicator")
def indicator_page(
    session: Session,
    cache: PageCache,
    version: str,
    indicator_id: str,
    choice: IndicatorQuery,
) -> IndicatorPage:
    """The page of one indicator as the reader chose to see it (``choice``, checked by
    `IndicatorQuery.parse`; the page checks the rest against its data)."""
    row = None if unusable_key(indicator_id) else q.indicator_row(session, indicator_id)
    if row is None:
        raise NotFound(f"There is no indicator with the ID {indicator_id!r}.")
    geo = cached_geography(session, cache, version)
    check_benchmark(geo, choice.benchmark)
    info = q.indicator_info(row)
    decimals = info.decimals
    country = geo.country_code
    city = geo.city_code
    if choice.area is not None and choice.area not in geo.areas:
        raise NotFound(f"There is no area with the code {choice.area!r}.")

    # Which series: the headline, unless the reader chose a sex or age.
    found = q.breakdowns(session, indicator_id)
    headline = q.headline_breakdown(session, indicator_id)
    chosen = headline
    if choice.sex is not None or choice.age is not None:
        wanted = [
            b
            for b in found
            if (choice.sex is None or b.sex == choice.sex)
            and (choice.age is None or b.age == choice.age)
            and not b.category_type
            and not b.category
        ]
        if not wanted:
            raise BadChoice("There are no data for that sex and age: choose from the list.")
        if headline is not None:
            wanted.sort(key=lambda b: (b.sex != headline.sex, b.age != headline.age))
        chosen = wanted[0]
    plain = [b for b in found if not b.category_type and not b.category]
    breakdown_options = options(
        [(f"{b.sex}|{b.age}", f"{b.sex}, {b.age}") for b in plain],
        f"{chosen.sex}|{chosen.age}" if chosen else None,
    )

    known = q.periods(session, indicator_id, chosen) if chosen else []
    if choice.period is not None and choice.period not in {p for p, _ in known}:
        raise BadChoice("There are no data for that time period: choose from the list.")
    latest = (
        q.latest_values(
            session,
            indicator_id,
            benchmark=country,
            breakdown=chosen,
            period=choice.period,
            comparison=choice.comparison,
        )
        if chosen
        else None
    )
    points = {r.point.area_code: r for r in latest.rows} if latest else {}
    if latest and latest.benchmark is not None:
        points.setdefault(latest.benchmark.area_code, q.AreaValue(latest.benchmark, None))
    shown_period = latest.period if latest else None

    # The areas on the map and the bars: the city's boroughs with data, or else the
    # commonest local area type in the file (an indicator from anywhere gets a page).
    shown = [b for b in geo.boroughs if b.code in points]
    if not shown:
        kinds: dict[str, int] = defaultdict(int)
        for code in points:
            ref = geo.areas.get(code)
            if ref is not None and ref.area_type not in (COUNTRY, REGION):
                kinds[ref.area_type] += 1
        if kinds:
            commonest = max(sorted(kinds), key=lambda k: kinds[k])
            shown = sorted(
                (geo.areas[c] for c in points if geo.areas[c].area_type == commonest),
                key=lambda a: a.name,
            )

    offered = benchmark_options(geo)
    if not any(s.code in points for s in geo.sub_regions):
        offered = [o for o in offered if o[0] != "sub-region"]
        if choice.benchmark == "sub-region":
            raise BadChoice(
                "This indicator has no figures for the sub-regions, so areas cannot be "
                "compared with them: choose England or the city."
            )
    benchmark_name = benchmark_label(geo, choice.benchmark)

    # CI overlap needs the benchmark's own interval: offered only when the benchmark
    # each shown area is compared with has one.
    bench_codes = {benchmark_for(geo, choice.benchmark, a.code) for a in shown}
    references = [points[t].point for t in bench_codes if t is not None and t in points]
    overlap = any(r.lower_ci95 is not None and r.upper_ci95 is not None for r in references)
    if choice.comparison == "ci-overlap" and not overlap and points:
        raise BadChoice(
            f"{benchmark_name} has no confidence interval for this indicator, so intervals "
            "cannot be compared for overlap: choose another comparison method."
        )
    method_text = method_words(info, choice.comparison, benchmark_name)

    def judged(code: str) -> tuple[str, str]:
        """(outcome, benchmark name) for one area under the reader's benchmark."""
        here = points.get(code)
        target = benchmark_for(geo, choice.benchmark, code)
        if here is None or target is None or target == code:
            return "not compared", benchmark_name
        name = geo.areas[target].name if target in geo.areas else target
        if target == country and choice.benchmark == "england":
            return outcome_of(here.comparison), name
        reference = points.get(target)
        if reference is None:
            return "not compared", name
        return outcome_of(
            q.compare_point(info, here.point, reference.point, choice.comparison)
        ), name

    def area_row(code: str, emphasis: bool = False) -> AreaRow | None:
        here = points.get(code)
        ref = geo.areas.get(code)
        if here is None or ref is None:
            return None
        p = here.point
        outcome, against = judged(code)
        return AreaRow(
            code=code,
            name=ref.name,
            area_type=ref.area_type,
            period=p.period,
            value=p.value,
            value_text=fmt(p.value, decimals),
            lower=p.lower_ci95,
            upper=p.upper_ci95,
            interval_text=interval(p.lower_ci95, p.upper_ci95, decimals),
            count_text=fmt(p.count, 0) if p.count is not None else "",
            denominator_text=fmt(p.denominator, 0) if p.denominator is not None else "",
            outcome=outcome,
            comparison_text=comparison_words(outcome, against),
            comparison_tag=outcome_tag(outcome),
            benchmark_name=against,
            note="" if is_demo_note(p.value_note) else (p.value_note or ""),
            emphasis=emphasis,
            source=source_note(p) or ("illustrative" if p.illustrative else "published"),
        )

    summary_codes = [country, city, *[s.code for s in geo.sub_regions]]
    rows = [r for r in (area_row(c, True) for c in summary_codes) if r is not None]
    rows += [r for r in (area_row(a.code) for a in shown) if r is not None]

    charts: list[Chart] = []
    map_note = ""
    tile_view: Chart | None = None
    if shown and latest is not None:
        maps, map_note = map_chart(session, geo, info, shown, area_row, benchmark_name, method_text)
        charts.extend(maps[:1])
        tile_view = maps[1] if len(maps) > 1 else None
        bars = compare_chart(
            geo, info, shown, points, area_row, choice, benchmark_name, method_text
        )
        if bars is not None:
            charts.append(bars)
    funnel_note = ""
    if shown and latest is not None:
        funnel, funnel_note = funnel_chart(geo, info, shown, points, choice.benchmark)
        if funnel is not None:
            charts.append(funnel)

    # Trend: the city, the country and the chosen area.
    series_codes = [c for c in (city, country, choice.area) if c is not None]
    series_codes = list(dict.fromkeys(series_codes))
    series = q.time_series(session, indicator_id, series_codes, breakdown=chosen) if chosen else {}
    trend = trend_chart(geo, info, series)
    if trend is not None:
        charts.append(trend)
    city_series = series.get(city, [])
    city_trend = q.trend_of(info, city_series) if city_series else None
    city_missing = (
        q.missing_reason(session, indicator_id, city, chosen) if chosen is not None else None
    ) or ""
    if not city_series and not city_missing:
        city_missing = f"no figure for {geo.city_name}: no data have been loaded"
    targets = [
        TargetLine(
            t.statement, str(t.status), target_words(t.status), target_tag(t.status), t.method
        )
        for t in q.target_progress(
            info, list(row.targets), city_series, None if city_series else city_missing
        )
    ]
    disagreements = [
        x
        for x in q.published_disagreements(session, indicator_id, benchmark=country)
        if chosen is None or x.breakdown == chosen
    ]

    by_group = breakdown_rows(session, geo, info, found, chosen, country, city, choice)

    city_row = next((r for r in rows if r.code == city), None)
    if city_row is not None and shown_period:
        headline_text = (
            f"{geo.city_name}: {with_unit(city_row.value_text, info.unit)} in {shown_period}"
            + (f" (95% interval {city_row.interval_text})" if city_row.interval_text else "")
            + (f", {city_row.source}" if city_row.source.startswith("computed") else "")
            + f". {city_row.comparison_text}."
        )
    elif shown_period:
        headline_text = f"Latest data: {shown_period}." + (
            f" {city_missing[:1].upper()}{city_missing[1:]}." if city_missing else ""
        )
    else:
        headline_text = "No data have been loaded for this indicator yet."

    links: list[tuple[str, str]] = []
    for link in row.links:
        if link.kind == m.LINK_ASPIRATION:
            asp = q.aspiration(session, link.slug)
            if asp is not None:
                links.append((f"/aspirations/{asp.slug}", f"Aspiration {asp.number}: {asp.title}"))
        elif link.kind == m.LINK_COMMITMENT:
            com = q.commitment(session, link.slug)
            if com is not None:
                pri = q.vision_priority(session, com.priority_slug)
                text = f"Commitment: {pri.name}" if pri is not None else "Shared commitment"
                links.append((f"/commitments/{com.slug}", text))

    area_choices = [("", "No area")] + [(a.code, a.name) for a in shown]
    if choice.area is not None and choice.area not in {c for c, _ in area_choices}:
        area_choices.append((choice.area, geo.areas[choice.area].name))
    query_parts = []
    if choice.benchmark != "england":
        query_parts.append(f"benchmark={choice.benchmark}")
    if choice.comparison != "default":
        query_parts.append(f"comparison={choice.comparison}")
    table = Table(
        columns=[
            "area_code",
            "area",
            "area_type",
            "period",
            "value",
            "lower_95",
            "upper_95",
            "compared_with",
            "comparison",
            "comparison_method",
            "value_note",
            "source",
        ],
        rows=[
            [
                r.code,
                r.name,
                r.area_type,
                r.period,
                r.value,
                r.lower,
                r.upper,
                r.benchmark_name,
                r.comparison_text,
                row_method(r.outcome, method_words(info, choice.comparison, r.benchmark_name)),
                r.note,
                r.source,
            ]
            for r in rows
        ],
    )
    return IndicatorPage(
        id=info.id,
        name=info.name,
        unit=info.unit,
        metadata=_metadata(row),
        links=links,
        benchmark=choice.benchmark,
        benchmark_name=benchmark_name,
        benchmark_options=options(offered, choice.benchmark),
        comparison=choice.comparison,
        comparison_options=options(comparison_options(info, overlap=overlap), choice.comparison),
        method_text=method_text,
        breakdown=chosen,
        breakdown_options=breakdown_options,
        period=shown_period,
        period_options=options([(p, p) for p, _ in reversed(known)], shown_period),
        area=choice.area,
        area_options=options(area_choices, choice.area or ""),
        headline=headline_text,
        rows=rows,
        charts=charts,
        map_note=map_note,
        trend_text=trend_words(city_trend),
        trend_tag=trend_tag(city_trend),
        targets=targets,
        breakdown_rows=by_group,
        illustrative=bool(latest and latest.illustrative),
        has_data=bool(points),
        city_name=geo.city_name,
        country_name=geo.country_name,
        query="&".join(query_parts),
        table=table,
        tile_map=tile_view,
        data_kind=data_kind(bool(latest and latest.illustrative), bool(points)),
        funnel_note=funnel_note,
        trend_method=trend_method(
            city_trend, sum(1 for p in city_series if p.value is not None), geo.city_name
        ),
        city_missing=city_missing,
        disagreements=disagreements,
    )
