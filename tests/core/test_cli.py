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
