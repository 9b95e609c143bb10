"""Settings for the exchange, read from ``HEALTHYCITY_EXCHANGE_*`` environment variables.

The exchange has its own settings class (not the partnership's) because its trust
boundary is different: a mistake here discloses patient records. So outside
``development`` the class refuses to start with missing or weak security settings rather
than falling back to something that merely works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from healthycity.core.tamper import key_problem

Environment = Literal["development", "test", "production"]

#: Secrets shorter than this (in bytes) are refused outside development: the Binary
#: capability links are HMAC-signed with it, and a short key can be brute-forced.
MIN_SECRET_BYTES = 32

_KNOWN_WEAK_SECRETS = frozenset(
    {"changeme", "change-me", "secret", "development", "dev", "password", "test"}
)


class InsecureSettingsError(ValueError):
    """Settings that would be unsafe in the chosen environment (pydantic reports it as a
    ValidationError whose message lists every problem)."""


class ExchangeSettings(BaseSettings):
    """Every knob of the exchange, with safe defaults for a developer's machine."""

    model_config = SettingsConfigDict(env_prefix="HEALTHYCITY_EXCHANGE_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./var/exchange.db",
        description="the exchange's own database (never the partnership's)",
    )
    environment: Environment = Field(
        "development", description="outside development, missing security settings are refused"
    )

    jwt_issuer: str | None = Field(None, description="required `iss` of bearer tokens")
    jwt_audience: str | None = Field(None, description="required `aud` of bearer tokens")
    jwks_path: Path | None = Field(None, description="JWKS file with the RS256 signing keys")
    jwks_url: str | None = Field(None, description="JWKS URL (instead of a file)")
    jwt_leeway_seconds: int = Field(
        default=30, ge=0, le=300, description="clock skew allowed on token expiry"
    )

    node_timeout_seconds: float = Field(
        default=2.0, gt=0, le=60, description="per-node time limit for a federated read"
    )
    node_connect_timeout_seconds: float = Field(
        default=1.0, gt=0, le=60, description="per-node time limit to connect"
    )
    node_health_interval_seconds: float = Field(
        default=60.0, ge=0, description="seconds between node health checks (0: off)"
    )
    breaker_failure_threshold: int = Field(
        default=3, ge=1, description="failures in a row that open a node's circuit breaker"
    )
    breaker_reset_seconds: float = Field(
        default=30.0, gt=0, description="seconds before an open breaker tries the node again"
    )

    break_glass_minutes: int = Field(
        default=60, ge=1, le=24 * 60, description="how long emergency access lasts"
    )
    break_glass_min_reason_chars: int = Field(
        default=10, ge=1, description="shortest reason accepted for emergency access"
    )

    relationship_encounter_days: int = Field(
        default=90,
        ge=0,
        le=3650,
        description="days after a finished encounter during which its provider and "
        "clinicians keep a legitimate relationship (relationships derived from node data)",
    )
    relationship_refresh_interval_seconds: float = Field(
        default=3600,
        ge=0,
        description="how often the running exchange re-derives everyone's relationships "
        "from the nodes (0: never; `exchange relationships refresh` runs one now)",
    )
    relationship_practitioner_systems: tuple[str, ...] = Field(
        default=("https://fhir.nhs.uk/Id/sds-user-id",),
        description="Practitioner identifier systems whose value is that person's token "
        "`sub` (a JSON list); other practitioner identifiers never match a requester",
    )

    token_max_lifetime_seconds: int = Field(
        default=3600,
        ge=60,
        le=24 * 3600,
        description="longest a bearer token may live (its `exp` minus `iat`); longer "
        "tokens are refused",
    )
    max_authorization_bytes: int = Field(
        default=8192,
        ge=1024,
        le=65536,
        description="largest Authorization header accepted (longer ones are refused, 401)",
    )
    api_docs: bool | None = Field(
        None,
        description="publish `/docs` and `/openapi.json` (default: only in development)",
    )

    binary_link_secret: SecretStr | None = Field(
        None, description="signs Binary document links; 32+ bytes outside development"
    )
    binary_link_seconds: int = Field(
        default=300, ge=10, le=3600, description="how long a Binary document link works"
    )

    page_link_secret: SecretStr | None = Field(
        None,
        description="key for the search paging cursors (HMAC-signed, encrypted); 32+ bytes; "
        "unset: derived from binary_link_secret (random per process in development)",
    )
    page_link_seconds: int = Field(
        default=900, ge=30, le=24 * 3600, description="how long a next/previous link works"
    )
    page_size_default: int = Field(
        default=50, ge=1, le=1000, description="entries per page when `_count` is not given"
    )
    page_size_max: int = Field(
        default=500, ge=1, le=5000, description="most entries one page may hold"
    )
    patient_search_max_matches: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="a Patient search matching more people than this is refused as too "
        "broad (400), as PDS answers 'too many matches'",
    )

    validation_cache_size: int = Field(
        default=200_000, ge=0, description="resource versions whose validation verdict is kept"
    )
    grounds_cache_size: int = Field(
        default=10_000,
        ge=0,
        description="requester-and-person grounds kept between requests (0: read every time); "
        "each use is checked against the person's grounds version before a reply leaves",
    )
    grounds_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="how long cached grounds are used before being read again (node changes "
        "such as a disabled node are picked up within this time)",
    )
    gc_gen0_threshold: int = Field(
        default=50_000,
        ge=0,
        description="allocations between the garbage collector's youngest-generation runs "
        "in the serving process (0 keeps Python's default of 700); see docs/exchange.md",
    )
    audit_key: SecretStr | None = Field(
        None,
        description="HMAC key of the audit chain and its checkpoints (32+ random bytes; "
        "never stored in the database); a fixed development key, with a warning, in "
        "development",
    )
    audit_checkpoint_path: Path = Field(
        Path("var/audit/exchange-checkpoints.jsonl"),
        description="file the signed audit checkpoints are appended to, outside the "
        "database (put it on append-only or remote storage)",
    )
    audit_checkpoint_every: int = Field(
        default=1000,
        ge=0,
        description="audit rows between checkpoints written by the running exchange "
        "(0: only at start and by `exchange audit checkpoint`)",
    )
    audit_batch_size: int = Field(
        default=64,
        ge=1,
        le=1000,
        description="most requests whose decisions and audit records commit in one transaction",
    )

    @field_validator("jwks_path", mode="before")
    @classmethod
    def _jwks_path_named(cls, value: object) -> object:
        if isinstance(value, str | Path) and not str(value).strip():
            raise ValueError(
                "HEALTHYCITY_EXCHANGE_JWKS_PATH is set but empty: unset it, or name the "
                "JWKS file with the token signing keys"
            )
        if isinstance(value, str | Path) and Path(value).is_dir():
            raise ValueError(
                f"HEALTHYCITY_EXCHANGE_JWKS_PATH names a directory ({value}), not a JWKS file"
            )
        return value

    @model_validator(mode="after")
    def _refuse_insecure_outside_development(self) -> ExchangeSettings:
        if self.environment == "development":
            return self
        problems = self.security_problems()
        if problems:
            raise InsecureSettingsError(
                f"refusing to run the exchange in {self.environment}: " + "; ".join(problems)
            )
        return self

    def security_problems(self) -> list[str]:
        """Everything that would make these settings unsafe outside development."""
        problems: list[str] = []
        if not self.jwt_issuer:
            problems.append("HEALTHYCITY_EXCHANGE_JWT_ISSUER is not set")
        if not self.jwt_audience:
            problems.append("HEALTHYCITY_EXCHANGE_JWT_AUDIENCE is not set")
        if not self.jwks_path and not self.jwks_url:
            problems.append("neither HEALTHYCITY_EXCHANGE_JWKS_PATH nor _JWKS_URL is set")
        if self.jwks_url and urlparse(self.jwks_url).scheme != "https":
            problems.append("HEALTHYCITY_EXCHANGE_JWKS_URL must use https")
        audit_key = self.audit_key.get_secret_value() if self.audit_key else None
        audit_problem = key_problem(audit_key, "HEALTHYCITY_EXCHANGE_AUDIT_KEY")
        if audit_problem:
            problems.append(audit_problem)
        secret = self.binary_link_secret.get_secret_value() if self.binary_link_secret else ""
        if not secret:
            problems.append("HEALTHYCITY_EXCHANGE_BINARY_LINK_SECRET is not set")
        elif len(secret.encode()) < MIN_SECRET_BYTES or secret.lower() in _KNOWN_WEAK_SECRETS:
            problems.append(
                f"HEALTHYCITY_EXCHANGE_BINARY_LINK_SECRET is weak (needs {MIN_SECRET_BYTES}+ "
                "random bytes)"
            )
        paging = self.page_link_secret.get_secret_value() if self.page_link_secret else ""
        if paging and (
            len(paging.encode()) < MIN_SECRET_BYTES or paging.lower() in _KNOWN_WEAK_SECRETS
        ):
            problems.append(
                f"HEALTHYCITY_EXCHANGE_PAGE_LINK_SECRET is weak (needs {MIN_SECRET_BYTES}+ "
                "random bytes)"
            )
        return problems
