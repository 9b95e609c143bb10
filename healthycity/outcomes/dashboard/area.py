"""The area page: a spine chart of every indicator for one area against the reader's
benchmark, its biggest gaps, and a population pyramid where population counts exist.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from healthycity.core.errors import NotFound
from healthycity.core.web.twins import Table
from healthycity.geography.models import LOCAL_AUTHORITY
from healthycity.outcomes import chart_specs as cs
from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.cache import PageCache, cached, cached_page
from healthycity.outcomes.dashboard.choices import (
    IndicatorQuery,
    Option,
    benchmark_for,
    benchmark_options,
    check_benchmark,
    comparison_options_all,
    options,
)
from healthycity.outcomes.dashboard.common import AreaRef, Chart, cached_geography
from healthycity.outcomes.dashboard.words import (
    TYPE_WORDS,
    area_method_words,
    base_outcome,
    chart_outcome,
    comparison_words,
    fmt,
    is_published,
    outcome_of,
    outcome_tag,
    row_method,
    source_note,
    with_unit,
)


@dataclass
class SpineLine:
    indicator_id: str
    name: str
    period: str
    value_text: str
    benchmark_text: str
    lowest_text: str
    highest_text: str
    peers: int
    outcome: str
    comparison_text: str
    comparison_tag: str
    gap: float | None
    # "computed from the boroughs (33 of 33)" when the area's figure is a roll-up.
    note: str = ""


@dataclass
class AreaPage:
    code: str
    name: str
    area_type: str
    type_words: str
    parent: AreaRef | None
    children: list[AreaRef]
    population_text: str
    benchmark: str
    benchmark_name: str
    benchmark_options: list[Option]
    comparison: str
    comparison_options: list[Option]
    method_text: str
    lines: list[SpineLine]
    worst: list[SpineLine]
    best: list[SpineLine]
    charts: list[Chart]
    peer_words: str
    illustrative: bool
    table: Table

    def chart(self, name: str) -> Chart | None:
        return next((c for c in self.charts if c.name == name), None)


@cached("headline")
def _headline(
    session: Session, cache: PageCache, version: str, indicator_id: str
) -> q.Breakdown | None:
    """The indicator's headline breakdown, remembered per data version."""
    return q.headline_breakdown(session, indicator_id)


def area_profile(
    session: Session,
    cache: PageCache,
    version: str,
    area_code: str,
    benchmark: str,
    comparison: str | None = None,
) -> list[q.SpineRow]:
    """``queries.area_profile`` in three queries instead of five per indicator.

    Same rules — each indicator's headline series, the area's latest period, the
    benchmark at that period, the spread and judgements across areas of the same type —
    but the area's rows, then every peer's and the benchmark's rows at those periods,
    are read in bulk, so an area page costs milliseconds however many indicators exist;
    and each indicator's peers at a period (`_PeerBlock`) are judged once per data
    version for all the areas of a type, not once per area page (the static export
    renders all of them). (A test holds it equal to the queries module's version.)
    """
    geo = cached_geography(session, cache, version)
    area = geo.areas.get(area_code)
    if area is None:
        return []
    mine = q.area_observations(session, area_code)
    latest: dict[str, m.Observation] = {}
    heads: dict[str, q.Breakdown] = {}
    for obs in mine:
        head = heads.get(obs.indicator_id)
        if head is None:
            found = _headline(session, cache, version, obs.indicator_id)
            if found is None:
                continue
            head = heads[obs.indicator_id] = found
        if (obs.sex, obs.age, obs.category_type, obs.category) != (
            head.sex,
            head.age,
            head.category_type,
            head.category,
        ):
            continue
        best = latest.get(obs.indicator_id)
        if best is None or obs.time_period_sortable >= best.time_period_sortable:
            latest[obs.indicator_id] = obs
    if not latest:
        return []
    every = q.indicator_rows(session, latest)
    infos = {r.id: info for r in every if not q.is_population(info := q.indicator_info(r))}
    rows = [r for r in every if r.id in infos]
    blocks = _peer_blocks(
        session, cache, version, area.area_type, benchmark, comparison, heads, latest, infos
    )
    found_rows: list[tuple[tuple[bool, int, str], q.SpineRow]] = []
    for row in rows:
        info = infos[row.id]
        point = q.point_of(latest[row.id], area)
        block = blocks[row.id]
        reference = block.reference
        judged = (
            None
            if reference is None or reference.area_code == area_code
            else q.compare_point(info, point, reference, comparison)
        )
        spine = q.SpineRow(
            indicator=info,
            breakdown=heads[row.id],
            period=point.period,
            area=point,
            benchmark=reference,
            comparison=judged,
            peers=block.spread,
            peer_type=area.area_type,
        )
        found_rows.append(((row.sort_order is None, row.sort_order or 0, row.name), spine))
    return [spine for _, spine in sorted(found_rows, key=lambda pair: pair[0])]


@dataclass(frozen=True)
class _PeerBlock:
    """One indicator at one period across every area of a type: the benchmark's point and
    the spread of the peers' values and judgements. The same for each of those areas'
    pages, so it is built once per data version and shared by all of them."""

    reference: q.Point | None
    spread: q.Spread


def _peer_blocks(
    session: Session,
    cache: PageCache,
    version: str,
    area_type: str,
    benchmark: str,
    comparison: str | None,
    heads: dict[str, q.Breakdown],
    latest: dict[str, m.Observation],
    infos: dict[str, q.IndicatorInfo],
) -> dict[str, _PeerBlock]:
    """`_PeerBlock` of each indicator in ``infos`` at the period of ``latest``: from the
    page cache where an earlier page built it, the rest read in one query."""
    geo = cached_geography(session, cache, version)

    def key(indicator_id: str) -> tuple[object, ...]:
        here = latest[indicator_id]
        when = (here.time_period_sortable, here.period)
        return (version, "area-peers", indicator_id, *when, area_type, benchmark, comparison)

    blocks: dict[str, _PeerBlock] = {}
    for indicator_id in infos:
        found = cache.peek(key(indicator_id))
        if isinstance(found, _PeerBlock):
            blocks[indicator_id] = found
    missing = [i for i in infos if i not in blocks]
    if not missing:
        return blocks
    peer_codes = {a.code for a in geo.areas.values() if a.area_type == area_type}
    pairs = [(i, latest[i].time_period_sortable) for i in missing]
    by_indicator: dict[str, list[m.Observation]] = defaultdict(list)
    for obs in q.observations_at(session, pairs, [*peer_codes, benchmark]):
        head = heads[obs.indicator_id]
        if (obs.sex, obs.age, obs.category_type, obs.category) == (
            head.sex,
            head.age,
            head.category_type,
            head.category,
        ) and obs.period == latest[obs.indicator_id].period:
            by_indicator[obs.indicator_id].append(obs)
    for indicator_id in missing:
        at_period = by_indicator.get(indicator_id, [])
        ref_obs = next((o for o in at_period if o.area_code == benchmark), None)
        reference = q.point_of(ref_obs, geo.areas.get(benchmark)) if ref_obs else None
        peers = [
            q.point_of(o, geo.areas.get(o.area_code))
            for o in at_period
            if o.area_code in peer_codes and o.value is not None
        ]
        block = _PeerBlock(
            reference,
            q.spread(
                [p.value for p in peers if p.value is not None],
                q.compare_points(infos[indicator_id], peers, reference, comparison),
            ),
        )
        cache.put(key(indicator_id), block)
        blocks[indicator_id] = block
    return blocks


@cached_page("area")
def area_page(
    session: Session, cache: PageCache, version: str, area_code: str, choice: IndicatorQuery
) -> AreaPage:
    """An area's page against the reader's benchmark and comparison method (``choice``)."""
    benchmark, comparison = choice.benchmark, choice.comparison
    geo = cached_geography(session, cache, version)
    ref = geo.areas.get(area_code)
    if ref is None:
        raise NotFound(f"There is no area with the code {area_code!r}.")
    check_benchmark(geo, benchmark)
    target = benchmark_for(geo, benchmark, area_code)
    if target is None or target == area_code:
        target = geo.country_code
    benchmark_name = geo.areas[target].name if target in geo.areas else target
    profile = area_profile(session, cache, version, area_code, target, comparison)
    method_text = area_method_words(comparison, benchmark_name)
    lines: list[SpineLine] = []
    items: list[cs.SpineItem] = []
    for spine in profile:
        info = spine.indicator
        d = info.decimals
        outcome = outcome_of(spine.comparison)
        peers = spine.peers
        bench = spine.benchmark.value if spine.benchmark else None
        value = spine.area.value
        gap = None
        if value is not None and bench not in (None, 0):
            assert bench is not None
            gap = (value - bench) / abs(bench)
            if info.polarity == m.LOW_IS_GOOD:
                gap = -gap
        lines.append(
            SpineLine(
                indicator_id=info.id,
                name=info.name,
                period=spine.period,
                value_text=with_unit(fmt(value, d), info.unit),
                benchmark_text=with_unit(fmt(bench, d), info.unit),
                lowest_text=fmt(peers.minimum, d),
                highest_text=fmt(peers.maximum, d),
                peers=peers.count,
                outcome=outcome,
                comparison_text=comparison_words(outcome, benchmark_name),
                comparison_tag=outcome_tag(outcome),
                gap=gap,
                note=source_note(spine.area),
            )
        )
        if (
            value is not None
            and bench is not None
            and peers.minimum is not None
            and peers.maximum is not None
            and peers.q1 is not None
            and peers.q3 is not None
        ):
            low_good = info.polarity == m.LOW_IS_GOOD

            def place(
                v: float,
                centre: float = bench,
                low: float = peers.minimum,
                high: float = peers.maximum,
                flip: bool = low_good,
            ) -> float:
                return cs.spine_position(v, centre, low, high, low_is_good=flip)

            ends = sorted([place(peers.minimum), place(peers.maximum)])
            quarts = sorted([place(peers.q1), place(peers.q3)])
            items.append(
                cs.SpineItem(
                    info.name,
                    ends[0],
                    quarts[0],
                    quarts[1],
                    ends[1],
                    place(value),
                    chart_outcome(outcome),
                    fmt(value, d),
                    benchmark_text=fmt(bench, d),
                    range_text=f"{fmt(peers.minimum, d)} to {fmt(peers.maximum, d)}",
                )
            )
    judged = [x for x in lines if x.gap is not None and base_outcome(x.outcome) == "worse"]
    worst = sorted(judged, key=lambda x: x.gap or 0.0)[:5]
    good = [x for x in lines if x.gap is not None and base_outcome(x.outcome) == "better"]
    best = sorted(good, key=lambda x: -(x.gap or 0.0))[:5]
    peer_type = TYPE_WORDS.get(ref.area_type, ref.area_type.replace("_", " ")).lower()
    peer_words = (
        f"The grey bars show the range across every {peer_type} with data "
        f"(light: lowest to highest; dark: the middle half); the red line is {benchmark_name}."
    )
    charts: list[Chart] = []
    if items:
        counts: dict[str, int] = defaultdict(int)
        for item in items:
            counts[item.outcome] += 1
        tally = ", ".join(f"{n} {o}" for o, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        published = sum(1 for x in lines if is_published(x.outcome))
        also = f" {published} of the judgements are as published." if published else ""
        description = (
            f"Spine chart of {len(items)} indicators for {ref.name} against {benchmark_name}, "
            f"better to the right: {tally}. {method_text}.{also}"
        )
        charts.append(
            Chart(
                "spine",
                "Spine chart",
                cs.spine_chart(
                    items,
                    benchmark_name=benchmark_name,
                    area_name=ref.name,
                    legend=cs.legend_title(method_text, [i.outcome for i in items]),
                ),
                description,
                Table(
                    [
                        "indicator_id",
                        "indicator",
                        "period",
                        "value",
                        "benchmark",
                        "lowest",
                        "highest",
                        "comparison",
                        "comparison_method",
                    ],
                    [
                        [
                            x.indicator_id,
                            x.name,
                            x.period,
                            x.value_text,
                            x.benchmark_text,
                            x.lowest_text,
                            x.highest_text,
                            x.comparison_text,
                            row_method(x.outcome, method_text),
                        ]
                        for x in lines
                    ],
                ),
                note=peer_words,
            )
        )
    pyramid = _pyramid(session, ref)
    if pyramid is not None:
        charts.append(pyramid)
    area_row = q.area_row(session, area_code)
    population = ""
    if area_row is not None and area_row.population:
        population = f"{area_row.population:,}" + (
            f" ({area_row.population_note})" if area_row.population_note else ""
        )
    children = sorted(
        (a for a in geo.areas.values() if a.parent_code == area_code), key=lambda a: a.name
    )
    table = Table(
        [
            "indicator_id",
            "indicator",
            "period",
            "value",
            "benchmark",
            "benchmark_value",
            "lowest_peer",
            "highest_peer",
            "peers",
            "comparison",
            "comparison_method",
            "value_note",
        ],
        [
            [
                x.indicator_id,
                x.name,
                x.period,
                x.value_text,
                benchmark_name,
                x.benchmark_text,
                x.lowest_text,
                x.highest_text,
                x.peers,
                x.comparison_text,
                row_method(x.outcome, method_text),
                x.note,
            ]
            for x in lines
        ],
    )
    offered = benchmark_options(geo)
    if ref.area_type not in (LOCAL_AUTHORITY,):
        offered = [o for o in offered if o[0] != "sub-region"]
    return AreaPage(
        code=ref.code,
        name=ref.name,
        area_type=ref.area_type,
        type_words=TYPE_WORDS.get(ref.area_type, ref.area_type.replace("_", " ").capitalize()),
        parent=geo.areas.get(ref.parent_code) if ref.parent_code else None,
        children=children,
        population_text=population,
        benchmark=benchmark,
        benchmark_name=benchmark_name,
        benchmark_options=options(offered, benchmark),
        comparison=comparison,
        comparison_options=options(
            [("default", "Each indicator's default"), *comparison_options_all()[1:]],
            comparison,
        ),
        method_text=method_text,
        lines=lines,
        worst=worst,
        best=best,
        charts=charts,
        peer_words=peer_words,
        illustrative=any(s.area.illustrative for s in profile),
        table=table,
    )


_AGE_START = re.compile(r"(\d+)")


def _age_order(age: str) -> int | None:
    match = _AGE_START.search(age)
    return int(match.group(1)) if match else None


def _pyramid(session: Session, area: AreaRef) -> Chart | None:
    """A population pyramid from any population-count indicator broken down by sex and
    age band for this area (for example Fingertips' resident population, id 92708)."""
    found = q.population_indicators(session)
    # Real population figures before the demonstration data's made-up ones.
    candidates = [i for i, _ in sorted(found, key=lambda r: (r[1] == m.SOURCE_DEMO, r[0]))]
    for indicator_id in candidates:
        rows = q.population_bands(session, indicator_id, area.code)
        bars = []
        for sex, age, value, _period in rows:
            order = _age_order(age)
            if order is None or value is None or "+" in age and order == 0:
                continue
            bars.append(cs.PyramidBar(age, order, sex, float(value)))
        ages = {b.age for b in bars}
        if len(ages) < 4:
            continue
        # Drop overlapping bands (e.g. "All ages", "18+ yrs"): keep the finest partition.
        bars = [b for b in bars if not b.age.lower().startswith("all")]
        period = rows[0][3]
        total = sum(b.population for b in bars)
        males = sum(b.population for b in bars if b.sex == "Male")
        description = (
            f"Population pyramid of {area.name}, {period}: {fmt(total, 0)} people in "
            f"{len(ages)} age bands, {fmt(100 * males / total if total else None, 1)}% male."
        )
        spec = cs.population_pyramid(bars, sexes=("Male", "Female"))
        # Set the "Age" title above the bands, not across their labels.
        spec["encoding"]["y"]["axis"] = {"titleAngle": 0, "titleAlign": "left", "titleY": -8}
        table = Table(
            ["age", "sex", "people"],
            [[b.age, b.sex, b.population] for b in sorted(bars, key=lambda b: (b.order, b.sex))],
        )
        return Chart("pyramid", "Population by age and sex", spec, description, table)
    return None
