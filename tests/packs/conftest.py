"""Fixtures for pack tests: the built-in London pack, and copies of it to break."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from healthycity.packs import Pack, read_pack, resolve_pack


@pytest.fixture(scope="session")
def london() -> Pack:
    return read_pack(resolve_pack("london"))


@pytest.fixture
def london_copy(tmp_path: Path) -> Path:
    """A writable copy of the London pack."""
    target = tmp_path / "pack"
    shutil.copytree(resolve_pack("london"), target)
    return target


Edit = Callable[[str, str, str], None]


@pytest.fixture
def edit(london_copy: Path) -> Edit:
    """Replace text in one file of the copy; the old text must occur (exactly once)."""

    def replace(file: str, old: str, new: str) -> None:
        path = london_copy / file
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {file}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    return replace
