"""Issue 12 items 1–3: published judgements kept and used, aggregates from their parts,
targets and trends on real data. Storage tests run on both engines."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine

from healthycity.core.db import make_engine, transaction
from healthycity.core.migrate import upgrade
from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes import models as m
from healthycity.outcomes.aggregate import summed
from healthycity.outcomes.export import PUBLISHED_COLUMNS, export_csv, export_table
from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv
from healthycity.outcomes.ingest.long_format import import_long_file
from healthycity.outcomes.queries import (
    COMPUTED_NOTE,
    areas_within,
    data_status,
    indicator_summaries,
    latest_values,
    published_disagreements,
)
from healthycity.outcomes.stats.proportion import wilson_limits
from tests.outcomes.test_ingest_fingertips_csv import row, write

LONDON = "E12000007"


def london_pack(engine: Engine) -> None:
    from healthycity.core.pack_loading import load_pack
    from healthycity.packs.reader import PACKS_DIR, read_pack

    load_pack(engine, read_pack(PACKS_DIR / "london"))


def boroughs(engine: Engine) -> list[str]:
    with transaction(engine) as session:
        return [a.code for a in areas_within(session, LONDON, "local_authority")]


def test_smoking_file_shows_published_judgements(engine: Engine, shared_dir: Path) -> None:
    london_pack(engine)
    path = shared_dir / "data" / "fingertips" / "trafford_dashboard" / "smoking_adults.csv"
    result = import_long_file(engine, path, "92443")
    assert result.aggregates_computed == 0  # no counts: London cannot be computed
    codes = boroughs(engine)
    with transaction(engine) as session:
        table = latest_values(session, "92443", area_codes=codes)
        assert table is not None and table.period == "2018"
        compared = [
            r
            for r in table.rows
            if r.comparison is not None and r.comparison.outcome != "not compared"
        ]
        assert len(compared) == 32  # the City of London has no value in 2018
        for area_value in compared:
            judgement = area_value.comparison
            assert judgement is not None and judgement.as_published
            assert judgement.method == "as published"
            assert judgement.label.endswith("(as published)")
            assert judgement.outcome == (area_value.point.published_england or "").lower()
        assert {j.comparison.outcome for j in compared if j.comparison} <= {
            "better",
            "similar",
            "worse",
        }
        (summary,) = indicator_summaries(session, indicator_ids=["92443"])
        assert summary.city is None
        # the City of London has no value: not compared, as published
        assert summary.boroughs is not None and summary.boroughs.not_compared == 1
        assert summary.boroughs.better + summary.boroughs.similar + summary.boroughs.worse == 32
        assert summary.targets, "the pack sets a London smoking target"
        judged = [t for t in summary.targets if t.status != "not set"]
        assert judged  # "down to 13%"; the other is a position, not judged
        for target in judged:
            assert target.status == "not enough data"
            assert "no counts and denominators" in target.method
        status = data_status(session)
        assert status.real_indicators == 1 and status.indicators > 1
        assert status.real_text.startswith("1 of ")
    # the export writes the published words back, and they re-import unchanged
    with transaction(engine) as session:
        text = export_csv(session, "92443")
    rows = list(csv.DictReader(text.splitlines()))
    barnet = [r for r in rows if r[fc.AREA_CODE] == "E09000003" and r[fc.TIME_PERIOD] == "2018"]
    assert barnet[0][fc.COMPARED_TO_ENGLAND] in ("Better", "Similar", "Worse")


def _counts_rows(with_region: bool, codes: list[str]) -> list[dict[str, str]]:
    rows = [
        row(
            code="E92000001",
            area="England",
            type="England",
            value="14.4",
            lo="14.3",
            hi="14.5",
            count="14400",
            denominator="100000",
        )
    ]
    for index, code in enumerate(codes):
        count, denominator = 100 + 7 * index, 1000 + 13 * index
        value = 100 * count / denominator
        low, high = wilson_limits([count], [denominator], 0.95)
        rows.append(
            row(
                code=code,
                area=code,
                type="UA",
                value=repr(value),
                lo=repr(float(100 * low[0])),
                hi=repr(float(100 * high[0])),
                count=str(count),
                denominator=str(denominator),
            )
        )
    if with_region:
        total_c = sum(100 + 7 * i for i in range(len(codes)))
        total_n = sum(1000 + 13 * i for i in range(len(codes)))
        rows.append(
            row(
                code=LONDON,
                area="London region",
                type="Region",
                value=repr(100 * total_c / total_n + (0.5 if with_region == 2 else 0.0)),
                count=str(total_c),
                denominator=str(total_n),
            )
        )
    return rows


def test_london_computed_from_borough_counts(engine: Engine, tmp_path: Path) -> None:
    london_pack(engine)
    codes = boroughs(engine)
    path = write(tmp_path / "counts.csv", _counts_rows(False, codes))
    result = import_fingertips_csv(engine, [path])
    assert result.aggregates_computed == 6  # London and its five sub-regions
    total_c = sum(100 + 7 * i for i in range(len(codes)))
    total_n = sum(1000 + 13 * i for i in range(len(codes)))
    low, high = wilson_limits([total_c], [total_n], 0.95)
    with transaction(engine) as session:
        london = session.scalars(
            select(m.Observation).where(m.Observation.area_code == LONDON)
        ).one()
        assert london.value == pytest.approx(100 * total_c / total_n, rel=1e-12)
        assert london.lower_ci95 == pytest.approx(100 * low[0], rel=1e-12)
        assert london.upper_ci95 == pytest.approx(100 * high[0], rel=1e-12)
        assert (london.count, london.denominator) == (total_c, total_n)
        assert london.value_note is not None
        assert london.value_note.startswith(f"{COMPUTED_NOTE} (33 of 33 boroughs)")
        (summary,) = indicator_summaries(session, indicator_ids=["92443"])
        assert summary.city is not None and summary.city.computed
        assert summary.comparison is not None and not summary.comparison.as_published
        table = export_table(session, "92443")
        london_rows = [r for r in table.rows if r[fc.COLUMNS.index(fc.AREA_CODE)] == LONDON]
        assert london_rows[0][fc.COLUMNS.index(fc.VALUE_NOTE)].startswith(COMPUTED_NOTE)
    again = import_fingertips_csv(engine, [path])
    assert not again.changed and again.aggregates_computed == 6


def test_published_region_row_is_kept_and_checked(engine: Engine, tmp_path: Path) -> None:
    london_pack(engine)
    codes = boroughs(engine)
    path = write(tmp_path / "with_region.csv", _counts_rows(True, codes))
    result = import_fingertips_csv(engine, [path])
    assert result.aggregate_differences == []
    assert any("agrees with the published row" in c for c in result.aggregates)
    with transaction(engine) as session:
        london = session.scalars(
            select(m.Observation).where(m.Observation.area_code == LONDON)
        ).one()
        assert london.value_note is None  # the publisher's row, untouched
    off = write(tmp_path / "off.csv", _counts_rows(2, codes))  # type: ignore[arg-type]
    result = import_fingertips_csv(engine, [off])
    assert len(result.aggregate_differences) == 1
    assert "difference -0.5" in result.aggregate_differences[0]


def test_partial_set_is_not_summed(engine: Engine, tmp_path: Path) -> None:
    london_pack(engine)
    codes = boroughs(engine)
    rows = _counts_rows(False, codes)
    rows[5][fc.COUNT] = ""  # one borough has a value but no count
    import_fingertips_csv(engine, [write(tmp_path / "partial.csv", rows)])
    with transaction(engine) as session:
        found = session.scalars(
            select(m.Observation).where(m.Observation.area_code == LONDON)
        ).all()
        assert found == []
        (summary,) = indicator_summaries(session, indicator_ids=["92443"])
        judged = [t for t in summary.targets if t.status != "not set"]
        assert judged and all("partial set" in t.method for t in judged), summary.targets


def test_disagreements_are_listed_and_exported(engine: Engine, tmp_path: Path) -> None:
    rows = [
        row(code="E92000001", area="England", type="England", value="14.4", lo="14.3", hi="14.5"),
        row(
            code="E09000002",
            area="Barking",
            type="UA",
            value="15",
            lo="13",
            hi="17",
            england="Worse",
        ),  # the interval holds England: ours is "similar"
        row(
            code="E09000003",
            area="Barnet",
            type="UA",
            value="10",
            lo="9",
            hi="11",
            england="Better",
        ),
    ]
    import_fingertips_csv(engine, [write(tmp_path / "d.csv", rows)])
    with transaction(engine) as session:
        (found,) = published_disagreements(session, "92443")
        assert (found.area_code, found.ours, found.published) == ("E09000002", "similar", "Worse")
        table = export_table(session, "92443", published=True)
    assert tuple(table.columns[-2:]) == PUBLISHED_COLUMNS
    by_code = {r[fc.COLUMNS.index(fc.AREA_CODE)]: r for r in table.rows}
    assert by_code["E09000002"][-2:] == ["Worse", "Similar"]
    assert by_code["E09000003"][-2:] == ["Better", ""]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 5000), min_size=1, max_size=12).flatmap(
        lambda counts: st.tuples(
            st.just(counts),
            st.lists(st.integers(1, 5000), min_size=len(counts), max_size=len(counts)),
        )
    )
)
def test_aggregate_of_parts_is_the_method_on_summed_counts(
    parts: tuple[list[int], list[int]],
) -> None:
    counts, extra = parts
    denominators = [c + e for c, e in zip(counts, extra, strict=True)]
    total = summed(counts, denominators, value_type=m.PROPORTION, multiplier=100)
    x, n = sum(counts), sum(denominators)
    z = 1.959963984540054
    p = x / n
    centre = (2 * x + z * z) / (2 * (n + z * z))
    half = z * (z * z + 4 * x * (1 - p)) ** 0.5 / (2 * (n + z * z))
    assert total.value == pytest.approx(100 * p, rel=1e-12, abs=1e-12)
    assert total.lower[0.95] == pytest.approx(100 * (centre - half), rel=1e-9, abs=1e-9)
    assert total.upper[0.95] == pytest.approx(100 * (centre + half), rel=1e-9, abs=1e-9)
    rate = summed(counts, denominators, value_type=m.CRUDE_RATE, multiplier=1000)
    assert rate.value == pytest.approx(1000 * x / n, rel=1e-12, abs=1e-12)


JUDGEMENTS = ["Better", "Similar", "Worse", "Better 95%", "Worse 99.8%", "Higher", "Lower"]


@settings(max_examples=8, deadline=None)
@given(st.lists(st.sampled_from(JUDGEMENTS), min_size=1, max_size=6))
def test_published_judgements_round_trip(said: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'rt.db'}"
        engine = make_engine(url)
        upgrade(engine)
        rows = [row(code="E92000001", area="England", type="England", value="14.4")]
        rows += [
            row(code=f"E09{i + 1:06d}", area=f"B{i}", type="UA", value=str(10 + i), england=s)
            for i, s in enumerate(said)
        ]
        import_fingertips_csv(engine, [write(Path(folder) / "in.csv", rows)])
        with transaction(engine) as session:
            text = export_csv(session, "92443")
        out = Path(folder) / "out.csv"
        out.write_text(text, encoding="utf-8")
        exported = {
            r[fc.AREA_CODE]: r[fc.COMPARED_TO_ENGLAND] for r in csv.DictReader(text.splitlines())
        }
        assert [exported[f"E09{i + 1:06d}"] for i in range(len(said))] == said
        again = import_fingertips_csv(engine, [out])
        assert not again.changed
        with transaction(engine) as session:
            stored = dict(
                session.execute(
                    select(m.Observation.area_code, m.Observation.compared_to_england)
                ).all()
            )
        assert [stored[f"E09{i + 1:06d}"] for i in range(len(said))] == said
        engine.dispose()
