"""Life expectancy (Chiang II, Silcocks) against the transcribed upstream test values."""

from __future__ import annotations

import numpy as np
import pytest

from healthycity.outcomes.stats import StatsInputError, life_expectancy
from healthycity.outcomes.stats.life_expectancy import NOTE_DEATHS, NOTE_SMALL, NOTE_WIDE
from tests.outcomes.stats._reference import assert_close, column, read


def test_single_area() -> None:
    data = read("life_expectancy_single_area.csv")
    est = life_expectancy(column(data, "deaths"), column(data, "pops"), column(data, "startage"))
    # Values are printed to 10 significant figures upstream.
    assert_close(est.value, column(data, "value"), rtol=1e-9)
    # These limits came from PHE's calculator with z = 1.96 and are asserted upstream to
    # 4 decimal places; we use z = 1.959964 and agree to that precision.
    assert_close(est.lower[0.95], column(data, "lowercl"), rtol=0, atol=1e-4)
    assert_close(est.upper[0.95], column(data, "uppercl"), rtol=0, atol=1e-4)
    assert_close(est.extra["pops_used"], column(data, "pops_used"))
    assert_close(est.extra["dths_used"], column(data, "dths_used"))
    assert est.statistic == "life expectancy"


def test_wide_intervals_and_suppression() -> None:
    data = read("life_expectancy_wide_ci.csv")
    est = life_expectancy(
        column(data, "deaths"),
        column(data, "pops"),
        column(data, "startage"),
        groups=data.get_column("area").to_numpy(),
        confidence=(0.95, 0.998),
    )
    assert_close(est.value, column(data, "value"), rtol=1e-8)
    # Transcribed from the upstream test script to 7-8 decimals, made with a z rounded
    # to 7 figures: agreement to ~1e-7 relative; upstream itself asserts 4 decimals.
    assert_close(est.lower[0.95], column(data, "lower95_0cl"), rtol=2e-7, atol=1e-6)
    assert_close(est.upper[0.95], column(data, "upper95_0cl"), rtol=2e-7, atol=1e-6)
    assert est.notes is not None
    assert set(est.notes[:20].tolist()) == {NOTE_DEATHS}
    assert est.notes[29] == NOTE_WIDE and est.notes[28] is None
    assert np.all(est.lower[0.998][20:] < est.lower[0.95][20:])


def test_rows_in_any_order_come_back_in_place() -> None:
    data = read("life_expectancy_single_area.csv")
    order = np.random.default_rng(3).permutation(data.height)
    est = life_expectancy(
        column(data, "deaths")[order], column(data, "pops")[order], column(data, "startage")[order]
    )
    assert_close(est.value, column(data, "value")[order], rtol=1e-9)


def test_small_population_suppresses_everything() -> None:
    data = read("life_expectancy_single_area.csv")
    est = life_expectancy(
        column(data, "deaths") / 200, column(data, "pops") / 200, column(data, "startage")
    )
    assert np.isnan(est.value).all() and np.isnan(est.lower[0.95]).all()
    assert est.notes is not None and set(est.notes.tolist()) == {NOTE_SMALL}


@pytest.mark.parametrize(
    ("change", "column_name"),
    [
        ("negative deaths", "deaths"),
        ("missing population", "population"),
        ("missing band", "start_age"),
    ],
)
def test_errors(change: str, column_name: str) -> None:
    data = read("life_expectancy_single_area.csv")
    deaths, pops, ages = column(data, "deaths"), column(data, "pops"), column(data, "startage")
    groups = np.repeat(["a", "b"], len(ages))
    deaths, pops, ages = np.tile(deaths, 2), np.tile(pops, 2), np.tile(ages, 2)
    if change == "negative deaths":
        deaths[25] = -1
    elif change == "missing population":
        pops[25] = np.nan
    else:
        keep = np.arange(len(ages)) != 25
        deaths, pops, ages, groups = deaths[keep], pops[keep], ages[keep], groups[keep]
    with pytest.raises(StatsInputError) as info:
        life_expectancy(deaths, pops, ages, groups=groups)
    assert info.value.column == column_name
    if change != "missing band":
        assert info.value.row == 25
