"""Throughput of the outcomes statistics engine, against numpy and PHStatsMethods.

Run:  .venv/bin/python benchmarks/bench_stats.py  [--quick]

Prints, in one run:
* our Wilson proportions and crude rates over 1,000,000 rows (95% limits);
* a plain numpy Wilson pass over the same rows: the floor (target: ours within 2x);
* PHStatsMethods 0.1.16 (GPL, installed only as a baseline; never imported by the
  package) on a 20,000-row sample, in rows/s, and our speed-up (target >= 1000x);
* DSRs over 50,000 areas x 19 age bands, ours against PHStatsMethods (target >= 200x);
* a check that our results equal PHStatsMethods' to 1e-9 on the sample.

Timings are the best of several runs (after a warm-up), measured with perf_counter.
``--quick`` uses 10,000 DSR areas for the PHStatsMethods comparison.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from healthycity.outcomes.stats import crude_rate, dsr, proportion
from healthycity.outcomes.stats._levels import z_value
from healthycity.outcomes.stats.esp2013 import ESP2013_WEIGHTS

ROWS = 1_000_000
SAMPLE = 20_000
AREAS = 50_000
BANDS = len(ESP2013_WEIGHTS)
RTOL = 1e-9


def best_of(function: Callable[[], Any], repeats: int = 7) -> float:
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def numpy_wilson(x: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, ...]:
    """The floor: the textbook formula in plain numpy, no checks."""
    z2 = z * z
    centre = 2 * x + z2
    spread = z * np.sqrt(z2 + 4 * x * (1 - x / n))
    scale = 2 * (n + z2)
    return x / n, (centre - spread) / scale, (centre + spread) / scale


def data(seed: int = 2019) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    denominator = rng.integers(50, 200_000, ROWS).astype(np.float64)
    share = rng.uniform(0.001, 0.6, ROWS)
    events = rng.poisson(rng.uniform(0.0, 300.0, ROWS)).astype(np.float64)
    band_pop = rng.integers(200, 20_000, AREAS * BANDS).astype(np.float64)
    band_rate = np.tile(np.geomspace(0.0005, 0.15, BANDS), AREAS)
    return {
        "count": rng.binomial(denominator.astype(np.int64), share).astype(np.float64),
        "denominator": denominator,
        "events": events,
        "band_count": rng.poisson(band_pop * band_rate).astype(np.float64),
        "band_pop": band_pop,
        "area": np.repeat(np.arange(AREAS), BANDS),
    }


def rate_line(name: str, seconds: float, rows: int, unit: str = "rows") -> float:
    per_second = rows / seconds
    print(f"{name:<46} {seconds * 1000:9.2f} ms  {per_second:>16,.0f} {unit}/s")
    return per_second


def ours(d: dict[str, np.ndarray]) -> dict[str, float]:
    z = z_value(0.95)
    print(f"\n-- {ROWS:,} rows, 95% limits " + "-" * 40)
    floor = best_of(lambda: numpy_wilson(d["count"], d["denominator"], z))
    wilson = best_of(lambda: proportion(d["count"], d["denominator"], confidence=0.95))
    rates = best_of(lambda: crude_rate(d["events"], d["denominator"], confidence=0.95))
    both = best_of(lambda: proportion(d["count"], d["denominator"], confidence=(0.95, 0.998)))
    result = {
        "floor": rate_line("plain numpy Wilson (floor)", floor, ROWS),
        "wilson": rate_line("healthycity proportion (Wilson, validated)", wilson, ROWS),
        "rate": rate_line("healthycity crude_rate (exact <10, Byar's)", rates, ROWS),
    }
    rate_line("healthycity proportion, 95% and 99.8%", both, ROWS)
    small = float(np.mean(d["events"] < 10))
    print(f"ours / floor (Wilson): {wilson / floor:.2f}x the floor's time (target <= 2x)")
    print(f"(rates: {small:.1%} of rows below 10 events, given exact limits)")
    print(f"\n-- DSR: {AREAS:,} areas x {BANDS} bands " + "-" * 33)
    weights = np.tile(np.asarray(ESP2013_WEIGHTS, dtype=np.float64), AREAS)
    seconds = best_of(
        lambda: dsr(d["band_count"], d["band_pop"], standard_population=weights, groups=d["area"]),
        repeats=5,
    )
    result["dsr"] = rate_line("healthycity dsr (Dobson)", seconds, AREAS, "areas")
    return result


def phstatsmethods(d: dict[str, np.ndarray], mine: dict[str, float], areas: int) -> None:
    try:
        import pandas as pd  # type: ignore[import-untyped]
        from PHStatsMethods import ph_dsr, ph_proportion, ph_rate  # type: ignore[import-untyped]
    except ImportError:
        print(
            "\nPHStatsMethods is not installed: comparison skipped "
            "(pip install PHStatsMethods==0.1.16 into .venv to run it)"
        )
        return
    print(f"\n-- PHStatsMethods 0.1.16 on a {SAMPLE:,}-row sample " + "-" * 22)
    index = np.arange(SAMPLE)
    frame = pd.DataFrame({"num": d["count"][index], "den": d["denominator"][index]})
    events = np.maximum(d["events"][index], 1.0)  # PHStatsMethods rejects 0 events
    rate_frame = pd.DataFrame({"num": events, "den": d["denominator"][index]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        theirs_p = ph_proportion(frame, "num", "den", confidence=0.95)
        p_rate = rate_line("PHStatsMethods ph_proportion", time.perf_counter() - started, SAMPLE)
        started = time.perf_counter()
        theirs_r = ph_rate(rate_frame, "num", "den", confidence=0.95)
        r_rate = rate_line("PHStatsMethods ph_rate", time.perf_counter() - started, SAMPLE)
    print(f"speed-up, proportions: {mine['wilson'] / p_rate:,.0f}x (target >= 1000x)")
    print(f"speed-up, crude rates: {mine['rate'] / r_rate:,.0f}x (target >= 1000x)")

    print(f"\n-- PHStatsMethods ph_dsr on {areas:,} areas x {BANDS} bands " + "-" * 18)
    rows = areas * BANDS
    weights = np.tile(np.asarray(ESP2013_WEIGHTS, dtype=np.float64), areas)
    dsr_frame = pd.DataFrame(
        {
            "area": d["area"][:rows],
            "num": d["band_count"][:rows],
            "den": d["band_pop"][:rows],
            "std": weights,
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        theirs_d = ph_dsr(
            dsr_frame, "num", "den", "std", group_cols="area", euro_standard_pops=False
        )
        d_rate = rate_line("PHStatsMethods ph_dsr", time.perf_counter() - started, areas, "areas")
    print(f"speed-up, DSRs: {mine['dsr'] / d_rate:,.0f}x (target >= 200x)")

    print("\n-- equality on the sample (relative tolerance 1e-9) " + "-" * 19)
    checks = []
    est = proportion(frame["num"].to_numpy(), frame["den"].to_numpy(), confidence=0.95)
    checks.append(("proportions", est.value, est.lower[0.95], est.upper[0.95], theirs_p))
    est = crude_rate(events, rate_frame["den"].to_numpy(), confidence=0.95)
    checks.append(("crude rates", est.value, est.lower[0.95], est.upper[0.95], theirs_r))
    est = dsr(
        dsr_frame["num"].to_numpy(),
        dsr_frame["den"].to_numpy(),
        standard_population=weights,
        groups=dsr_frame["area"].to_numpy(),
    )
    checks.append(("DSRs", est.value, est.lower[0.95], est.upper[0.95], theirs_d))
    ok = True
    for name, value, lower, upper, theirs in checks:
        worst = 0.0
        for mine_values, column in (
            (value, "Value"),
            (lower, "lower_95_ci"),
            (upper, "upper_95_ci"),
        ):
            other = theirs[column].to_numpy(dtype=np.float64)
            diff = np.abs(mine_values - other) / np.maximum(np.abs(other), 1e-300)
            worst = max(worst, float(np.nanmax(diff)))
            same_missing = np.array_equal(np.isnan(mine_values), np.isnan(other))
            ok &= same_missing
        ok &= worst <= RTOL
        print(
            f"{name:<14} max relative difference {worst:.2e}  {'ok' if worst <= RTOL else 'FAIL'}"
        )
    if not ok:
        raise SystemExit("results differ from PHStatsMethods beyond 1e-9")


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    print("healthycity statistics benchmark (numpy " + np.__version__ + ")")
    d = data()
    mine = ours(d)
    phstatsmethods(d, mine, 10_000 if quick else AREAS)


if __name__ == "__main__":
    main()
