"""The command line as a user runs it: a real subprocess, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect

from healthycity.core.db import make_engine
from healthycity.core.migrate import head_revision


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "healthycity", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("serve", "db", "pack"):
        assert command in result.stdout


def test_database_option_creates_and_migrates_a_new_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'hc.db'}"
    result = run("--database", url, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert head_revision() in result.stdout
    engine = make_engine(url)
    assert "area" in inspect(engine).get_table_names()


def test_bad_setting_is_refused_at_start() -> None:
    result = run("--database", "mysql://x", "db", "current")
    assert result.returncode == 2
    assert "HEALTHYCITY_DATABASE_URL" in result.stderr


def test_stale_postgres_is_refused_with_instruction(postgres_url: str) -> None:
    result = run("--database", postgres_url, "pack", "show")
    assert result.returncode == 1
    assert "healthycity db upgrade" in result.stderr


def test_serve_with_workers_answers_from_each_process(tmp_path: Path) -> None:
    """``serve --workers 2`` starts two processes over the chosen database."""
    import socket
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    database = f"sqlite:///{tmp_path / 'workers.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHYCITY_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "healthycity", "--database", database, "serve",
         "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2, trust_env=False)
                break
            except httpx.HTTPError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "serve --workers 2 did not answer"
                time.sleep(0.3)
        assert health.status_code == 200
        assert health.json()["database"]["engine"] == "sqlite"
        children = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(children) >= 2  # the workers (uvicorn may add a resource tracker)
    finally:
        server.terminate()
        server.wait(timeout=20)
