"""The public site at city scale (issue 11): the real server beside a bare ASGI app.

In one run, on the London demo data (plus one synthetic Fingertips indicator with
1,320 rows, so the API has a 1,000-row page):

1. ``healthycity serve`` starts in its own process group; the first requests after
   the port opens are timed (home, then each aspiration's page): p99 (target < 100 ms).
2. A bare Starlette app (uvicorn, the same worker count) returns the same bytes the
   server sent for each URL, and answers ``304`` to the same ``If-None-Match``.
3. The same load generator — ``wrk`` (Debian's), else an async httpx client in a
   process of its own — loads both with 50 connections for ``--seconds`` each: the
   cached indicator page, an area page, the home page, a 1,000-row API page (targets:
   ≥ 50% of the bare app's throughput, p99 < 50 ms, zero errors) and a 304
   revalidation of the indicator page (≥ 80% of the bare app's).
4. Cold cache: the data change (the synthetic indicator loaded again with new values,
   which moves the data version), then 20 indicator pages are requested one by one:
   p50 and p95 of a page build.
5. ``healthycity site build`` of the whole site four times: after the server warmed
   the cache, again from the cache that export filled, from an empty cache, and from
   an empty cache without the review PDFs (``--no-documents``);
   wall seconds, CPU seconds of the export's process tree, and the ratio to the 36 s
   measured before issue 11.

Every phase is guarded: one that fails becomes a "failed: …" row and the run goes on
to the table, which also gives the load average seen during the run (the machine is
shared: compare ratios against the bare app measured in the same run, not raw figures).

    python benchmarks/bench_site.py [--seconds 30] [--connections 50] [--workers N]
        [--database URL] [--skip-export] [--skip-load]

Nothing here is a test and nothing asserts a timing: it prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "healthycity"
BEFORE_EXPORT_SECONDS = 36.0
TARGETS = {
    "indicator page": "/indicators/90362",
    "area page": "/areas/E09000007",
    "home page": "/",
    "API, 1,000 rows": "/api/v1/indicators/99990/data?limit=1000",
}

BARE_APP = """
import json
import os
from pathlib import Path
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

PAGES = json.loads(Path(os.environ["BARE_PAGES"]).read_text())
BODIES = {p: (Path(v["file"]).read_bytes(), v["type"], v["etag"]) for p, v in PAGES.items()}

async def page(request):
    key = request.url.path + ("?" + request.url.query if request.url.query else "")
    body, kind, etag = BODIES[key]
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"etag": etag})
    return Response(body, media_type=kind, headers={"etag": etag})

app = Starlette(routes=[Route("/{path:path}", page)])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    return done.stdout


def synthetic_file(path: Path, shift: float = 0.0) -> Path:
    """A Fingertips CSV: England, London, 32 boroughs and the City, 40 years."""
    from healthycity.outcomes import fingertips_columns as fc

    areas = [("E92000001", "England", "England"), ("E12000007", "London", "Region")]
    areas += [(f"E090000{n:02d}", f"Borough {n}", "Local authority") for n in range(1, 34)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fc.COLUMNS), lineterminator="\n")
        writer.writeheader()
        for year in range(1980, 2020):
            for i, (code, name, kind) in enumerate(areas):
                value = 40 + (i % 7) + (year - 1980) * 0.1 + shift
                row = dict.fromkeys(fc.COLUMNS, "")
                row.update(
                    {
                        fc.INDICATOR_ID: "99990",
                        fc.INDICATOR_NAME: "Synthetic benchmark indicator",
                        fc.AREA_CODE: code,
                        fc.AREA_NAME: name,
                        fc.AREA_TYPE: kind,
                        fc.SEX: "Persons",
                        fc.AGE: "All ages",
                        fc.TIME_PERIOD: str(year),
                        fc.VALUE: f"{value:.3f}",
                        fc.LOWER_95: f"{value - 2:.3f}",
                        fc.UPPER_95: f"{value + 2:.3f}",
                        fc.TIME_PERIOD_SORTABLE: str(year * 10000),
                    }
                )
                writer.writerow(row)
    return path


def wait_for_port(port: int, timeout: float = 60) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return time.monotonic()
        time.sleep(0.005)
    raise RuntimeError(f"nothing listening on {port}")


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# --------------------------------------------------------------------------- load


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    args = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = run(*args, url)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1000.0}

    def latency(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        return float(found.group(1)) * scale[found.group(2)] if found else float("nan")

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: .*?(\d+)"):
        for hit in re.finditer(pattern, out):
            errors += sum(int(n) for n in re.findall(r"\d+", hit.group(0)))
    return {
        "rps": float(rate.group(1)) if rate else 0.0,
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": errors,
    }


async def _httpx_load(url: str, seconds: int, connections: int, headers: dict[str, str]) -> Any:
    import httpx

    limits = httpx.Limits(max_connections=connections)
    times: list[float] = []
    errors = 0
    end = time.monotonic() + seconds
    async with httpx.AsyncClient(limits=limits, headers=headers) as client:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < end:
                started = time.perf_counter()
                try:
                    answer = await client.get(url)
                    if answer.status_code >= 400:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                times.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(connections)))
    return {
        "rps": len(times) / seconds,
        "p50": percentile(times, 0.5),
        "p99": percentile(times, 0.99),
        "errors": errors,
    }


def load(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    if shutil.which("wrk"):
        return wrk(url, seconds, connections, headers)
    code = (
        "import asyncio, json, sys; sys.path.insert(0, sys.argv[1]);"
        "from bench_site import _httpx_load;"
        "print(json.dumps(asyncio.run(_httpx_load(sys.argv[2], int(sys.argv[3]), "
        "int(sys.argv[4]), json.loads(sys.argv[5])))))"
    )
    out = run(
        sys.executable,
        "-c",
        code,
        str(ROOT / "benchmarks"),
        url,
        str(seconds),
        str(connections),
        json.dumps(headers),
    )
    return dict(json.loads(out))


# --------------------------------------------------------------------------- phases


def first_requests(port: int, paths: list[str]) -> list[float]:
    import httpx

    times = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for path in paths:
            started = time.perf_counter()
            client.get(path).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return times


Row = tuple[str, str, str, str]


def phase(rows: list[Row], label: str, target: str) -> Any:
    """Run one phase; a failure becomes a row of the table, never a crash before it."""
    import contextlib

    @contextlib.contextmanager
    def guarded() -> Any:
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - reported in the table
            detail = getattr(exc, "stderr", None) or str(exc) or type(exc).__name__
            last = str(detail).strip().splitlines()[-1:] or ["failed"]
            rows.append((label, f"failed: {last[0][:160]}", "—", target))
            print(f"{label}: failed: {last[0]}", file=sys.stderr, flush=True)

    return guarded()


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its living descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                text = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2 :].split()
            parents[int(name)] = int(fields[1])
            cpu[int(name)] = (int(fields[11]) + int(fields[12])) / tick
    total, wanted = 0.0, {pid}
    for _ in range(6):  # the export, its fork server, the workers
        wanted |= {p for p, parent in parents.items() if parent in wanted}
    for p in wanted:
        total += cpu.get(p, 0.0)
    return total


def export(env: dict[str, str], target: Path, *extra: str) -> tuple[float, float, int]:
    """``site build`` in its own process: wall seconds, CPU seconds of its process tree
    (sampled while it runs, so a worker's last tenth of a second may be missed), pages."""
    process = subprocess.Popen(
        [str(BIN), "site", "build", str(target), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.perf_counter()
    seen: dict[str, float] = {"cpu": 0.0}
    while process.poll() is None:
        seen["cpu"] = max(seen["cpu"], tree_cpu(process.pid))
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    out, err = process.communicate()
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, "site build", out, err)
    return seconds, seen["cpu"], len(list(target.rglob("index.html")))


def main() -> None:  # noqa: PLR0915 - one run, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--database", default=None)
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--skip-load", action="store_true", help="only the export phases")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-site-"))
    url = options.database or f"sqlite:///{work / 'london.db'}"
    env = {**os.environ, "HEALTHYCITY_CACHE_DIR": str(work / "cache")}
    env["HEALTHYCITY_DATABASE_URL"] = url
    rows: list[Row] = []
    loads: list[float] = [os.getloadavg()[0]]
    print(f"data: London pack + demo data + 1,320 synthetic rows in {url}", flush=True)
    try:
        if options.database is None:
            run(str(BIN), "db", "upgrade", env=env)
            run(str(BIN), "pack", "load", "london", env=env)
            run(str(BIN), "demo", "load", env=env)
        run(str(BIN), "load", "fingertips", str(synthetic_file(work / "synthetic.csv")), env=env)
        if not options.skip_load:
            serve_phases(options, work, env, rows, loads)
        if not options.skip_export:
            export_phases(work, env, rows, loads)
    finally:
        loads.append(os.getloadavg()[0])
        print()
        print(
            f"workers: {options.workers}; connections: {options.connections}; "
            f"{options.seconds} s per run; load generator: "
            f"{'wrk' if shutil.which('wrk') else 'httpx (own process)'}; "
            f"load average (1 min) {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} CPUs"
        )
        print("| measure | healthycity | bare ASGI app | target |")
        print("|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        shutil.rmtree(work, ignore_errors=True)


def fetch_body(client: Any, path: str, tries: int = 3) -> Any:
    """The page's bytes as the server sends them; a dropped connection is tried again
    (a worker busy with a cold render on a loaded machine may drop one)."""
    import httpx

    for attempt in range(tries):
        try:
            answer = client.get(path, headers={"accept-encoding": "identity"})
            answer.raise_for_status()
            return answer
        except httpx.TransportError:
            if attempt == tries - 1:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def serve_phases(
    options: argparse.Namespace,
    work: Path,
    env: dict[str, str],
    rows: list[Row],
    loads: list[float],
) -> None:
    import httpx

    # 1. first requests after start-up (the cache is empty: a fresh folder)
    port = free_port()
    server = start([str(BIN), "serve", "--port", str(port), "--workers", str(options.workers)], env)
    try:
        wait_for_port(port)
        with phase(rows, "first requests after start-up", "p99 < 100 ms"):
            firsts = first_requests(port, ["/", "/aspirations/healthy-start", "/indicators/90362"])
            rows.append(
                (
                    "first requests after start-up (home, aspiration, indicator)",
                    f"max {max(firsts):.0f} ms ({', '.join(f'{t:.0f}' for t in firsts)})",
                    "—",
                    "p99 < 100 ms",
                )
            )
        time.sleep(2)
        bodies: dict[str, Any] = {}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for name, path in TARGETS.items():
                with phase(rows, name, "≥ 50%"):
                    answer = fetch_body(client, path)
                    file = work / f"body-{len(bodies)}"
                    file.write_bytes(answer.content)
                    bodies[path] = {
                        "file": str(file),
                        "type": answer.headers["content-type"],
                        "etag": answer.headers["etag"],
                        "name": name,
                    }
        (work / "pages.json").write_text(json.dumps(bodies))
        (work / "bare_app.py").write_text(BARE_APP)
        bare_port = free_port()
        bare = start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_app:app",
                "--port",
                str(bare_port),
                "--workers",
                str(options.workers),
                "--log-level",
                "warning",
                "--no-access-log",
                "--app-dir",
                str(work),
            ],
            {**env, "BARE_PAGES": str(work / "pages.json")},
        )
        try:
            wait_for_port(bare_port)
            time.sleep(1)
            cases = [(v["name"], p, {}) for p, v in bodies.items()]
            indicator = TARGETS["indicator page"]
            if indicator in bodies:
                etag = bodies[indicator]["etag"]
                cases.append(("304 revalidation", indicator, {"If-None-Match": etag}))
            for name, path, headers in cases:
                revalidation = name == "304 revalidation"
                target = "≥ 80%" if revalidation else "≥ 50%, p99 < 50 ms, 0 errors"
                with phase(rows, name, target):
                    ours = load(
                        f"http://127.0.0.1:{port}{path}",
                        options.seconds,
                        options.connections,
                        headers,
                    )
                    loads.append(os.getloadavg()[0])
                    theirs = load(
                        f"http://127.0.0.1:{bare_port}{path}",
                        options.seconds,
                        options.connections,
                        headers,
                    )
                    share = 100 * ours["rps"] / theirs["rps"] if theirs["rps"] else 0
                    size = len(Path(bodies[path]["file"]).read_bytes()) // 1024
                    rows.append(
                        (
                            name if revalidation else f"{name} ({size} KB)",
                            f"{ours['rps']:,.0f} req/s, p50 {ours['p50']:.1f} ms, p99 "
                            f"{ours['p99']:.1f} ms, {ours['errors']:.0f} errors "
                            f"(**{share:.0f}%** of bare)",
                            f"{theirs['rps']:,.0f} req/s, p50 {theirs['p50']:.1f} ms, p99 "
                            f"{theirs['p99']:.1f} ms, {theirs['errors']:.0f} errors",
                            target,
                        )
                    )
                    print(" | ".join(rows[-1]), flush=True)
        finally:
            stop(bare)

        # 4. cold cache: move the data version, then build pages one by one
        with phase(rows, "cold-cache page build", "reported"):
            changed = synthetic_file(work / "synthetic2.csv", shift=1.5)
            run(str(BIN), "load", "fingertips", str(changed), env=env)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                ids = [i["id"] for i in client.get("/api/v1/indicators").json()]
                builds = []
                for indicator_id in ids[-20:]:
                    started = time.perf_counter()
                    client.get(f"/indicators/{indicator_id}?comparison=99.8").raise_for_status()
                    builds.append((time.perf_counter() - started) * 1000)
            rows.append(
                (
                    "cold-cache page build after a data change (20 indicator pages)",
                    f"p50 {percentile(builds, 0.5):.0f} ms, p95 {percentile(builds, 0.95):.0f} ms",
                    "—",
                    "reported",
                )
            )
            print(" | ".join(rows[-1]), flush=True)
        # The warmer refills the cache for the new version (home, aspirations,
        # commitments, indicators' default views): give it a moment before stopping.
        time.sleep(5)
    finally:
        stop(server)


def export_phases(work: Path, env: dict[str, str], rows: list[Row], loads: list[float]) -> None:
    """The export three ways: after the server warmed the cache (if it ran), again from
    the cache that export filled, and from an empty cache."""
    cases = [
        ("after the server warmed the cache", env["HEALTHYCITY_CACHE_DIR"]),
        ("again, from the cache the export filled", env["HEALTHYCITY_CACHE_DIR"]),
        ("empty cache", str(work / "empty-cache")),
        # The annual reviews' PDFs take seconds each to typeset: the same cold export
        # without them shows what the pages, twins and charts cost on their own.
        ("empty cache, --no-documents", str(work / "empty-cache-2")),
    ]
    for number, (label, cache) in enumerate(cases):
        with phase(rows, f"static export, {label}", "< 10 s"):
            target = work / f"site-{number}"
            extra = ("--no-documents",) if "--no-documents" in label else ()
            seconds, cpu, pages = export({**env, "HEALTHYCITY_CACHE_DIR": cache}, target, *extra)
            loads.append(os.getloadavg()[0])
            rows.append(
                (
                    f"static export, {pages} pages, {label}",
                    f"{seconds:.1f} s wall ({seconds / BEFORE_EXPORT_SECONDS:.2f} × 36 s), "
                    f"{cpu:.1f} CPU s",
                    "36 s before issue 11",
                    "< 10 s",
                )
            )
            print(" | ".join(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
