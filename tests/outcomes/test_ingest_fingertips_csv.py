"""Fingertips CSV import: formats seen in the wild, validation, one transaction, upserts.

Runs on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.geography.models import Area
from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes import models as m
from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv
from healthycity.outcomes.ingest.problems import ImportRefused

NAME = "Smoking Prevalence in adults (18+) - current smokers (APS)"


def row(**values: Any) -> dict[str, Any]:
    """One Fingertips row; Fingertips' column names, with keyword-friendly aliases."""
    base: dict[str, Any] = {
        fc.INDICATOR_ID: "92443",
        fc.INDICATOR_NAME: NAME,
        fc.SEX: "Persons",
        fc.AGE: "18+ yrs",
        fc.TIME_PERIOD: "2018",
        fc.TIME_PERIOD_SORTABLE: "20180000",
    }
    aliases = {
        "id": fc.INDICATOR_ID,
        "name": fc.INDICATOR_NAME,
        "parent": fc.PARENT_CODE,
        "parent_name": fc.PARENT_NAME,
        "code": fc.AREA_CODE,
        "area": fc.AREA_NAME,
        "type": fc.AREA_TYPE,
        "period": fc.TIME_PERIOD,
        "sortable": fc.TIME_PERIOD_SORTABLE,
        "value": fc.VALUE,
        "lo": fc.LOWER_95,
        "hi": fc.UPPER_95,
        "lo998": fc.LOWER_998,
        "hi998": fc.UPPER_998,
        "count": fc.COUNT,
        "denominator": fc.DENOMINATOR,
        "note": fc.VALUE_NOTE,
        "england": fc.COMPARED_TO_ENGLAND,
        "region": fc.COMPARED_TO_REGION,
        "trend": fc.RECENT_TREND,
        "sex": fc.SEX,
        "age": fc.AGE,
        "category_type": fc.CATEGORY_TYPE,
        "category": fc.CATEGORY,
    }
    for key, value in values.items():
        base[aliases.get(key, key)] = value
    return base


def write(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...] = fc.COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for values in rows:
            writer.writerow({c: values.get(c, "") for c in columns})
    return path


def sample_rows() -> list[dict[str, Any]]:
    """England, a region, boroughs (one combined with a note), a district, a CCG and a GP."""
    return [
        row(
            code="E92000001",
            area="England",
            type="England",
            value="14.4",
            lo="14.2",
            hi="14.6",
            lo998="14.1",
            hi998="14.7",
            england="Not compared",
        ),
        row(
            parent="E92000001",
            parent_name="England",
            code="E12000007",
            area="London region",
            type="Region",
            value="13.9",
            lo="13.4",
            hi="14.4",
            england="Similar",
        ),
        row(
            parent="E12000007",
            parent_name="London region",
            code="E09000001",
            area="City of London\n(combined with Hackney)",
            type="UA",
            note="Value for Hackney and City of London combined",
            england="Not compared",
        ),
        row(
            parent="E12000007",
            parent_name="London region",
            code="E09000002",
            area="Barking and Dagenham",
            type="UA",
            value="18.1",
            lo="15.0",
            hi="21.2",
            lo998="13.3",
            hi998="22.9",
            count="31000",
            denominator="171000",
            england="Worse",
            region="Worse",
            trend="No significant change",
        ),
        row(
            parent="E12000007",
            parent_name="London region",
            code="E09000027",
            area="Richmond upon Thames",
            type="UA",
            value="9.2",
            lo="7.0",
            hi="11.4",
            england="Better",
            region="Better",
        ),
        row(
            parent="E10000015",
            parent_name="Hertfordshire",
            code="E07000095",
            area="Broxbourne",
            type="Non-metropolitan district",
            value="16.0",
            lo="12.1",
            hi="19.9",
            england="Similar",
        ),
        row(
            parent="E92000001",
            parent_name="England",
            code="E38000240",
            area="NHS North Central London ICB - 93C",
            type="Sub-ICB, former CCGs",
            value="12.5",
            lo="11.0",
            hi="14.0",
            england="Better",
        ),
        row(
            parent="E38000240",
            parent_name="NHS North Central London ICB - 93C",
            code="F83004",
            area="Archway Medical Centre",
            type="GP",
            value="",
            note="Value suppressed",
            england="",
        ),
    ]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the import can touch, for "nothing changed" assertions."""
    with transaction(engine) as session:
        observations = session.execute(
            select(m.Observation.__table__).order_by(m.Observation.id)
        ).all()
        return {
            "observations": [tuple(r) for r in observations],
            "indicators": [
                (i.id, i.name, i.value_type, i.polarity)
                for i in session.scalars(select(m.Indicator).order_by(m.Indicator.id))
            ],
            "areas": [
                (a.code, a.name, a.area_type, a.parent_code)
                for a in session.scalars(select(Area).order_by(Area.code))
            ],
            "releases": [
                (r.id, r.rows)
                for r in session.scalars(select(m.DataRelease).order_by(m.DataRelease.id))
            ],
        }


def test_imports_fingertips_rows_areas_and_indicator(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "fingertips.csv", sample_rows())
    result = import_fingertips_csv(engine, [path])
    assert (result.rows, result.inserted, result.updated) == (8, 8, 0)
    assert result.indicators_created == ["92443"]
    assert "F83004" in result.areas_created and "E10000015" in result.areas_created
    with transaction(engine) as session:
        obs = {o.area_code: o for o in session.scalars(select(m.Observation))}
        assert obs["E09000002"].value == pytest.approx(18.1)
        assert (obs["E09000002"].lower_ci95, obs["E09000002"].upper_ci998) == (15.0, 22.9)
        assert (obs["E09000002"].count, obs["E09000002"].denominator) == (31000, 171000)
        assert obs["E09000002"].compared_to_england == "Worse"
        assert obs["E09000002"].compared_to_region == "Worse"
        assert obs["E09000002"].recent_trend == "No significant change"
        assert obs["E09000001"].value is None
        assert obs["E09000001"].value_note == "Value for Hackney and City of London combined"
        assert obs["F83004"].value is None and obs["F83004"].compared_to_england is None
        assert obs["E92000001"].category_type == "" and obs["E92000001"].age == "18+ yrs"
        assert obs["E92000001"].time_period_sortable == 20180000
        assert not obs["E92000001"].illustrative and obs["E92000001"].release_id == 1

        areas = {a.code: a for a in session.scalars(select(Area))}
        assert areas["E09000001"].name == "City of London\n(combined with Hackney)"
        assert (areas["E09000002"].area_type, areas["E09000002"].parent_code) == (
            "local_authority",
            "E12000007",
        )
        assert (areas["E12000007"].area_type, areas["E92000001"].area_type) == (
            "region",
            "country",
        )
        assert areas["F83004"].area_type == "GP" and areas["F83004"].parent_code == "E38000240"
        assert areas["E10000015"].name == "Hertfordshire"  # created from Parent Name
        assert areas["E07000095"].parent_code == "E10000015"

        indicator = session.get(m.Indicator, "92443")
        assert indicator is not None
        assert (indicator.name, indicator.source, indicator.fingertips_id) == (
            NAME,
            "fingertips",
            "92443",
        )
        # Barking "Worse" above England, Richmond "Better" below it: low is good.
        assert indicator.polarity == m.LOW_IS_GOOD
        assert indicator.data_loaded_at is not None
        release = session.scalars(select(m.DataRelease)).one()
        assert (release.source, release.rows, release.illustrative) == ("fingertips", 8, False)


def test_importing_twice_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "fingertips.csv", sample_rows())
    import_fingertips_csv(engine, [path])
    before = snapshot(engine)
    again = import_fingertips_csv(engine, [path])
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 8)
    assert again.release_id is None and not again.changed
    assert snapshot(engine) == before


def test_changed_value_updates_one_row_and_records_a_release(
    engine: Engine, tmp_path: Path
) -> None:
    rows = sample_rows()
    import_fingertips_csv(engine, [write(tmp_path / "a.csv", rows)])
    rows[3][fc.VALUE] = "18.3"
    rows.append(
        row(
            code="E09000002",
            area="Barking and Dagenham",
            type="UA",
            period="2019",
            sortable="20190000",
            value="17.0",
            parent="E12000007",
        )
    )
    result = import_fingertips_csv(engine, [write(tmp_path / "b.csv", rows)])
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 7)
    with transaction(engine) as session:
        barking = session.scalars(
            select(m.Observation).where(
                m.Observation.area_code == "E09000002", m.Observation.period == "2018"
            )
        ).one()
        assert barking.value == pytest.approx(18.3) and barking.release_id == result.release_id
        england = session.scalars(
            select(m.Observation).where(m.Observation.area_code == "E92000001")
        ).one()
        assert england.release_id == 1  # untouched rows keep their release
        assert session.execute(select(func.count()).select_from(m.DataRelease)).scalar() == 2


def test_file_without_optional_columns_and_with_byte_order_mark(
    engine: Engine, tmp_path: Path
) -> None:
    columns = tuple(
        c
        for c in fc.COLUMNS
        if c
        not in (
            fc.TIME_PERIOD_SORTABLE,
            fc.NEW_DATA,
            fc.COMPARED_TO_GOAL,
            fc.PARENT_CODE,
            fc.PARENT_NAME,
            fc.CATEGORY_TYPE,
            fc.CATEGORY,
        )
    )
    rows = [row(code="E92000001", area="England", type="England", period="2015 - 17", value="14.4")]
    path = write(tmp_path / "old.csv", rows, columns)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    import_fingertips_csv(engine, [path])
    with transaction(engine) as session:
        obs = session.scalars(select(m.Observation)).one()
        assert (obs.period, obs.time_period_sortable, obs.category) == ("2015 - 17", 20150000, "")


def assert_refused(
    engine: Engine, paths: list[Path], expected: list[tuple[int | None, str | None, str]]
) -> None:
    """The import is refused with exactly these (row, column, reason fragment) problems."""
    before = snapshot(engine)
    with pytest.raises(ImportRefused) as caught:
        import_fingertips_csv(engine, paths)
    found = [(p.row, p.column, p.reason) for p in caught.value.problems]
    assert len(found) == len(expected), found
    for (row_no, column, reason), (want_row, want_column, fragment) in zip(
        found, expected, strict=True
    ):
        assert (row_no, column) == (want_row, want_column)
        assert fragment in reason
    assert all(p.file == paths[-1].name or p.file for p in caught.value.problems)
    assert snapshot(engine) == before


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path) -> Engine:
    """A database that already holds data, so "unchanged" means something."""
    import_fingertips_csv(engine, [write(tmp_path / "first.csv", sample_rows())])
    return engine


def test_missing_column_is_refused(loaded: Engine, tmp_path: Path) -> None:
    columns = tuple(c for c in fc.COLUMNS if c != fc.TIME_PERIOD)
    path = write(tmp_path / "bad.csv", sample_rows(), columns)
    assert_refused(loaded, [path], [(1, fc.TIME_PERIOD, "missing column")])


def test_text_in_value_is_refused_with_row_counted_as_a_person_would(
    loaded: Engine, tmp_path: Path
) -> None:
    rows = sample_rows()
    rows[3][fc.VALUE] = "18.1"
    rows[4][fc.VALUE] = "about nine"  # row 6: header, then 4 rows, one spanning two lines
    path = write(tmp_path / "bad.csv", rows)
    assert_refused(loaded, [path], [(6, fc.VALUE, "'about nine' is not a number")])


def test_count_above_denominator_is_refused_for_a_proportion(
    loaded: Engine, tmp_path: Path
) -> None:
    rows = [
        row(
            id="90323",
            name="Year 6 prevalence of obesity (%)",
            code=f"E0900000{n}",
            area=f"Borough {n}",
            type="UA",
            parent="E12000007",
            value=str(100 * c / d),
            count=str(c),
            denominator=str(d),
        )
        for n, (c, d) in enumerate([(200, 1000), (300, 1000), (1200, 1000)], start=1)
    ]
    path = write(tmp_path / "bad.csv", rows)
    assert_refused(loaded, [path], [(4, fc.COUNT, "above the denominator")])


def test_count_above_denominator_is_allowed_for_a_rate(engine: Engine, tmp_path: Path) -> None:
    rows = [
        row(
            id="41401",
            name="Emergency admissions, crude rate per 100,000",
            code=f"E0900000{n}",
            area=f"Borough {n}",
            type="UA",
            value=str(100000 * c / d),
            count=str(c),
            denominator=str(d),
        )
        for n, (c, d) in enumerate([(20, 1000), (30, 1000), (1200, 1000)], start=1)
    ]
    result = import_fingertips_csv(engine, [write(tmp_path / "rates.csv", rows)])
    assert result.inserted == 3
    with transaction(engine) as session:
        indicator = session.get(m.Indicator, "41401")
        assert indicator is not None
        assert (indicator.value_type, indicator.multiplier) == (m.CRUDE_RATE, 100000)


def test_catalogue_value_type_decides_the_proportion_check(loaded: Engine, tmp_path: Path) -> None:
    with transaction(loaded) as session:
        session.add(m.Indicator(id="93088", name="Active adults", value_type=m.PROPORTION))
    rows = [
        row(
            id="93088",
            name="Percentage of physically active adults",
            code="E09000002",
            area="Barking and Dagenham",
            type="UA",
            value="61.0",
            count="900",
            denominator="800",
        ),
    ]
    assert_refused(loaded, [write(tmp_path / "bad.csv", rows)], [(2, fc.COUNT, "proportion")])


def test_duplicate_key_is_refused_naming_both_rows(loaded: Engine, tmp_path: Path) -> None:
    rows = sample_rows()
    rows.append(dict(rows[3]))
    path = write(tmp_path / "bad.csv", rows)
    assert_refused(
        loaded,
        [path],
        [(10, fc.AREA_CODE, "same indicator, area, period, sex, age and category as row 5")],
    )


def test_duplicate_across_two_files_names_the_other_file(loaded: Engine, tmp_path: Path) -> None:
    first = write(tmp_path / "one.csv", sample_rows()[:4])
    second = write(tmp_path / "two.csv", sample_rows()[3:5])
    before = snapshot(loaded)
    with pytest.raises(ImportRefused) as caught:
        import_fingertips_csv(loaded, [first, second])
    (problem,) = caught.value.problems
    assert (problem.file, problem.row) == ("two.csv", 2)
    assert "one.csv row 5" in problem.reason
    assert snapshot(loaded) == before


def test_every_problem_is_reported_at_once(loaded: Engine, tmp_path: Path) -> None:
    rows = sample_rows()
    rows[0][fc.LOWER_95] = "n/a"
    rows[5][fc.AREA_CODE] = ""
    rows[6][fc.COUNT] = "many"
    path = write(tmp_path / "bad.csv", rows)
    assert_refused(
        loaded,
        [path],
        [
            (7, fc.AREA_CODE, "empty"),
            (2, fc.LOWER_95, "not a number"),
            (8, fc.COUNT, "not a number"),
        ],
    )


def test_not_a_csv_file_is_refused(loaded: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\x00\xff\xfe not text at all \xff\n\x00,\x01\n")
    before = snapshot(loaded)
    with pytest.raises(ImportRefused) as caught:
        import_fingertips_csv(loaded, [path])
    assert caught.value.problems[0].file == "bad.csv"
    assert snapshot(loaded) == before


def test_real_data_replace_illustrative_data_of_the_same_indicator(
    engine: Engine, tmp_path: Path
) -> None:
    demo_rows = [
        row(
            code="E92000001",
            area="England",
            type="England",
            period=str(y),
            sortable=f"{y}0000",
            value="20.0",
        )
        for y in range(2010, 2014)
    ]
    demo = import_fingertips_csv(
        engine, [write(tmp_path / "demo.csv", demo_rows)], illustrative=True
    )
    assert demo.illustrative
    real = import_fingertips_csv(engine, [write(tmp_path / "real.csv", sample_rows())])
    assert real.replaced_illustrative == 4
    with transaction(engine) as session:
        flags = session.scalars(select(m.Observation.illustrative)).all()
        assert len(flags) == 8 and not any(flags)


# Streaming: a file is validated and written in chunks of about ``chunk_bytes``; these
# use chunks of a row or two, with line breaks inside quoted names, so that chunk
# boundaries fall everywhere a real file's might.
TINY_CHUNKS = 300


def borough_rows(n: int) -> list[dict[str, Any]]:
    """England and ``n`` unitary authorities, each name quoted over two lines."""
    rows = [sample_rows()[0]]
    for i in range(1, n + 1):
        rows.append(
            row(
                parent="E92000001",
                parent_name="England",
                code=f"E06{i:06d}",
                area=f'Borough {i}, "the\nplace"',
                type="UA",
                value=f"{10 + i % 7}.5",
                count=str(100 + i % 7 * 10 + 5),
                denominator="1000",
                england="Similar" if i % 3 else "Worse",
            )
        )
    return rows


def assert_refused_in_chunks(
    engine: Engine, path: Path, expected: list[tuple[int | None, str | None, str]]
) -> None:
    before = snapshot(engine)
    with pytest.raises(ImportRefused) as caught:
        import_fingertips_csv(engine, [path], chunk_bytes=TINY_CHUNKS)
    found = [(p.row, p.column) for p in caught.value.problems]
    assert found == [(r, c) for r, c, _ in expected]
    for problem, (_, _, fragment) in zip(caught.value.problems, expected, strict=True):
        assert problem.file == path.name
        assert fragment in problem.reason
    assert snapshot(engine) == before


def test_small_chunks_give_the_same_rows_as_one(engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "boroughs.csv", borough_rows(40))
    result = import_fingertips_csv(engine, [path], chunk_bytes=TINY_CHUNKS)
    assert (result.rows, result.inserted) == (41, 41)
    with transaction(engine) as session:
        indicator = session.get(m.Indicator, "92443")
        assert indicator is not None
        assert indicator.value_type == m.PROPORTION  # inferred from rows in every chunk
        assert session.get(Area, "E06000040") is not None
    before = snapshot(engine)
    again = import_fingertips_csv(engine, [path])  # one chunk: nothing differs
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 41)
    assert snapshot(engine) == before


def test_bad_cell_in_the_last_chunk_writes_nothing(loaded: Engine, tmp_path: Path) -> None:
    rows = borough_rows(40)
    rows[-1][fc.VALUE] = "n/a"  # row 42: the header, England, 40 boroughs
    path = write(tmp_path / "late.csv", rows)
    assert_refused_in_chunks(loaded, path, [(42, fc.VALUE, "'n/a' is not a number")])


def test_count_above_denominator_in_the_last_chunk_is_refused(
    loaded: Engine, tmp_path: Path
) -> None:
    rows = borough_rows(40)
    rows[-1][fc.COUNT] = "1200"
    path = write(tmp_path / "late.csv", rows)
    assert_refused_in_chunks(loaded, path, [(42, fc.COUNT, "above the denominator")])


def test_duplicate_of_an_early_row_in_the_last_chunk_is_refused(
    loaded: Engine, tmp_path: Path
) -> None:
    rows = borough_rows(40)
    rows.append(dict(rows[1]))
    path = write(tmp_path / "late.csv", rows)
    assert_refused_in_chunks(loaded, path, [(43, fc.AREA_CODE, "same indicator, area")])


def test_failure_while_writing_a_late_chunk_rolls_back_the_earlier_ones(
    loaded: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Earlier chunks are really written before the failure, and still nothing stays."""
    from healthycity.outcomes.ingest import store

    written: list[int] = []
    upsert = store._upsert

    def failing_upsert(session: Any, frame: Any) -> int:
        if len(written) == 3:
            raise RuntimeError("the disk is full")
        written.append(upsert(session, frame))
        return written[-1]

    monkeypatch.setattr(store, "_upsert", failing_upsert)
    path = write(tmp_path / "boroughs.csv", borough_rows(40))
    before = snapshot(loaded)
    with pytest.raises(RuntimeError, match="disk is full"):
        import_fingertips_csv(loaded, [path], chunk_bytes=TINY_CHUNKS)
    assert len(written) == 3 and sum(written) > 0
    assert snapshot(loaded) == before
