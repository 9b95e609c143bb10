"""Settings: environment variables, clear refusals, no weak secrets outside development."""

from __future__ import annotations

import pytest

from healthycity.core.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEALTHYCITY_DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite:///./var/healthycity.db"
    assert settings.is_sqlite


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTHYCITY_PORT", "8123")
    monkeypatch.setenv("HEALTHYCITY_DATABASE_URL", "postgresql://postgres@db/x")
    settings = load_settings()
    assert settings.port == 8123
    assert settings.database_url == "postgresql+psycopg://postgres@db/x"


def test_bad_values_are_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTHYCITY_PORT", "eighty")
    with pytest.raises(SettingsError, match="HEALTHYCITY_PORT"):
        load_settings()


def test_unknown_database_scheme_is_refused() -> None:
    with pytest.raises(SettingsError, match="HEALTHYCITY_DATABASE_URL.*sqlite"):
        load_settings(database_url="mysql://root@localhost/x")


@pytest.mark.parametrize(
    "secret", ["", "changeme", "short-secret", "a" * 32, "x" * 48, "abab" * 10, "0123456789" * 4]
)
def test_weak_secret_refused_in_production(secret: str) -> None:
    with pytest.raises(SettingsError, match="HEALTHYCITY_SECRET_KEY"):
        load_settings(environment="production", secret_key=secret or None)


def test_strong_secret_accepted_in_production() -> None:
    settings = load_settings(
        environment="production", secret_key="9f3Kq-7xWb2Lm8Rt4Yz6Nc1Hd5Jp0Vs-eA"
    )
    assert settings.environment == "production"
