"""The exchange's boundaries: its schema, its settings, and who may import it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy.engine import Engine

import healthycity.exchange.models  # noqa: F401  (registers the tables)
from healthycity.exchange.db import VERSION_TABLE, ExchangeBase
from healthycity.exchange.settings import ExchangeSettings

PACKAGE = Path(healthycity.exchange.models.__file__).resolve().parents[1]
EXCHANGE = PACKAGE / "exchange"
DOCS = PACKAGE.parent / "docs" / "exchange.md"


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        differences = compare_metadata(context, ExchangeBase.metadata)
    assert differences == []


def test_every_setting_is_documented() -> None:
    if not DOCS.exists():
        pytest.skip("docs not present")
    text = DOCS.read_text()
    missing = [name for name in ExchangeSettings.model_fields if f"`{name}`" not in text]
    assert missing == []


def test_insecure_settings_are_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    ExchangeSettings()  # development: anything goes
    with pytest.raises(ValidationError) as refused:
        ExchangeSettings(environment="production")
    for needed in ("ISSUER", "AUDIENCE", "JWKS", "BINARY_LINK_SECRET", "AUDIT_KEY"):
        assert needed in str(refused.value)
    strong = "k" * 24 + "9f3Qx2LmZ7vRt1Bw"
    good = {
        "environment": "production",
        "jwt_issuer": "https://idp.example",
        "jwt_audience": "https://exchange.example",
        "jwks_url": "https://idp.example/jwks.json",
        "binary_link_secret": strong,
        "audit_key": strong[::-1],
    }
    ExchangeSettings(**good)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="https"):
        ExchangeSettings(**good | {"jwks_url": "http://idp.example/jwks.json"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="weak"):
        ExchangeSettings(**good | {"binary_link_secret": "changeme"})  # type: ignore[arg-type]
    monkeypatch.setenv("HEALTHYCITY_EXCHANGE_ENVIRONMENT", "test")
    with pytest.raises(ValidationError):
        ExchangeSettings()


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


#: The only pieces of core the exchange uses: engines and sessions, and its registry entry.
#: core.tamper: the one tamper-evident log both audit trails use (issue 13, item 3).
CORE_PLUMBING = {"healthycity.core.db", "healthycity.core.registry", "healthycity.core.tamper"}


def test_the_exchange_imports_no_other_domain_module() -> None:
    for path in EXCHANGE.rglob("*.py"):
        for name in _imports(path):
            if name.startswith("healthycity.") and name not in CORE_PLUMBING:
                assert name.startswith("healthycity.exchange"), f"{path}: imports {name}"


def test_nothing_else_imports_the_exchange() -> None:
    allowed = {PACKAGE / "cli.py"}  # mounts `healthycity exchange`
    for path in PACKAGE.rglob("*.py"):
        if EXCHANGE in path.parents or path in allowed:
            continue
        assert not any(n.startswith("healthycity.exchange") for n in _imports(path)), path
