"""The public dashboard under load (issue 4), on SQLite and PostgreSQL.

Dataset ("the full London dataset"): the London pack, its illustrative data for every
catalogue indicator, and the ten real Fingertips extracts in
``../shared/data/fingertips/trafford_dashboard/`` (every English local authority), which
replace the demo data of the indicators they cover — about 40 indicators and 40,000
observations over 350 areas.

Figures (targets from issue 4):

1. Indicator page server time, in-process (no socket): every indicator page visited
   once to warm the caches, then the default view of every indicator requested again
   and again — p50 and p95 (target: p95 < 50 ms on both engines). Also reported: the
   first (cold) visit, which renders the chart SVG, and a visit with the page-data cache
   emptied but SVG warm (the database and Python work alone).
2. 50 concurrent clients on loopback for 30 s against a mix of pages, twins and API
   calls, the server (``healthycity serve``) in its own process: errors (target: zero),
   throughput and latency p50/p95.
3. Static export of the whole site (``site build``), SQLite: seconds (target < 60 s).

    python benchmarks/bench_pages.py [--engines sqlite,postgres] [--seconds 30]
        [--clients 50] [--skip-load] [--skip-export]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "fingertips" / "trafford_dashboard"
POSTGRES_URL = os.environ.get(
    "HEALTHYCITY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Fingertips indicator id of each shared extract (see ../shared/data/README.md).
EXTRACTS = {
    "excess_weight_reception.csv": "20601",
    "excess_weight_year6.csv": "20602",
    "school_readiness_fsm.csv": "90632",
    "smoking_adults.csv": "92443",
    "physically_inactive.csv": "93015",
    "deaths_at_home.csv": "92727",
    "mortality_serious_mental_illness.csv": "91096",
    "preventable_mortality_from_cancer.csv": "40502",
    "healthy_life_expectancy_at_birth.csv": "90362",
    "slope_index_of_inequality.csv": "92901",
}


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def build(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from healthycity.core.db import make_engine, session_factory
    from healthycity.core.migrate import upgrade
    from healthycity.core.pack_loading import load_pack
    from healthycity.outcomes.demo import load_demo
    from healthycity.outcomes.ingest.long_format import import_long_file
    from healthycity.outcomes.models import Observation
    from healthycity.packs.reader import PACKS_DIR, read_pack

    engine = make_engine(url)
    upgrade(engine)
    load_pack(engine, read_pack(PACKS_DIR / "london"))
    load_demo(engine)
    if SHARED.is_dir():
        for name, indicator in EXTRACTS.items():
            import_long_file(engine, SHARED / name, indicator)
    with session_factory(engine)() as session:
        rows = session.execute(select(func.count()).select_from(Observation)).scalar_one()
        areas = session.execute(
            select(func.count(func.distinct(Observation.area_code)))
        ).scalar_one()
    engine.dispose()
    return {"observations": int(rows), "areas": int(areas)}


@contextmanager
def database(engine_name: str, folder: Path) -> Iterator[str]:
    if engine_name == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def indicator_ids(url: str) -> list[str]:
    from sqlalchemy import select

    from healthycity.core.db import make_engine, session_factory
    from healthycity.outcomes.models import Indicator

    engine = make_engine(url)
    with session_factory(engine)() as session:
        ids = list(session.scalars(select(Indicator.id).order_by(Indicator.id)))
    engine.dispose()
    return ids


def page_times(url: str, rounds: int = 10) -> dict[str, float]:
    """Server time of indicator pages, in-process through ASGI (no network)."""
    import httpx

    from healthycity.core.settings import load_settings
    from healthycity.web.app import create_app

    app = create_app(load_settings(database_url=url))
    ids = indicator_ids(url)

    async def run() -> dict[str, float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def timed(path: str) -> float:
                started = time.perf_counter()
                response = await client.get(path)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, (path, response.status_code)
                return elapsed * 1000

            cold = [await timed(f"/indicators/{i}") for i in ids]
            warm = [await timed(f"/indicators/{i}") for _ in range(rounds) for i in ids]
            data_only = []
            for i in ids:
                app.state.outcomes_cache.clear()
                data_only.append(await timed(f"/indicators/{i}"))
        return {
            "indicators": len(ids),
            "cold_p50": quantile(cold, 0.5),
            "cold_p95": quantile(cold, 0.95),
            "warm_p50": quantile(warm, 0.5),
            "warm_p95": quantile(warm, 0.95),
            "warm_n": len(warm),
            "data_p50": quantile(data_only, 0.5),
            "data_p95": quantile(data_only, 0.95),
        }

    result = asyncio.run(run())
    app.state.engine.dispose()
    return result


def mix(ids: list[str]) -> list[str]:
    """The pages a crowd opens: mostly indicator and area pages, some twins and API."""
    boroughs = [f"E090000{n:02d}" for n in range(1, 34)]
    subs = [f"E5400002{n}" for n in range(7, 10)] + ["E54000030", "E54000031"]
    paths = ["/", "/inequalities", "/search?q=obesity", "/search?q=camden", "/api/v1/indicators"]
    paths += ["/aspirations/healthy-start", "/aspirations/fitter-london"]
    paths += ["/commitments/cut-child-obesity"]
    for i in ids:
        paths += [f"/indicators/{i}", f"/indicators/{i}", f"/indicators/{i}.csv"]
        paths.append(f"/api/v1/indicators/{i}/comparisons")
    for code in boroughs + subs:
        paths += [f"/areas/{code}", f"/areas/{code}.json"]
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_test(url: str, seconds: float, clients: int) -> dict[str, float]:
    """50 clients for ``seconds`` against a server in its own process, on loopback."""
    import httpx

    port = free_port()
    env = {
        **os.environ,
        "HEALTHYCITY_DATABASE_URL": url,
        "HEALTHYCITY_ENVIRONMENT": "development",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "healthycity", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if os.environ.get("BENCH_QUIET") else None,
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/health", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        paths = mix(indicator_ids(url))
        for path in paths:  # one warm-up pass: every page rendered once
            httpx.get(base + path, timeout=60)

        problems: list[str] = []

        async def crowd() -> tuple[list[float], int, int]:
            latencies: list[float] = []
            errors = 0
            # Idle connections are dropped by the client after 2 s, before uvicorn's 5 s
            # keep-alive timeout closes them: with equal timeouts (httpx's default is also
            # 5 s) a request can race the server's close and fail with a ReadError that
            # says nothing about the site (browsers retry such requests transparently).
            limits = httpx.Limits(
                max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0
            )
            async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
                stop = time.monotonic() + seconds
                rng = random.Random(2019)  # noqa: S311 - a reproducible page mix

                async def one_client() -> None:
                    nonlocal errors
                    while time.monotonic() < stop:
                        path = rng.choice(paths)
                        started = time.perf_counter()
                        try:
                            response = await client.get(path)
                            if response.status_code != 200:
                                errors += 1
                                problems.append(f"{path}: {response.status_code}")
                        except httpx.HTTPError as exc:
                            errors += 1
                            problems.append(f"{path}: {type(exc).__name__} {exc}")
                        latencies.append((time.perf_counter() - started) * 1000)

                await asyncio.gather(*(one_client() for _ in range(clients)))
            return latencies, errors, len(latencies)

        started = time.perf_counter()
        latencies, errors, count = asyncio.run(crowd())
        elapsed = time.perf_counter() - started
        for problem in problems[:5]:
            print(f"  error: {problem}")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    return {
        "requests": count,
        "errors": errors,
        "seconds": elapsed,
        "throughput": count / elapsed,
        "p50": quantile(latencies, 0.5),
        "p95": quantile(latencies, 0.95),
        "distinct_paths": len(paths),
    }


def export_time(url: str, folder: Path) -> dict[str, float]:
    from healthycity.core.settings import load_settings
    from healthycity.web.site_build import build_site

    outdir = folder / "site"
    result = build_site(load_settings(database_url=url), outdir)
    size = sum(p.stat().st_size for p in outdir.rglob("*") if p.is_file())
    shutil.rmtree(outdir)
    return {
        "seconds": result.seconds,
        "pages": result.pages,
        "files": result.files,
        "megabytes": size / 1e6,
    }


def postgres_available() -> bool:
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args()
    status = 0
    for engine_name in [e.strip() for e in args.engines.split(",") if e.strip()]:
        if engine_name == "postgres" and not postgres_available():
            print("postgres: not reachable at HEALTHYCITY_TEST_POSTGRES_URL; skipped")
            continue
        with tempfile.TemporaryDirectory() as scratch, database(engine_name, Path(scratch)) as url:
            started = time.perf_counter()
            size = build(url)
            print(
                f"\n[{engine_name}] dataset: {size['observations']:,} observations, "
                f"{size['areas']} areas (built in {time.perf_counter() - started:.1f} s)"
            )
            times = page_times(url)
            verdict = "ok" if times["warm_p95"] < 50 else "OVER TARGET"
            print(
                f"[{engine_name}] indicator page server time over {times['warm_n']} requests "
                f"({times['indicators']} indicators): p50 {times['warm_p50']:.1f} ms, "
                f"p95 {times['warm_p95']:.1f} ms (target p95 < 50 ms: {verdict})"
            )
            print(
                f"[{engine_name}]   first visit (charts rendered): p50 {times['cold_p50']:.1f} ms, "
                f"p95 {times['cold_p95']:.1f} ms; page data rebuilt, SVG cached: "
                f"p50 {times['data_p50']:.1f} ms, p95 {times['data_p95']:.1f} ms"
            )
            if times["warm_p95"] >= 50:
                status = 1
            if not args.skip_load:
                load = load_test(url, args.seconds, args.clients)
                verdict = "ok" if load["errors"] == 0 else "ERRORS"
                print(
                    f"[{engine_name}] {args.clients} clients for {load['seconds']:.0f} s over "
                    f"{load['distinct_paths']} paths: {load['requests']:,} requests, "
                    f"{load['errors']} errors ({verdict}), {load['throughput']:.0f} req/s, "
                    f"latency p50 {load['p50']:.0f} ms, p95 {load['p95']:.0f} ms"
                )
                if load["errors"]:
                    status = 1
            if engine_name == "sqlite" and not args.skip_export:
                export = export_time(url, Path(scratch))
                verdict = "ok" if export["seconds"] < 60 else "OVER TARGET"
                print(
                    f"[{engine_name}] static export: {export['pages']} pages, "
                    f"{export['files']} files, {export['megabytes']:.1f} MB in "
                    f"{export['seconds']:.1f} s (target < 60 s: {verdict})"
                )
                if export["seconds"] >= 60:
                    status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
