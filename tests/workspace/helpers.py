"""Shared set-up for the workspace tests: the London pack, people in every role, servers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.audit import SYSTEM_CLI, Actor, acting_as
from healthycity.core.auth import configure_password_hashing, create_account, issue_token
from healthycity.core.auth_models import ROLES
from healthycity.core.db import transaction

PASSWORD = "correct horse battery staple"
# Cheap argon2 for the suite: it creates many accounts, and the hash's strength is not
# what these tests are about (tests/workspace/test_accounts_audit.py checks the format).
configure_password_hashing(time_cost=1, memory_kib=1024, parallelism=1)
# The programme a programme lead owns in these tests, and one they do not.
OWN_PROGRAMME = "cancer"
OTHER_PROGRAMME = "mental-health"


@lru_cache(maxsize=1)
def london_pack() -> Any:
    from healthycity.packs.reader import read_pack, resolve_pack

    return read_pack(resolve_pack("london"))


@contextmanager
def unit(engine: Engine, actor: Actor = SYSTEM_CLI) -> Iterator[Session]:
    """One committed transaction whose changes are attributed to ``actor``."""
    with transaction(engine) as session, acting_as(session, actor):
        yield session


def load_london(engine: Engine) -> None:
    """The workspace's part of the London pack (programmes, devolution, assurance)."""
    from healthycity.assurance.pack_loading import load_assurance
    from healthycity.portfolio.pack_loading import load_portfolio

    with transaction(engine) as session:
        load_portfolio(session, london_pack())
        load_assurance(session, london_pack())


def add_people(engine: Engine) -> dict[str, str]:
    """One account per role (the lead owns OWN_PROGRAMME); returns role -> API token."""
    tokens: dict[str, str] = {}
    with unit(engine) as session:
        for role in ROLES:
            account = create_account(
                session,
                f"{role}@example.org",
                role,
                display_name=role.replace("_", " ").title(),
                password=PASSWORD,
                programmes=(OWN_PROGRAMME,) if role == "programme_lead" else (),
            )
            tokens[role] = issue_token(session, account, "tests")
    return tokens


def month(text: str) -> date:
    year, mon = text.split("-")
    return date(int(year), int(mon), 1)


def gbp(text: str) -> Decimal:
    return Decimal(text)


def app_for(url: str) -> Any:
    """The product's web app, every installed module mounted (the module registry)."""
    from healthycity.web import app as web_app
    from tests.conftest import settings_for

    return web_app.create_app(settings_for(url))  # type: ignore[arg-type]


def cli_for(url: str = "") -> Any:
    """The product's command line (every installed module's commands)."""
    from healthycity import cli

    _ = url
    return cli.app


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)
