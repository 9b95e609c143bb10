"""Settings read from the environment (``HEALTHYCITY_*``) and the command line.

Bad values are refused at start with one clear message each, and a weak or missing
secret is refused outside development (docs/decisions/0001-foundation.md): too short,
a known placeholder, or low in entropy (`secret_problem`).
"""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/healthycity.db"
DEVELOPMENT_SECRET = "development-only-secret-not-for-production"  # noqa: S105
_WEAK_SECRETS = {"", "secret", "changeme", "password", DEVELOPMENT_SECRET}
MIN_SECRET_CHARACTERS = 32
# A random secret has many different characters and 3 to 6 bits of Shannon entropy per
# character; 'a' * 32 has 1 and 0. These floors refuse repeated and patterned strings,
# not random ones: the shortest random hex secret accepted (32 characters from 16) has
# fewer than 8 different characters about 4 times in 100 million, while a floor of 10
# refused about 1 in 10,000 of them (CI once drew one with 9).
MIN_SECRET_DISTINCT = 8
MIN_SECRET_BITS_PER_CHARACTER = 2.5


def shannon_bits_per_character(text: str) -> float:
    """Shannon entropy of the string's own character frequencies, in bits per character.

    H = -sum(p_i * log2 p_i) over the distinct characters, p_i each one's share of the
    string (Shannon, 1948). It measures how varied the string is, not how it was made,
    so it is a floor against patterned secrets, not proof of a random one.
    """
    if not text:
        return 0.0
    counts = Counter(text)
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def secret_problem(value: str, setting: str) -> str | None:
    """Why ``value`` is not acceptable as a secret outside development (None if it is):
    shorter than 32 characters, a known placeholder, fewer than 8 different characters,
    a repetition of a shorter string, or under 2.5 bits of Shannon entropy per character."""
    advice = "use a random value, e.g. `openssl rand -hex 32`"
    if value in _WEAK_SECRETS or value.lower() in _WEAK_SECRETS:
        return f"{setting} is a placeholder; {advice}"
    if len(value) < MIN_SECRET_CHARACTERS:
        return f"{setting} must have {MIN_SECRET_CHARACTERS} or more characters; {advice}"
    if len(set(value)) < MIN_SECRET_DISTINCT:
        return (
            f"{setting} is low in entropy: it has {len(set(value))} different characters "
            f"(needs {MIN_SECRET_DISTINCT}+); {advice}"
        )
    unit = next(
        (n for n in range(1, len(value) // 2 + 1) if value == value[:n] * (len(value) // n)),
        None,
    )
    if unit is not None:
        return f"{setting} is low in entropy: it repeats {unit} characters; {advice}"
    bits = shannon_bits_per_character(value)
    if bits < MIN_SECRET_BITS_PER_CHARACTER:
        return (
            f"{setting} is low in entropy: {bits:.1f} bits per character "
            f"(needs {MIN_SECRET_BITS_PER_CHARACTER}+); {advice}"
        )
    return None


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names each one and why."""


class Settings(BaseSettings):
    """Everything the product can be configured with (documented in docs/settings.md)."""

    model_config = SettingsConfigDict(env_prefix="HEALTHYCITY_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = Field(
        "development", description="development allows the built-in secret; production does not"
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    secret_key: str = Field(
        DEVELOPMENT_SECRET, description="signs sessions and CSRF tokens; 32+ characters"
    )
    pack: str = Field("london", description="city pack loaded by `make run`")
    host: str = Field("127.0.0.1", description="address `serve` listens on")
    port: int = Field(8000, ge=1, le=65535, description="port `serve` listens on")
    demo_data: bool = Field(True, description="load illustrative data when no real data exist")
    cache_dir: str = Field("./var/cache", description="where API responses and charts are cached")
    workers: int = Field(
        0, ge=0, le=64, description="worker processes for `serve`; 0 means one per CPU core"
    )
    page_cache: bool = Field(
        True,
        description="serve public pages, twins and API answers from finished responses "
        "stored per data version (under cache_dir/pages)",
    )
    page_cache_max_age: int = Field(
        60, ge=0, le=86400, description="seconds a browser or CDN may reuse a public page"
    )
    page_cache_memory_mb: int = Field(
        128, ge=1, le=65536, description="finished responses each worker keeps in memory (MB)"
    )

    audit_key: SecretStr | None = Field(
        None,
        description="HMAC key of the workspace audit chain and its checkpoints (32+ random "
        "bytes; never stored in the database); refused when missing or weak outside "
        "development, where a fixed key is used with a warning",
    )
    audit_checkpoint_path: str = Field(
        "./var/audit/workspace-checkpoints.jsonl",
        description="file the signed audit checkpoints are appended to, outside the "
        "database (put it on append-only or remote storage)",
    )
    audit_checkpoint_every: int = Field(
        1000,
        ge=0,
        description="audit records between checkpoints written automatically "
        "(0: only by `healthycity audit checkpoint`)",
    )

    hsts_seconds: int = Field(
        0,
        ge=0,
        le=2 * 365 * 24 * 3600,
        description="send Strict-Transport-Security with this max-age on answers served "
        "over HTTPS (directly, or behind a proxy that sets X-Forwarded-Proto and is trusted "
        "by FORWARDED_ALLOW_IPS); 0 (the default) sends none; 31536000 is a year",
    )
    hsts_include_subdomains: bool = Field(
        False, description="add includeSubDomains to Strict-Transport-Security"
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql+psycopg://", "postgresql://")):
            raise ValueError(
                "must start with sqlite:// or postgresql+psycopg:// "
                f"(got {value.split('://')[0]!r})"
            )
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @model_validator(mode="after")
    def _strong_secret_outside_development(self) -> Settings:
        if self.environment == "development":
            return self
        problem = secret_problem(self.secret_key, "HEALTHYCITY_SECRET_KEY")
        if problem:
            raise ValueError(f"{problem} (HEALTHYCITY_ENVIRONMENT={self.environment})")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line per bad setting."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"]) or "settings"
            env = f"HEALTHYCITY_{name.upper()}" if error["loc"] else "settings"
            lines.append(f"{env}: {error['msg']}")
        raise SettingsError("; ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
