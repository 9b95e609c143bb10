"""Long-format import, checked against the real Trafford Data Lab extracts in ../shared.

The README of ../shared/data counts each file's rows, London rows and London NAs; the
import must agree with it, on both engines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.geography.models import Area
from healthycity.outcomes import models as m
from healthycity.outcomes.ingest.long_format import import_long_file
from healthycity.outcomes.ingest.problems import ImportRefused

LONDON = [f"E09{n:06d}" for n in range(1, 34)]


def trafford(shared_dir: Path, name: str) -> Path:
    return shared_dir / "data" / "fingertips" / "trafford_dashboard" / f"{name}.csv"


def count(engine: Engine, *conditions: object) -> int:
    with transaction(engine) as session:
        query = select(func.count()).select_from(m.Observation).where(*conditions)  # type: ignore[arg-type]
        return int(session.execute(query).scalar_one())


def test_smoking_extract_matches_the_readme(engine: Engine, shared_dir: Path) -> None:
    result = import_long_file(engine, trafford(shared_dir, "smoking_adults"), "92443")
    assert (result.rows, result.inserted) == (2610, 2610)
    london = m.Observation.area_code.in_(LONDON)
    assert count(engine, london) == 264
    assert count(engine, london, m.Observation.value.is_(None)) == 8
    with transaction(engine) as session:
        indicator = session.get(m.Indicator, "92443")
        assert indicator is not None
        assert (indicator.value_type, indicator.unit, indicator.multiplier) == (
            m.PROPORTION,
            "%",
            100,
        )
        assert indicator.polarity == m.LOW_IS_GOOD  # read from "Better"/"Worse"
        assert indicator.name.startswith("Smoking Prevalence in adults")
        england = session.scalars(
            select(m.Observation).where(
                m.Observation.area_code == "E92000001", m.Observation.period == "2018"
            )
        ).one()
        assert england.sex == "Persons" and england.time_period_sortable == 20180000
        city = session.get(Area, "E09000001")
        assert city is not None and city.area_type == "local_authority"
        said = set(session.scalars(select(m.Observation.compared_to_england).distinct()))
        assert {"Better", "Similar", "Worse"} <= said


def test_group_column_becomes_sex_and_reimport_changes_nothing(
    engine: Engine, shared_dir: Path
) -> None:
    path = trafford(shared_dir, "healthy_life_expectancy_at_birth")
    first = import_long_file(engine, path, "90362")
    assert first.inserted == 2454
    assert count(engine, m.Observation.area_code.in_(LONDON)) == 528
    assert count(engine, m.Observation.sex == "Female") == 2454 // 2
    second = import_long_file(engine, path, "90362")
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 2454)
    with transaction(engine) as session:
        indicator = session.get(m.Indicator, "90362")
        assert indicator is not None
        assert (indicator.value_type, indicator.polarity) == (m.LIFE_EXPECTANCY, m.HIGH_IS_GOOD)
        assert session.execute(select(func.count()).select_from(m.DataRelease)).scalar() == 1


@pytest.mark.parametrize(
    ("name", "value_type"),
    [
        ("mortality_serious_mental_illness", m.ISR),
        ("preventable_mortality_from_cancer", m.DSR),
        ("slope_index_of_inequality", m.GAP),
    ],
)
def test_measure_gives_the_value_type(
    engine: Engine, shared_dir: Path, name: str, value_type: str
) -> None:
    import_long_file(engine, trafford(shared_dir, name), "1")
    with transaction(engine) as session:
        indicator = session.get(m.Indicator, "1")
        assert indicator is not None and indicator.value_type == value_type


def test_bad_long_file_is_refused_and_nothing_written(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "area_code,area_name,period,value\n"
        "E09000001,City of London,2018,NA\n"
        "E09000002,Barking and Dagenham,2018,about 12\n"
        "E09000002,Barking and Dagenham,2018,12.5\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRefused) as caught:
        import_long_file(engine, path, "hc-test")
    found = [(p.row, p.column) for p in caught.value.problems]
    assert found == [(3, "value"), (4, "period")]
    assert "row 3" in caught.value.problems[1].reason
    assert count(engine) == 0
    with transaction(engine) as session:
        assert session.get(m.Indicator, "hc-test") is None


def test_missing_required_column(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("area_code,period\nE09000001,2018\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as caught:
        import_long_file(engine, path, "hc-test")
    assert [(p.row, p.column) for p in caught.value.problems] == [(1, "value")]
