"""Import a 1,000,000-row Fingertips CSV into SQLite and PostgreSQL (issue 3).

Targets on the 2-core reference machine: under 30 s into SQLite, under 60 s into
PostgreSQL, peak memory reported. The file is generated here (deterministic, seeded):
50 indicators × 2,000 areas × 10 periods, with quoted names, value notes and a parent
per area, so the importer does all its work (areas and indicators created, every row
validated, upserted on the natural key).

Each engine runs in its own interpreter so each peak memory figure (the process's
maximum resident set, ``ru_maxrss``, over both imports) is its own, and is printed as a
ratio to ``PREVIOUS_PEAK_MB``, the figure before the import streamed. A second import
of the same file (nothing changes) is timed too.

    python benchmarks/bench_import.py [--rows N] [--engines sqlite,postgres]

PostgreSQL comes from HEALTHYCITY_TEST_POSTGRES_URL (default: the local trust-auth
server); a fresh schema is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

# Peak memory of the import before it streamed (whole file held as frames), measured
# with this script at 1,000,000 rows on the reference machine, 2026-11-25; the new
# figures are printed as a ratio to these.
PREVIOUS_PEAK_MB = {"sqlite": 1257.0, "postgres": 1260.0}

POSTGRES_URL = os.environ.get(
    "HEALTHYCITY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def generate(path: Path, rows: int) -> None:
    """Write a Fingertips-format CSV of about ``rows`` rows."""
    import numpy as np
    import polars as pl

    from healthycity.outcomes import fingertips_columns as fc

    rng = np.random.default_rng(20150730)
    periods = 10
    indicators = 50
    areas = max(rows // (indicators * periods), 2)
    area_codes = ["E92000001"] + [f"X{n:08d}" for n in range(1, areas)]
    area_names = ["England"] + [f'Area {n}, "practice" {n % 97}' for n in range(1, areas)]
    parents = [""] + ["E92000001"] * (areas - 1)
    n = indicators * areas * periods
    ind = np.repeat(np.arange(indicators), areas * periods)
    area = np.tile(np.repeat(np.arange(areas), periods), indicators)
    period = np.tile(np.arange(periods), indicators * areas)
    denominator = rng.integers(500, 50_000, n).astype(float)
    rate = rng.uniform(0.02, 0.4, n)
    count = np.floor(denominator * rate)
    p = count / denominator
    z = 1.959963984540054
    centre = (p + z * z / (2 * denominator)) / (1 + z * z / denominator)
    half = (
        z
        * np.sqrt(p * (1 - p) / denominator + z * z / (4 * denominator**2))
        / (1 + z * z / denominator)
    )
    note = np.where(rng.random(n) < 0.01, "Value for Hackney and City of London combined", "")
    year = 2010 + period
    names = np.array([f"Benchmark indicator {i}, per cent (%)" for i in range(indicators)])
    frame = pl.DataFrame(
        {
            fc.INDICATOR_ID: (90000 + ind).astype(str),
            fc.INDICATOR_NAME: names[ind],
            fc.PARENT_CODE: np.array(parents)[area],
            fc.PARENT_NAME: np.where(np.array(parents)[area] == "", "", "England"),
            fc.AREA_CODE: np.array(area_codes)[area],
            fc.AREA_NAME: np.array(area_names)[area],
            fc.AREA_TYPE: np.where(area == 0, "England", "GP practice"),
            fc.SEX: "Persons",
            fc.AGE: "All ages",
            fc.CATEGORY_TYPE: "",
            fc.CATEGORY: "",
            fc.TIME_PERIOD: [f"{y}/{(y + 1) % 100:02d}" for y in year],
            fc.VALUE: 100 * p,
            fc.LOWER_95: 100 * (centre - half),
            fc.UPPER_95: 100 * (centre + half),
            fc.LOWER_998: None,
            fc.UPPER_998: None,
            fc.COUNT: count,
            fc.DENOMINATOR: denominator,
            fc.VALUE_NOTE: note,
            fc.RECENT_TREND: "",
            fc.COMPARED_TO_ENGLAND: "Not compared",
            fc.COMPARED_TO_REGION: "",
            fc.TIME_PERIOD_SORTABLE: year * 10000,
            fc.NEW_DATA: "",
            fc.COMPARED_TO_GOAL: "",
        }
    )
    frame.write_csv(path)


def peak_resident_mb() -> float:
    """This process's peak resident memory since it started, in MB.

    Linux's ``VmHWM`` rather than ``getrusage``: ``ru_maxrss`` survives ``fork`` and
    ``exec``, so a child started by the generating parent reports the parent's peak (the
    1.2 GB of making the file) whatever the import itself used.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(engine_name: str, file: Path) -> dict[str, float]:
    """Import ``file`` twice into a fresh database; return timings and peak memory."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from healthycity.core.db import make_engine
    from healthycity.core.migrate import upgrade
    from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv

    cleanup: Callable[[], None] | None = None
    if engine_name == "sqlite":
        scratch = tempfile.mkdtemp(prefix="hc-bench-")
        url = f"sqlite:///{scratch}/bench.db"
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )

        def drop_schema() -> None:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

        cleanup = drop_schema

    engine = make_engine(url)
    try:
        upgrade(engine)
        started = time.perf_counter()
        first = import_fingertips_csv(engine, [file])
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = import_fingertips_csv(engine, [file])
        second_s = time.perf_counter() - started
    finally:
        engine.dispose()
        if cleanup is not None:
            cleanup()
    peak_mb = peak_resident_mb()
    return {
        "rows": first.rows,
        "inserted": first.inserted,
        "first_s": first_s,
        "second_s": second_s,
        "second_changed": second.inserted + second.updated,
        "peak_mb": peak_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, Path(args.file))))
        return

    limits = {"sqlite": 30.0, "postgres": 60.0}
    with tempfile.TemporaryDirectory(prefix="hc-bench-") as scratch:
        file = Path(scratch) / "fingertips.csv"
        started = time.perf_counter()
        generate(file, args.rows)
        size_mb = file.stat().st_size / 1e6
        print(
            f"generated {file.name}: {size_mb:.0f} MB in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        for name in args.engines.split(","):
            out = subprocess.run(
                [sys.executable, __file__, "--child", name, "--file", str(file)],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode != 0:
                print(f"{name}: FAILED\n{out.stderr[-2000:]}")
                continue
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            verdict = "ok" if figures["first_s"] < limits[name] else "OVER TARGET"
            print(
                f"{name:<9} {figures['rows']:>9,} rows  first import {figures['first_s']:6.1f} s "
                f"({figures['rows'] / figures['first_s']:,.0f} rows/s; target < "
                f"{limits[name]:.0f} s: {verdict})  re-import {figures['second_s']:6.1f} s "
                f"({figures['second_changed']} changed)  peak memory {figures['peak_mb']:,.0f} MB "
                f"({figures['peak_mb'] / PREVIOUS_PEAK_MB[name]:.2f}× the "
                f"{PREVIOUS_PEAK_MB[name]:,.0f} MB before streaming)",
                flush=True,
            )


if __name__ == "__main__":
    main()
