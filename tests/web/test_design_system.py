"""The NHS design system's two halves are pinned together and installed as pinned."""

from __future__ import annotations

import json
import tomllib
from importlib.metadata import version
from pathlib import Path

from healthycity.core.web.design_system import COMPATIBLE, NHSUK_FRONTEND, NHSUK_FRONTEND_JINJA

REPO = Path(__file__).resolve().parents[2]


def test_pins_match_the_compatibility_table() -> None:
    package = json.loads((REPO / "package.json").read_text())
    assert package["dependencies"]["nhsuk-frontend"] == NHSUK_FRONTEND
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"nhsuk-frontend-jinja=={NHSUK_FRONTEND_JINJA}" in deps
    assert COMPATIBLE[NHSUK_FRONTEND_JINJA] == NHSUK_FRONTEND


def test_installed_versions_are_the_pinned_pair() -> None:
    assert version("nhsuk-frontend-jinja") == NHSUK_FRONTEND_JINJA
    installed = json.loads((REPO / "node_modules/nhsuk-frontend/package.json").read_text())
    assert installed["version"] == NHSUK_FRONTEND
    lock = json.loads((REPO / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/nhsuk-frontend"]["version"] == NHSUK_FRONTEND


def test_static_assets_are_the_pinned_release() -> None:
    css = REPO / "healthycity/web/static/nhsuk/nhsuk-frontend.min.css"
    assert css.exists(), "run `make assets` (make run and make test do it)"
    source = (
        REPO / f"node_modules/nhsuk-frontend/dist/nhsuk/nhsuk-frontend-{NHSUK_FRONTEND}.min.css"
    )
    assert css.read_bytes() == source.read_bytes()
