"""Generate docs/cli.md from the Typer app and docs/settings.md from the Settings model.

`make test` checks both files are current (tests/test_docs.py), so the docs cannot drift
from the code. Run `python scripts/gen_docs.py` after changing a command or a setting.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

os.environ["COLUMNS"] = "100"  # help text wraps the same on every machine

import typer.main  # noqa: E402

from healthycity.cli import app  # noqa: E402
from healthycity.core.settings import Settings  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _walk(command: Any, path: list[str], out: list[str]) -> None:
    name = " ".join(path)
    ctx = type(command).context_class(command, info_name=name)
    out.append(f"## `{name}`\n")
    help_text = command.get_help(ctx)
    out.append("```text\n" + help_text.rstrip() + "\n```\n")
    if hasattr(command, "list_commands"):
        for sub_name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                _walk(sub, [*path, sub_name], out)


def cli_markdown() -> str:
    out = [
        "# Command-line reference\n",
        "Generated from the code by `scripts/gen_docs.py`; do not edit by hand.\n",
    ]
    _walk(typer.main.get_command(app), ["healthycity"], out)
    return "\n".join(out)


def _settings_classes() -> list[tuple[str, Any, str]]:
    """(section, settings class, environment prefix) for every settings model."""
    from healthycity.core.auth import AuthSettings
    from healthycity.engagement.mail import MailSettings

    classes: list[tuple[str, Any, str]] = [
        ("Core", Settings, "HEALTHYCITY_"),
        ("Sign-in", AuthSettings, "HEALTHYCITY_"),
        ("Email (engagement)", MailSettings, "HEALTHYCITY_MAIL_"),
    ]
    try:
        from healthycity.exchange.settings import ExchangeSettings
    except ImportError:
        return classes
    classes.append(("Exchange", ExchangeSettings, "HEALTHYCITY_EXCHANGE_"))
    return classes


def settings_markdown() -> str:
    lines = [
        "# Settings\n",
        "Generated from the settings models by `scripts/gen_docs.py`.",
        "Every setting is an environment variable; `--database URL` overrides the database",
        "for one command.",
    ]
    for section, model, prefix in _settings_classes():
        lines += ["", f"## {section}", "", "| variable | default | meaning |", "|---|---|---|"]
        for name, field in model.model_fields.items():
            default = "" if field.default is None else field.default
            if "secret" in name:
                default = "(none)" if not default else "(a development-only value)"
            meaning = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{prefix}{name.upper()}` | `{default}` | {meaning} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for filename, text in (("cli.md", cli_markdown()), ("settings.md", settings_markdown())):
        target = DOCS / filename
        if check:
            if not target.exists() or target.read_text() != text:
                stale.append(filename)
        else:
            target.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run python scripts/gen_docs.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
