"""Export in Fingertips' columns: our judgement reproduces Fingertips' published one,
and the file re-imports unchanged (issue 3 acceptance, on both engines).

The test builds data in Fingertips' format, as Fingertips publishes it: values with
intervals, and "Compared to England"/"Compared to Region" judgements made by
Fingertips' rule (written out here independently of the code under test), for
indicators of each polarity and at each comparison level.
"""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.geography.models import Area
from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes import models as m
from healthycity.outcomes.export import ExportError, export_csv, export_json, number_text
from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv

ENGLAND, LONDON = "E92000001", "E12000007"
# (indicator id, polarity as Fingertips labels it, level the published judgement used)
INDICATORS = [
    ("92443", m.LOW_IS_GOOD, 0.95),
    ("90631", m.HIGH_IS_GOOD, 0.95),
    ("91096", m.LOW_IS_GOOD, 0.998),
    ("93014", m.NO_JUDGEMENT, 0.95),
]
Z = {0.95: 1.959963984540054, 0.998: 3.090232306167813}


def published(
    value: float | None,
    low: float | None,
    high: float | None,
    benchmark: float | None,
    polarity: str,
) -> str:
    """Fingertips' rule, as its technical guidance states it."""
    if value is None or low is None or high is None or benchmark is None:
        return "Not compared"
    if low <= benchmark <= high:
        return "Similar"
    higher = value > benchmark
    if polarity == m.NO_JUDGEMENT:
        return "Higher" if higher else "Lower"
    return "Better" if higher == (polarity == m.HIGH_IS_GOOD) else "Worse"


def fingertips_rows(seed: int = 20190315) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    boroughs = [f"E09{n:06d}" for n in range(1, 34)]
    for indicator_id, polarity, level in INDICATORS:
        for year in (2016, 2017, 2018):
            england_value = rng.uniform(10, 60)
            london_value = england_value * rng.uniform(0.85, 1.15)
            figures: dict[str, tuple[float | None, float, float]] = {}
            for code in [ENGLAND, LONDON, *boroughs]:
                centre = {ENGLAND: england_value, LONDON: london_value}.get(
                    code, london_value * rng.uniform(0.7, 1.3)
                )
                se = centre * (0.004 if code == ENGLAND else rng.uniform(0.02, 0.12))
                value: float | None = None if code == "E09000001" else centre
                figures[code] = (value, se, centre)
            for code, (value, se, centre) in figures.items():
                lo95, hi95 = centre - Z[0.95] * se, centre + Z[0.95] * se
                lo998, hi998 = centre - Z[0.998] * se, centre + Z[0.998] * se
                low, high = (lo95, hi95) if level == 0.95 else (lo998, hi998)
                if value is None:
                    lo95 = hi95 = lo998 = hi998 = low = high = None  # type: ignore[assignment]
                parent = "" if code == ENGLAND else (ENGLAND if code == LONDON else LONDON)
                england_said = (
                    "Not compared"
                    if code == ENGLAND
                    else published(value, low, high, england_value, polarity)
                )
                region_said = (
                    "Not compared"
                    if code in (ENGLAND, LONDON)
                    else published(value, low, high, london_value, polarity)
                )
                rows.append(
                    {
                        fc.INDICATOR_ID: indicator_id,
                        fc.INDICATOR_NAME: f"Indicator {indicator_id}",
                        fc.PARENT_CODE: parent,
                        fc.PARENT_NAME: {ENGLAND: "England", LONDON: "London region"}.get(
                            parent, ""
                        ),
                        fc.AREA_CODE: code,
                        fc.AREA_NAME: {ENGLAND: "England", LONDON: "London region"}.get(
                            code, f"Borough {code}"
                        ),
                        fc.AREA_TYPE: {ENGLAND: "England", LONDON: "Region"}.get(code, "UA"),
                        fc.SEX: "Persons",
                        fc.AGE: "All ages",
                        fc.TIME_PERIOD: str(year),
                        fc.VALUE: number_text(value),
                        fc.LOWER_95: number_text(lo95),
                        fc.UPPER_95: number_text(hi95),
                        fc.LOWER_998: number_text(lo998),
                        fc.UPPER_998: number_text(hi998),
                        fc.VALUE_NOTE: "Value for Hackney and City of London combined"
                        if value is None
                        else "",
                        fc.COMPARED_TO_ENGLAND: england_said,
                        fc.COMPARED_TO_REGION: region_said,
                        fc.TIME_PERIOD_SORTABLE: f"{year}0000",
                    }
                )
    return rows


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(fc.COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in fc.COLUMNS})
    return path


def read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def snapshot(engine: Engine) -> list[tuple[Any, ...]]:
    with transaction(engine) as session:
        rows = session.execute(select(m.Observation.__table__).order_by(m.Observation.id)).all()
        return [tuple(r) for r in rows]


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path) -> Engine:
    source = fingertips_rows()
    judged = {r[fc.COMPARED_TO_ENGLAND] for r in source}
    assert {"Better", "Similar", "Worse", "Higher", "Lower", "Not compared"} <= judged
    import_fingertips_csv(engine, [write(tmp_path / "fingertips.csv", source)])
    return engine


def test_export_reproduces_the_published_judgements(loaded: Engine) -> None:
    source = {
        (r[fc.INDICATOR_ID], r[fc.AREA_CODE], r[fc.TIME_PERIOD]): r for r in fingertips_rows()
    }
    with transaction(loaded) as session:
        levels = {i.id: i.comparison_level for i in session.scalars(select(m.Indicator))}
        assert levels["91096"] == 0.998 and levels["92443"] is None
        for indicator_id, _, _ in INDICATORS:
            exported = read(export_csv(session, indicator_id, benchmark=ENGLAND))
            assert len(exported) == 3 * 35
            assert list(exported[0]) == list(fc.COLUMNS)
            for row in exported:
                original = source[(indicator_id, row[fc.AREA_CODE], row[fc.TIME_PERIOD])]
                assert row[fc.COMPARED_TO_ENGLAND] == original[fc.COMPARED_TO_ENGLAND], row
                assert row[fc.COMPARED_TO_REGION] == original[fc.COMPARED_TO_REGION], row
                assert row[fc.VALUE] == original[fc.VALUE]


def test_export_reimports_unchanged(loaded: Engine, tmp_path: Path) -> None:
    before = snapshot(loaded)
    with transaction(loaded) as session:
        paths = [
            write(tmp_path / f"{i}.csv", read(export_csv(session, i))) for i, _, _ in INDICATORS
        ]
    result = import_fingertips_csv(loaded, paths)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, result.rows)
    assert snapshot(loaded) == before


def test_benchmark_other_than_england_fills_the_region_column(loaded: Engine) -> None:
    with transaction(loaded) as session:
        exported = read(export_csv(session, "92443", benchmark="E09000002"))
        barking = next(
            r for r in exported if r[fc.AREA_CODE] == "E09000002" and r[fc.TIME_PERIOD] == "2018"
        )
        assert barking[fc.COMPARED_TO_REGION] == "Not compared"
        others = {r[fc.COMPARED_TO_REGION] for r in exported if r[fc.AREA_CODE] != "E09000002"}
        assert others <= {"Better", "Similar", "Worse", "Not compared"} and len(others) > 1
        with pytest.raises(ExportError):
            export_csv(session, "92443", benchmark="E00000000")
        with pytest.raises(ExportError):
            export_csv(session, "nope")


def test_json_export(loaded: Engine) -> None:
    with transaction(loaded) as session:
        payload = json.loads(export_json(session, "90631"))
    assert payload["indicator"]["id"] == "90631" and payload["benchmark"] == ENGLAND
    assert payload["indicator"]["polarity"] == m.HIGH_IS_GOOD
    assert payload["illustrative"] is False and payload["columns"] == list(fc.COLUMNS)
    city = next(r for r in payload["rows"] if r[fc.AREA_CODE] == "E09000001")
    assert city[fc.VALUE] is None and city[fc.VALUE_NOTE].startswith("Value for Hackney")
    england = next(r for r in payload["rows"] if r[fc.AREA_CODE] == ENGLAND)
    assert isinstance(england[fc.VALUE], float) and england[fc.INDICATOR_ID] == "90631"


def test_pack_hierarchy_exports_the_region_as_parent(engine: Engine) -> None:
    with transaction(engine) as session:
        session.add(Area(code=ENGLAND, name="England", area_type="country"))
        session.add(Area(code=LONDON, name="London", area_type="region", parent_code=ENGLAND))
        session.add(
            Area(
                code="E54000027",
                name="North West London",
                area_type="sub_region",
                parent_code=LONDON,
            )
        )
        session.add(
            Area(
                code="E09000005", name="Brent", area_type="local_authority", parent_code="E54000027"
            )
        )
        session.add(m.Indicator(id="hc-x", name="X", polarity=m.HIGH_IS_GOOD))
        session.flush()
        for code, value in ((ENGLAND, 50.0), (LONDON, 52.0), ("E09000005", 60.0)):
            session.add(
                m.Observation(
                    indicator_id="hc-x",
                    area_code=code,
                    period="2018",
                    time_period_sortable=20180000,
                    value=value,
                    lower_ci95=value - 1,
                    upper_ci95=value + 1,
                )
            )
    with transaction(engine) as session:
        rows = {r[fc.AREA_CODE]: r for r in read(export_csv(session, "hc-x"))}
    brent = rows["E09000005"]
    assert (brent[fc.PARENT_CODE], brent[fc.PARENT_NAME]) == (LONDON, "London")
    assert brent[fc.AREA_TYPE] == "Local authority"
    assert (brent[fc.COMPARED_TO_ENGLAND], brent[fc.COMPARED_TO_REGION]) == ("Better", "Better")
    assert rows[ENGLAND][fc.COMPARED_TO_ENGLAND] == "Not compared"
