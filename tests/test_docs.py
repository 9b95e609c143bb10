"""The generated reference docs match the code (as Datasette does for its settings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_cli_and_settings_docs_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_has_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_every_setting_is_described() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from gen_docs import _settings_classes
    finally:
        sys.path.pop(0)
    missing = [
        f"{prefix}{name.upper()}"
        for _section, model, prefix in _settings_classes()
        for name, field in model.model_fields.items()
        if not field.description
    ]
    assert missing == [], f"settings without a description (docs/settings.md): {missing}"
