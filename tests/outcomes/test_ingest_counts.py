"""Counts in, statistics out: proportions, rates and DSRs computed on import, checked
against PHE's own expected values in ../shared/reference/pheindicatormethods."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.outcomes import models as m
from healthycity.outcomes.ingest.counts_csv import import_counts_csv
from healthycity.outcomes.ingest.problems import ImportRefused

REFERENCE = ("reference", "pheindicatormethods")


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def observations(engine: Engine) -> dict[str, m.Observation]:
    with transaction(engine) as session:
        return {o.area_code: o for o in session.scalars(select(m.Observation))}


def test_proportions_match_phe_and_reimport_changes_nothing(
    engine: Engine, shared_dir: Path, tmp_path: Path
) -> None:
    reference = rows_of(shared_dir.joinpath(*REFERENCE, "proportion.csv"))[8:16]  # x100
    path = write(
        tmp_path / "counts.csv",
        ["area_code", "area_name", "period", "count", "denominator"],
        [
            [f"X{n:08d}", r["Area"], "2018/19", r["Numerator"], r["Denominator"]]
            for n, r in enumerate(reference)
        ],
    )
    result = import_counts_csv(engine, path, "hc-test", method="proportion")
    assert (result.inserted, result.indicators_created) == (8, ["hc-test"])
    found = observations(engine)
    for n, expected in enumerate(reference):
        obs = found[f"X{n:08d}"]
        for column, field in (
            ("value", "value"),
            ("lower95_0cl", "lower_ci95"),
            ("upper95_0cl", "upper_ci95"),
            ("lower99_8cl", "lower_ci998"),
            ("upper99_8cl", "upper_ci998"),
        ):
            assert getattr(obs, field) == pytest.approx(float(expected[column]), rel=1e-9)
        assert obs.time_period_sortable == 20180000 and obs.sex == "Persons"
    with transaction(engine) as session:
        indicator = session.get(m.Indicator, "hc-test")
        assert indicator is not None
        assert (indicator.value_type, indicator.multiplier, indicator.source) == (
            m.PROPORTION,
            100,
            "csv",
        )
    again = import_counts_csv(engine, path, "hc-test")  # method from the indicator now
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 8)


def test_dsr_from_age_bands_matches_phe(engine: Engine, shared_dir: Path, tmp_path: Path) -> None:
    bands = rows_of(shared_dir.joinpath(*REFERENCE, "dsr_isr_input_multiarea.csv"))
    expected = {
        r["area"]: r for r in rows_of(shared_dir.joinpath(*REFERENCE, "dsr_results.csv"))[4:7]
    }
    codes = {
        "testdata_big": "X00000001",
        "testdata_small": "X00000002",
        "testdata_tiny": "X00000003",
    }
    path = write(
        tmp_path / "deaths.csv",
        ["area_code", "period", "sex", "age_band", "count", "denominator"],
        [[codes[b["area"]], "2017", "Persons", b["ageband"], b["count"], b["pop"]] for b in bands],
    )
    result = import_counts_csv(engine, path, "hc-dsr", method="dsr", multiplier=100000)
    assert result.inserted == 3
    found = observations(engine)
    for area, code in codes.items():
        obs, want = found[code], expected[area]
        assert obs.count == float(want["total_count"])
        assert obs.denominator == float(want["total_pop"])
        if want["value"]:
            assert obs.value == pytest.approx(float(want["value"]), rel=1e-9)
            assert obs.upper_ci998 == pytest.approx(float(want["upper99_8cl"]), rel=1e-9)
            assert obs.value_note is None
        else:
            assert obs.value is None and "count < 10" in (obs.value_note or "")


def test_bad_counts_are_refused_with_rows_and_nothing_written(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "bad.csv",
        ["area_code", "period", "count", "denominator"],
        [
            ["E09000001", "2018", "12", "100"],
            ["E09000002", "2018", "twelve", "100"],
            ["E09000003", "2018", "5", ""],
            ["E09000004", "2018", "5", "lots"],
        ],
    )
    with pytest.raises(ImportRefused) as caught:
        import_counts_csv(engine, path, "hc-test", method="proportion")
    assert [(p.row, p.column) for p in caught.value.problems] == [
        (3, "count"),
        (5, "denominator"),
    ]
    over = write(
        tmp_path / "over.csv",
        ["area_code", "period", "count", "denominator"],
        [["E09000001", "2018", "12", "100"], ["E09000002", "2018", "120", "100"]],
    )
    with pytest.raises(ImportRefused) as caught:
        import_counts_csv(engine, over, "hc-test", method="proportion")
    (problem,) = caught.value.problems
    assert (problem.row, problem.column) == (3, "count")
    assert "greater than its denominator" in problem.reason
    duplicate = write(
        tmp_path / "dup.csv",
        ["area_code", "period", "count", "denominator"],
        [["E09000001", "2018", "12", "100"], ["E09000001", "2018", "13", "100"]],
    )
    with pytest.raises(ImportRefused) as caught:
        import_counts_csv(engine, duplicate, "hc-test", method="rate")
    assert [(p.row, p.column) for p in caught.value.problems] == [(3, "area_code")]
    missing = write(tmp_path / "missing.csv", ["area_code", "period", "count"], [["E1", "2018", 1]])
    with pytest.raises(ImportRefused) as caught:
        import_counts_csv(engine, missing, "hc-test", method="rate")
    assert [(p.row, p.column) for p in caught.value.problems] == [(1, "denominator")]
    with pytest.raises(ImportRefused) as caught:
        import_counts_csv(engine, missing, "hc-new")
    assert "--method" in caught.value.problems[0].reason
    with transaction(engine) as session:
        assert session.scalars(select(m.Observation)).all() == []
        assert session.scalars(select(m.Indicator)).all() == []
