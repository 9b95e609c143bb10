"""Issue 12: a directly standardised rate rolled up from the boroughs' age-specific counts
and populations, checked against the DSR formula written out here (ESP2013 weights;
PHE, "Technical Guidance: Directly standardised rates"), by hypothesis and through an
import on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.outcomes import models as m
from healthycity.outcomes.aggregate import ESP_BANDS, esp_band, summed_dsr
from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv
from healthycity.outcomes.queries import COMPUTED_NOTE
from healthycity.outcomes.stats.esp2013 import ESP2013_LABELS, ESP2013_WEIGHTS
from tests.outcomes.test_ingest_fingertips_csv import row, write
from tests.outcomes.test_published import boroughs, london_pack

LONDON = "E12000007"
NAME = "Under 75 mortality rate from causes considered preventable (directly standardised rate)"


def direct_dsr(counts: list[float], people: list[float]) -> float:
    """Σ w·(O/n) / Σ w, per 100,000: the DSR as PHE defines it."""
    weighted = sum(w * o / n for w, o, n in zip(ESP2013_WEIGHTS, counts, people, strict=True))
    return 100_000 * weighted / sum(ESP2013_WEIGHTS)


def test_age_labels_name_esp_bands_exactly() -> None:
    assert [esp_band(f"{label} yrs") for label in ESP2013_LABELS] == list(range(ESP_BANDS))
    for other in ("All ages", "18+ yrs", "0-15 yrs", "<75 yrs", "65+ yrs", "5-10 yrs"):
        assert esp_band(other) is None, other


band_counts = st.lists(st.integers(0, 400), min_size=ESP_BANDS, max_size=ESP_BANDS)
band_people = st.lists(st.integers(500, 60_000), min_size=ESP_BANDS, max_size=ESP_BANDS)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(band_counts, band_people), min_size=1, max_size=6))
def test_dsr_of_parts_is_the_method_on_summed_age_specific_counts(
    parts: list[tuple[list[int], list[int]]],
) -> None:
    given_parts = [
        {b: (float(c), float(n)) for b, (c, n) in enumerate(zip(cs, ns, strict=True))}
        for cs, ns in parts
    ]
    total = summed_dsr(given_parts)
    counts = [sum(p[0][b] for p in parts) for b in range(ESP_BANDS)]
    people = [sum(p[1][b] for p in parts) for b in range(ESP_BANDS)]
    assert total.count == sum(counts) and total.denominator == sum(people)
    if sum(counts) < 10:  # PHE does not publish a DSR from fewer than 10 events
        assert total.value != total.value
        return
    assert total.value == pytest.approx(direct_dsr(counts, people), rel=1e-9)
    assert total.lower[0.95] < total.value < total.upper[0.95]
    assert total.lower[0.998] < total.lower[0.95] and total.upper[0.95] < total.upper[0.998]


def test_summed_dsr_needs_every_band() -> None:
    parts = [{b: (10.0, 1000.0) for b in range(ESP_BANDS - 1)}]
    with pytest.raises(ValueError, match="all 19 ESP2013 bands"):
        summed_dsr(parts)


def _dsr_rows(codes: list[str], with_bands: bool = True) -> list[dict[str, str]]:
    rows = [
        row(
            id="99950",
            name=NAME,
            code="E92000001",
            area="England",
            type="England",
            age="<75 yrs",
            value="130.0",
        )
    ]
    for index, code in enumerate(codes):
        counts = [float(1 + (band * 3 + index) % 17) for band in range(ESP_BANDS)]
        people = [float(4000 + 150 * band + 90 * index) for band in range(ESP_BANDS)]
        rows.append(
            row(
                id="99950",
                name=NAME,
                code=code,
                area=code,
                type="UA",
                age="<75 yrs",
                value=repr(direct_dsr(counts, people)),
            )
        )
        if not with_bands:
            continue
        for band, label in enumerate(ESP2013_LABELS):
            rows.append(
                row(
                    id="99950",
                    name=NAME,
                    code=code,
                    area=code,
                    type="UA",
                    age=f"{label} yrs",
                    value=repr(100_000 * counts[band] / people[band]),
                    count=repr(counts[band]),
                    denominator=repr(people[band]),
                )
            )
    return rows


def test_london_dsr_from_the_boroughs_age_bands(engine: Engine, tmp_path: Path) -> None:
    london_pack(engine)
    codes = boroughs(engine)
    result = import_fingertips_csv(engine, [write(tmp_path / "dsr.csv", _dsr_rows(codes))])
    with transaction(engine) as session:
        indicator = session.get(m.Indicator, "99950")
        assert indicator is not None and indicator.value_type == m.DSR
        london = session.scalars(
            select(m.Observation).where(
                m.Observation.indicator_id == "99950", m.Observation.area_code == LONDON
            )
        ).all()
    assert result.aggregates_computed == 6, result.aggregates  # London and 5 sub-regions
    assert [o.age for o in london] == ["<75 yrs"]  # the bands themselves are not rolled up
    (row_,) = london
    counts = [sum(1 + (b * 3 + i) % 17 for i in range(len(codes))) for b in range(ESP_BANDS)]
    people = [sum(4000 + 150 * b + 90 * i for i in range(len(codes))) for b in range(ESP_BANDS)]
    assert row_.value == pytest.approx(direct_dsr(counts, people), rel=1e-9)
    assert row_.lower_ci95 is not None and row_.lower_ci95 < row_.value
    assert row_.count == sum(counts) and row_.denominator == sum(people)
    assert row_.value_note is not None
    assert row_.value_note.startswith(f"{COMPUTED_NOTE} (33 of 33 boroughs): age-specific")


def test_dsr_without_age_bands_is_not_computed_and_says_why(engine: Engine, tmp_path: Path) -> None:
    london_pack(engine)
    codes = boroughs(engine)
    rows = _dsr_rows(codes, with_bands=False)
    result = import_fingertips_csv(engine, [write(tmp_path / "dsr.csv", rows)])
    assert result.aggregates_computed == 0
    assert any("dsr is not summed from boroughs" in c for c in result.aggregates)
