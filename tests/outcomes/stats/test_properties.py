"""Properties every interval must have, checked on generated data (hypothesis).

lower <= value <= upper; the 99.8% interval contains the 95% interval; limits move the
right way as counts grow; and one vectorised call equals the same rows one by one.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from healthycity.outcomes.stats import (
    crude_rate,
    dsr,
    isr_ratio,
    life_expectancy,
    mean,
    proportion,
)

LEVELS = (0.95, 0.998)
counts = st.integers(min_value=0, max_value=10**6)
fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
denominators = st.integers(min_value=1, max_value=10**7)
SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def count_pairs(draw: st.DrawFn, max_rows: int = 30) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=1, max_value=max_rows))
    den = np.array(draw(st.lists(denominators, min_size=n, max_size=n)), dtype=float)
    share = np.array(draw(st.lists(fractions, min_size=n, max_size=n)), dtype=float)
    return np.floor(den * share), den


def _nested_and_ordered(est: object, value: np.ndarray, non_negative: bool = True) -> None:
    from healthycity.outcomes.stats import Estimate

    assert isinstance(est, Estimate)
    slack = 1e-9 * np.maximum(np.abs(value), 1e-300)
    lo95, hi95 = est.lower[0.95], est.upper[0.95]
    lo998, hi998 = est.lower[0.998], est.upper[0.998]
    assert np.all(lo95 <= value + slack) and np.all(value <= hi95 + slack)
    assert np.all(lo998 <= lo95 + slack) and np.all(hi95 <= hi998 + slack)
    if non_negative:
        assert np.all(lo998 >= -slack)


@SETTINGS
@given(count_pairs(), st.sampled_from([1.0, 100.0]))
def test_proportion_intervals(pairs: tuple[np.ndarray, np.ndarray], multiplier: float) -> None:
    x, n = pairs
    est = proportion(x, n, confidence=LEVELS, multiplier=multiplier)
    _nested_and_ordered(est, est.value)
    assert np.all(est.upper[0.998] <= multiplier * (1 + 1e-12))
    one_by_one = [
        proportion([a], [b], confidence=LEVELS, multiplier=multiplier)
        for a, b in zip(x, n, strict=True)
    ]
    for level in LEVELS:
        np.testing.assert_array_equal(est.lower[level], [e.lower[level][0] for e in one_by_one])
        np.testing.assert_array_equal(est.upper[level], [e.upper[level][0] for e in one_by_one])


@SETTINGS
@given(count_pairs(), st.sampled_from(["auto", "exact", "byar"]))
def test_rate_intervals(pairs: tuple[np.ndarray, np.ndarray], ci: str) -> None:
    x, n = pairs
    est = crude_rate(x, n, confidence=LEVELS, ci=ci)
    _nested_and_ordered(est, est.value)
    one_by_one = [crude_rate([a], [b], confidence=LEVELS, ci=ci) for a, b in zip(x, n, strict=True)]
    for level in LEVELS:
        np.testing.assert_allclose(
            est.lower[level], [e.lower[level][0] for e in one_by_one], rtol=1e-12
        )
        np.testing.assert_allclose(
            est.upper[level], [e.upper[level][0] for e in one_by_one], rtol=1e-12
        )


@SETTINGS
@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=5001, max_value=10**6))
def test_limits_rise_with_the_count(count: int, denominator: int) -> None:
    """One more event never lowers a limit (proportions and rates, at both levels)."""
    for function in (proportion, crude_rate):
        est = function([count, count + 1], [denominator, denominator], confidence=LEVELS)
        for level in LEVELS:
            assert est.lower[level][1] >= est.lower[level][0]
            assert est.upper[level][1] >= est.upper[level][0]


@SETTINGS
@given(st.integers(min_value=1, max_value=1000), st.integers(min_value=1, max_value=50))
def test_proportion_interval_narrows_with_size(base: int, scale: int) -> None:
    est = proportion(
        [base, base * (scale + 1)], [2 * base, 2 * base * (scale + 1)], confidence=0.95
    )
    width = est.upper[0.95] - est.lower[0.95]
    assert width[1] <= width[0] + 1e-15


@SETTINGS
@given(
    st.lists(st.integers(min_value=0, max_value=400), min_size=19, max_size=19),
    st.lists(st.integers(min_value=50, max_value=10**5), min_size=19, max_size=19),
)
def test_dsr_and_isr_intervals(band_counts: list[int], band_pops: list[int]) -> None:
    o = np.array(band_counts, dtype=float)
    n = np.array(band_pops, dtype=float)
    est = dsr(o, n, confidence=LEVELS)
    if o.sum() >= 10:
        _nested_and_ordered(est, est.value)
        both = dsr(
            np.tile(o, 2), np.tile(n, 2), groups=np.repeat(["a", "b"], 19), confidence=LEVELS
        )
        np.testing.assert_allclose(both.value, [est.value[0]] * 2, rtol=1e-12)
    else:
        assert np.isnan(est.value).all()
    ratio = isr_ratio(o, n, np.full(19, 30.0), np.full(19, 1000.0), confidence=LEVELS)
    _nested_and_ordered(ratio, ratio.value)


@SETTINGS
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=2, max_size=40))
def test_mean_intervals(values: list[float]) -> None:
    est = mean(values, confidence=LEVELS)
    if np.std(values) > 0:
        _nested_and_ordered(est, est.value, non_negative=False)
    np.testing.assert_allclose(est.value[0], np.mean(values), rtol=1e-9, atol=1e-9)


@SETTINGS
@given(st.floats(min_value=0.5, max_value=3.0), st.integers(min_value=0, max_value=2**32 - 1))
def test_life_expectancy_falls_as_death_rates_rise(factor: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ages = np.array([0, 1, *range(5, 95, 5)], dtype=float)
    pops = rng.integers(20_000, 60_000, size=len(ages)).astype(float)
    rates = np.exp(-10 + 0.085 * ages)
    deaths = np.maximum(np.round(pops * rates), 1)
    base = life_expectancy(deaths, pops, ages, confidence=LEVELS)
    _nested_and_ordered(base, np.where(np.isnan(base.value), base.lower[0.95], base.value))
    if factor > 1:
        worse = life_expectancy(np.minimum(np.round(deaths * factor), pops), pops, ages)
        assert worse.value[0] <= base.value[0] + 1e-9
