"""Loading the London pack into SQLite and PostgreSQL: counts, idempotence, atomicity."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, select, text
from sqlalchemy.engine import Engine

from healthycity.core.pack_loading import load_pack, pack_summary
from healthycity.geography.models import Area
from healthycity.packs.reader import PACKS_DIR, PackInvalid, read_pack

EXPECTED_COUNTS = {
    "local_authorities": 33,
    "sub_regions": 5,
    "aspirations": 10,
    "vision_priorities": 9,
    "programmes": 13,
    "portfolio_lines": 2,
    "devolution_areas": 7,
    "pilots": 5,
    "assurances": 6,
    "nhs_tests": 4,
    "bed_test_conditions": 3,
}


def snapshot(engine: Engine) -> str:
    """Every row of every table, canonically ordered: equal snapshots mean equal data."""
    metadata = MetaData()
    metadata.reflect(engine)
    dump: dict[str, list[list[str]]] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = connection.execute(select(table)).all()
            dump[table.name] = sorted([repr(value) for value in row] for row in rows)
    return hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()


def file_bytes(engine: Engine) -> bytes | None:
    if engine.dialect.name != "sqlite":
        return None
    engine.dispose()  # checkpoint the WAL so the file holds everything
    database = engine.url.database
    assert database
    with engine.connect() as connection:
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return Path(database).read_bytes()


@pytest.fixture(scope="module")
def london() -> Any:
    return read_pack(PACKS_DIR / "london")


def test_london_loads_with_the_seed_counts(engine: Engine, london: Any) -> None:
    load_pack(engine, london)
    summary = pack_summary(engine)
    assert summary is not None
    assert summary["pack"] == "london"
    for key, expected in EXPECTED_COUNTS.items():
        assert summary["counts"][key] == expected, key
    assert Decimal(summary["programme_budget_total"]) == Decimal("15525236.00")
    assert summary["programme_budget_total"] == "15525236.00"


def test_hierarchy_and_tiles(engine: Engine, london: Any) -> None:
    load_pack(engine, london)
    with engine.connect() as connection:
        camden = connection.execute(select(Area).where(Area.code == "E09000007")).one()
        sub_region = connection.execute(select(Area).where(Area.code == camden.parent_code)).one()
        tiles = connection.execute(
            select(Area.tile_col, Area.tile_row).where(Area.area_type == "local_authority")
        ).all()
    assert sub_region.short_code == "NCL"
    assert sub_region.parent_code == "E12000007"
    assert len(set(tiles)) == 33 and all(c is not None for c, _ in tiles)


def test_loading_twice_changes_nothing(engine: Engine, london: Any) -> None:
    load_pack(engine, london)
    before = snapshot(engine)
    result = load_pack(engine, london)
    assert result.created == 0 and result.updated == 0 and result.deleted == 0
    assert snapshot(engine) == before


def test_a_failure_midway_writes_nothing(
    engine: Engine, london: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(engine)

    def broken(*_args: object) -> None:
        raise RuntimeError("simulated failure after the other modules wrote")

    monkeypatch.setattr("healthycity.assurance.pack_loading.load_assurance", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        load_pack(engine, london)
    assert snapshot(engine) == before


def _broken_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    folder = tmp_path / "broken-pack"
    shutil.copytree(PACKS_DIR / "london", folder)
    target = folder / file
    content = target.read_text()
    assert old in content, f"fixture text not found in {file}: {old!r}"
    target.write_text(content.replace(old, new, 1))
    return folder


# kind: (file, text to replace, replacement, what the message must name)
BREAKAGES = {
    "unknown area code": ("organisations.yaml", "E09000007", "E09000099", "E09000099"),
    "negative budget": ("programmes.yaml", "budget: ", "budget: -", "budget"),
    "missing required field": ("aspirations.yaml", "title: ", "titel: ", "title"),
}


@pytest.mark.parametrize("kind", sorted(BREAKAGES))
def test_broken_pack_is_refused_and_the_database_is_byte_for_byte_unchanged(
    engine: Engine, london: Any, tmp_path: Path, kind: str
) -> None:
    load_pack(engine, london)
    file, old, new, key = BREAKAGES[kind]
    folder = _broken_copy(tmp_path, file, old, new)
    before_rows = snapshot(engine)
    before_bytes = file_bytes(engine)
    url = engine.url.render_as_string(hide_password=False)
    result = subprocess.run(
        [sys.executable, "-m", "healthycity", "--database", url, "pack", "load", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    problem_lines = [line for line in result.stderr.splitlines() if line.startswith(file)]
    assert problem_lines, result.stderr
    assert any(key in line for line in problem_lines), result.stderr
    assert "nothing was written" in result.stderr
    assert snapshot(engine) == before_rows
    assert file_bytes(engine) == before_bytes
    with pytest.raises(PackInvalid):
        read_pack(folder)


def test_pack_show_json_shape(engine: Engine, london: Any) -> None:
    load_pack(engine, london)
    url = engine.url.render_as_string(hide_password=False)
    result = subprocess.run(
        [sys.executable, "-m", "healthycity", "--database", url, "pack", "show", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["pack"] == "london"
    assert shown["programme_budget_total"] == "15525236.00"
    assert {k: shown["counts"][k] for k in EXPECTED_COUNTS} == EXPECTED_COUNTS
