"""An indicator's data in Fingertips' own columns, with this project's comparisons.

Analysts already have tools that read Fingertips CSVs, so the export writes exactly its
columns (``fingertips_columns.COLUMNS``), and the file re-imports with ``healthycity
load fingertips`` unchanged. The "Compared to … value or percentiles" columns carry this
project's own judgement, made with the statistics package by Fingertips' rules:

- "Compared to England value or percentiles": against England (E92000001);
- "Compared to Region value or percentiles": against ``benchmark`` when it is not
  England (a region, a sub-region, any area), otherwise against each area's region.

Where a row has no interval but the publisher judged it, the publisher's words are
written (the judgement "as published"), so they round-trip unchanged. ``published=True``
(``data export --published``) adds two columns after Fingertips' own: the comparison with
England as published, and where it disagrees with ours, ours ("Disagrees with ours").
Figures computed from their parts (London from its boroughs) are rows like the others,
their "Value note" saying how they were obtained.

The CSV is also the ``.csv`` twin of an indicator page (issue 4), via ``export_table``.
Numbers are written at full precision (Python's shortest round-tripping form), so the
round trip is exact; illustrative rows keep their "Illustrative data" value note.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.geography.models import Area
from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes import models as m
from healthycity.outcomes.queries import (
    ENGLAND,
    IndicatorInfo,
    Judgement,
    Point,
    compare_points,
    indicator_info,
    point_of,
)

# Our area types as Fingertips labels them ("Area Type"); others are written as stored.
_AREA_TYPE_LABELS = {
    "country": "England",
    "region": "Region",
    "sub_region": "Sub-region",
    "local_authority": "Local authority",
}
_OUTCOME_TEXT = {
    "better": "Better",
    "similar": "Similar",
    "worse": "Worse",
    "higher": "Higher",
    "lower": "Lower",
    "not compared": "Not compared",
}


# Added by ``published=True``: the publisher's comparison, and ours where they differ.
PUBLISHED_COLUMNS = ("Compared to England as published", "Disagrees with ours")


def _differs(published: str, ours: str) -> bool:
    from healthycity.outcomes.queries.values import published_outcome

    said = published_outcome(published)
    mine = published_outcome(ours)
    return said is not None and mine is not None and said != mine


class ExportError(ValueError):
    """The export cannot be made (unknown indicator or benchmark)."""


@dataclass(frozen=True)
class ExportTable:
    """Fingertips columns and rows of text, ready for a CSV writer or a page's twin."""

    columns: Sequence[str]
    rows: list[list[str]]
    indicator: IndicatorInfo
    benchmark: str
    illustrative: bool


def number_text(value: float | None) -> str:
    """A number as Fingertips writes it: whole numbers bare, others at full precision."""
    if value is None:
        return ""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def outcome_text(judgement: Judgement | None) -> str:
    """Fingertips' words: 'Better', 'Similar'; with two levels 'Better 99.8%', as its
    own CSVs write a level."""
    if judgement is None:
        return "Not compared"
    base, _, level = judgement.outcome.partition(" (")
    text = _OUTCOME_TEXT.get(base, base[:1].upper() + base[1:])
    return f"{text} {level.rstrip(')')}" if level else text


def _region_of(code: str, areas: dict[str, Area]) -> Area | None:
    """The nearest ancestor that is a region (a borough's parent may be a sub-region)."""
    seen = {code}
    area = areas.get(code)
    while area is not None and area.parent_code and area.parent_code not in seen:
        seen.add(area.parent_code)
        area = areas.get(area.parent_code)
        if area is not None and area.area_type == "region":
            return area
    return None


def export_table(
    session: Session,
    indicator_id: str,
    *,
    benchmark: str = ENGLAND,
    comparison: str | None = None,
    published: bool = False,
) -> ExportTable:
    """Every observation of an indicator as Fingertips rows, compared as described above
    by the reader's ``comparison`` method (``compare.Choice``; the indicator's default
    when None)."""
    row = session.get(m.Indicator, indicator_id)
    if row is None:
        raise ExportError(f"unknown indicator {indicator_id!r}")
    areas = {a.code: a for a in session.scalars(select(Area))}
    if benchmark not in areas:
        raise ExportError(f"unknown benchmark area {benchmark!r}")
    info = indicator_info(row)
    observations = session.scalars(
        select(m.Observation)
        .where(m.Observation.indicator_id == indicator_id)
        .order_by(
            m.Observation.sex,
            m.Observation.age,
            m.Observation.category_type,
            m.Observation.category,
            m.Observation.time_period_sortable,
            m.Observation.period,
            m.Observation.area_code,
        )
    ).all()
    points = {
        (o.sex, o.age, o.category_type, o.category, o.period, o.area_code): point_of(
            o, areas.get(o.area_code)
        )
        for o in observations
    }

    def reference(obs: m.Observation, code: str | None) -> Point | None:
        if code is None:
            return None
        # A category's rows compare with the benchmark's overall figure, as Fingertips does.
        for key in (
            (obs.sex, obs.age, obs.category_type, obs.category, obs.period, code),
            (obs.sex, obs.age, "", "", obs.period, code),
        ):
            if key in points:
                return points[key]
        return None

    keyed = [
        points[(o.sex, o.age, o.category_type, o.category, o.period, o.area_code)]
        for o in observations
    ]
    versus_england = [reference(o, ENGLAND) for o in observations]
    regions = [_region_of(o.area_code, areas) for o in observations]
    versus_other = [
        reference(o, benchmark if benchmark != ENGLAND else (r.code if r else None))
        for o, r in zip(observations, regions, strict=True)
    ]
    against_england = _judge_all(info, keyed, versus_england, comparison)
    against_other = _judge_all(info, keyed, versus_other, comparison)

    rows: list[list[str]] = []
    for index, obs in enumerate(observations):
        area = areas.get(obs.area_code)
        region = regions[index]
        parent = (
            region
            if region is not None
            else (areas.get(area.parent_code) if area is not None and area.parent_code else None)
        )
        england = _words(against_england[index])
        other = _words(against_other[index])
        record = {
            fc.INDICATOR_ID: row.id,
            fc.INDICATOR_NAME: row.name,
            fc.PARENT_CODE: parent.code if parent is not None else "",
            fc.PARENT_NAME: parent.name if parent is not None else "",
            fc.AREA_CODE: obs.area_code,
            fc.AREA_NAME: area.name if area is not None else obs.area_code,
            fc.AREA_TYPE: _AREA_TYPE_LABELS.get(area.area_type, area.area_type)
            if area is not None
            else "",
            fc.SEX: obs.sex,
            fc.AGE: obs.age,
            fc.CATEGORY_TYPE: obs.category_type,
            fc.CATEGORY: obs.category,
            fc.TIME_PERIOD: obs.period,
            fc.VALUE: number_text(obs.value),
            fc.LOWER_95: number_text(obs.lower_ci95),
            fc.UPPER_95: number_text(obs.upper_ci95),
            fc.LOWER_998: number_text(obs.lower_ci998),
            fc.UPPER_998: number_text(obs.upper_ci998),
            fc.COUNT: number_text(obs.count),
            fc.DENOMINATOR: number_text(obs.denominator),
            fc.VALUE_NOTE: obs.value_note or "",
            fc.RECENT_TREND: obs.recent_trend or "",
            fc.COMPARED_TO_ENGLAND: england,
            fc.COMPARED_TO_REGION: other,
            fc.TIME_PERIOD_SORTABLE: str(obs.time_period_sortable),
            fc.NEW_DATA: "",
            fc.COMPARED_TO_GOAL: obs.compared_to_goal or "",
        }
        line = [record[c] for c in fc.COLUMNS]
        if published:
            said = obs.compared_to_england or ""
            judged = against_england[index]
            ours = "" if judged is None or judged.as_published else outcome_text(judged)
            line += [said, ours if _differs(said, ours) else ""]
        rows.append(line)
    return ExportTable(
        columns=(*fc.COLUMNS, *PUBLISHED_COLUMNS) if published else fc.COLUMNS,
        rows=rows,
        indicator=info,
        benchmark=benchmark,
        illustrative=any(o.illustrative for o in observations),
    )


def _judge_all(
    info: IndicatorInfo,
    points: Sequence[Point],
    benchmarks: Sequence[Point | None],
    comparison: str | None,
) -> list[Judgement | None]:
    """Each point judged against its own benchmark (None: not compared), the points that
    share a benchmark in one vectorised call (`compare_points`): an export judges every
    row twice, and one call per row cost most of the indicator CSV's time."""
    judged: list[Judgement | None] = [None] * len(points)
    groups: dict[int, tuple[Point, list[int]]] = {}
    for index, benchmark in enumerate(benchmarks):
        if benchmark is not None:
            groups.setdefault(id(benchmark), (benchmark, []))[1].append(index)
    for benchmark, indexes in groups.values():
        found = compare_points(info, [points[i] for i in indexes], benchmark, comparison)
        for index, judgement in zip(indexes, found, strict=True):
            judged[index] = judgement
    return judged


def _words(judgement: Judgement | None) -> str:
    if judgement is None:
        return "Not compared"
    if judgement.as_published and judgement.published:
        return judgement.published  # the publisher's words, so they round-trip unchanged
    return outcome_text(judgement)


def export_csv(
    session: Session, indicator_id: str, *, benchmark: str = ENGLAND, published: bool = False
) -> str:
    """The export as CSV text (Fingertips' header and quoting; CRLF-free lines)."""
    table = export_table(session, indicator_id, benchmark=benchmark, published=published)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return out.getvalue()


def export_records(table: ExportTable) -> list[dict[str, Any]]:
    """Rows as objects keyed by Fingertips' column names (numbers as numbers)."""
    numeric = {
        fc.VALUE,
        fc.LOWER_95,
        fc.UPPER_95,
        fc.LOWER_998,
        fc.UPPER_998,
        fc.COUNT,
        fc.DENOMINATOR,
        fc.TIME_PERIOD_SORTABLE,
    }
    records = []
    for row in table.rows:
        record: dict[str, Any] = {}
        for column, text in zip(table.columns, row, strict=True):
            if column in numeric:
                record[column] = None if text == "" else float(text)
            else:
                record[column] = text or None
        records.append(record)
    return records


def export_json(
    session: Session, indicator_id: str, *, benchmark: str = ENGLAND, published: bool = False
) -> str:
    """The export as JSON: the indicator, the benchmark, the illustrative flag, rows."""
    table = export_table(session, indicator_id, benchmark=benchmark, published=published)
    info = table.indicator
    payload = {
        "indicator": {
            "id": info.id,
            "name": info.name,
            "unit": info.unit,
            "value_type": info.value_type,
            "polarity": info.polarity,
            "source": info.source,
        },
        "benchmark": table.benchmark,
        "illustrative": table.illustrative,
        "columns": list(table.columns),
        "rows": export_records(table),
    }
    return json.dumps(payload, ensure_ascii=False, indent=1) + "\n"
