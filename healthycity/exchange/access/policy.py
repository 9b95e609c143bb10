"""Who is asking, and may they: bearer tokens, SMART scopes, job roles and relationships.

Four checks, all of which must pass, in this order:

1. **Token.** A bearer JWT signed with RS256 by a key in the configured JWKS, with the
   configured issuer and audience, unexpired. Only RS256 is accepted, checked before
   any key is touched, so ``none``, HS256-with-the-public-key and other algorithm
   confusion tricks fail the same way as a forged signature.
2. **Scope.** SMART-style scopes (``user/Observation.read``, ``patient/*.read``, v2
   ``.rs``) say what the *application* may do; ``patient/`` scopes bind the token to one
   patient.
3. **Role policy.** NHS national RBAC job roles are mapped to permissions by a Casbin
   model and policy kept as data (``data/access_model.ini``, ``data/access_policy.csv``).
   Anything the policy does not allow is refused.
4. **Basis.** Clinical roles need a legitimate relationship with the patient (registered
   GP practice, care team, open referral or encounter) or an active break-glass grant;
   a citizen needs the record to be their own.

Consent is applied afterwards, per resource, by :mod:`healthycity.exchange.consent`.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import casbin  # type: ignore[import-untyped]
import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

ALGORITHM = "RS256"
MIN_RSA_BITS = 2048
ROLE_SYSTEM = "https://fhir.nhs.uk/Id/sds-role-code"

Basis = Literal["relationship", "break-glass", "self", "none"]
Interaction = Literal["read", "search"]
RelationshipKind = Literal["gp", "care-team", "referral", "encounter"]


class AccessDenied(Exception):
    """A request that must be refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, reason: str, *, status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class TokenError(AccessDenied):
    """The bearer token is missing, malformed, forged, expired or not for us."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, status=401)


# --- keys -------------------------------------------------------------------------------


def _public_rsa_keys(jwks: Mapping[str, Any]) -> dict[str | None, RSAPublicKey]:
    """The usable signing keys of a JWKS document, by ``kid``.

    Keys that are not RSA, not for signatures or not for RS256 are ignored; a key shorter
    than 2048 bits, or one that carries private material, is an error in the key set
    itself and is refused outright.
    """
    keys: dict[str | None, RSAPublicKey] = {}
    for entry in jwks.get("keys", []):
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        if "d" in entry:
            raise ValueError("the JWKS contains a private key; publish public keys only")
        key = jwt.PyJWK(entry, algorithm=ALGORITHM).key
        if not isinstance(key, RSAPublicKey):
            continue
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"RSA key {entry.get('kid')!r} is {key.key_size} bits; need 2048+")
        keys[entry.get("kid")] = key
    return keys


class KeySource:
    """Where verification keys come from."""

    def key_for(self, kid: str | None) -> RSAPublicKey:
        raise NotImplementedError


class StaticKeys(KeySource):
    """Keys from a JWKS document already in memory (or read once from a file)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = _public_rsa_keys(jwks)

    @classmethod
    def from_file(cls, path: Path) -> StaticKeys:
        return cls(orjson.loads(path.read_bytes()))

    def key_for(self, kid: str | None) -> RSAPublicKey:
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        key = self._keys.get(kid)
        if key is None:
            raise TokenError("token signed with an unknown key")
        return key


class JwksUrlKeys(KeySource):
    """Keys fetched from a JWKS URL, cached, refetched (at most every ``cooldown`` s)
    when a token names a key the cache does not hold, so keys can rotate."""

    def __init__(self, url: str, *, lifespan: float = 300.0, cooldown: float = 30.0) -> None:
        self.url = url
        self.lifespan = lifespan
        self.cooldown = cooldown
        self._keys: dict[str | None, RSAPublicKey] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        import httpx

        response = httpx.get(self.url, timeout=5.0, follow_redirects=False)
        response.raise_for_status()
        self._keys = _public_rsa_keys(response.json())
        self._fetched_at = time.monotonic()

    def key_for(self, kid: str | None) -> RSAPublicKey:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = age > self.lifespan
            missing = kid not in self._keys and not (kid is None and len(self._keys) == 1)
            if stale or (missing and age > self.cooldown):
                try:
                    self._refresh()
                except Exception as error:  # network, HTTP or JSON: all mean "no keys"
                    if not self._keys:
                        raise TokenError("signing keys are unavailable") from error
            if kid is None and len(self._keys) == 1:
                return next(iter(self._keys.values()))
            key = self._keys.get(kid)
            if key is None:
                raise TokenError("token signed with an unknown key")
            return key


# --- scopes -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """One SMART scope, e.g. ``user/Observation.read`` or ``patient/*.rs``."""

    context: Literal["user", "patient", "system"]
    resource_type: str
    permissions: frozenset[str]

    def permits(self, resource_type: str, action: str) -> bool:
        if self.resource_type not in ("*", resource_type):
            return False
        wanted = {"read": "r", "search": "s", "write": "c"}.get(action, action)
        return wanted in self.permissions


def parse_scopes(text: str) -> frozenset[Scope]:
    """Parse a space-separated scope string; unknown forms are ignored (never widened)."""
    found: set[Scope] = set()
    for item in text.split():
        context, slash, rest = item.partition("/")
        if not slash or context not in ("user", "patient", "system"):
            continue
        resource_type, dot, permission = rest.partition(".")
        if not dot or not resource_type:
            continue
        if permission == "read":
            letters = frozenset("rs")
        elif permission == "write":
            letters = frozenset("cud")
        elif permission == "*":
            letters = frozenset("cruds")
        elif permission and set(permission) <= set("cruds"):
            letters = frozenset(permission)
        else:
            continue
        found.add(Scope(context, resource_type, letters))  # type: ignore[arg-type]
    return frozenset(found)


# --- the principal ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated requester, as the token describes them."""

    subject: str
    issuer: str
    role: str
    organisation: str | None
    scopes: frozenset[Scope]
    patient: str | None  # the NHS number a patient-context token is bound to
    purpose: str
    token_id: str | None
    name: str | None = None

    @property
    def is_citizen(self) -> bool:
        return self.role == "citizen"


ANONYMOUS = Principal(
    subject="anonymous",
    issuer="",
    role="none",
    organisation=None,
    scopes=frozenset(),
    patient=None,
    purpose="",
    token_id=None,
)


@dataclass(frozen=True, slots=True)
class Role:
    code: str
    name: str
    kind: str


@lru_cache(maxsize=1)
def roles() -> dict[str, Role]:
    """The job roles the exchange knows, from ``data/roles.csv``."""
    text = resources.files("healthycity.exchange").joinpath("data/roles.csv").read_text()
    return {row["code"]: Role(**row) for row in csv.DictReader(text.splitlines())}


class TokenVerifier:
    """Turns a bearer token into a :class:`Principal`, or refuses it.

    A token that verified is remembered until it expires (a token is immutable, so its
    signature need not be checked on every request; RSA verification is the dearest part
    of authenticating). Expiry is still checked on every use.
    """

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway: int = 30,
        cache_size: int = 10_000,
        max_lifetime: int | None = None,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.max_lifetime = max_lifetime
        self.cache_size = cache_size
        self._verified: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, expires = remembered
            if time.time() <= expires + self.leeway:
                return principal
            self._verified.pop(token, None)
            raise TokenError("token expired")
        principal, expires = self._verify(token)
        if self.cache_size:
            if len(self._verified) >= self.cache_size:
                self._verified.clear()
            self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise TokenError("malformed token") from error
        if header.get("alg") != ALGORITHM:
            raise TokenError(f"token algorithm {header.get('alg')!r} is not allowed")
        key = self.keys.key_for(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise TokenError("token expired") from error
        except jwt.InvalidAudienceError as error:
            raise TokenError("token is for another audience") from error
        except jwt.InvalidIssuerError as error:
            raise TokenError("token from an unknown issuer") from error
        except jwt.InvalidSignatureError as error:
            raise TokenError("token signature does not verify") from error
        except jwt.PyJWTError as error:
            raise TokenError(f"invalid token: {error}") from error
        check_times(claims, self.max_lifetime)
        return principal_from_claims(claims), float(claims["exp"])


def check_times(claims: Mapping[str, Any], max_lifetime: int | None) -> None:
    """``exp``, ``iat`` and ``nbf`` must be numbers (not text, not booleans), and the
    token may live no longer than ``max_lifetime`` seconds from its issue."""
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if name in claims and (
            isinstance(value, bool) or not isinstance(value, int | float) or value != value
        ):
            raise TokenError(f"token claim {name} must be a number")
    if max_lifetime is not None and float(claims["exp"]) - float(claims["iat"]) > max_lifetime:
        raise TokenError(f"token lives longer than {max_lifetime} seconds")


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Check the exchange's own claims and build the principal."""
    role = claims.get("role")
    if not isinstance(role, str) or role not in roles():
        raise TokenError("token has no recognised job role")
    organisation = claims.get("org")
    if role != "citizen" and not (isinstance(organisation, str) and organisation):
        raise TokenError("staff tokens must name the organisation (ODS code)")
    scopes = parse_scopes(str(claims.get("scope", "")))
    patient = claims.get("patient")
    if any(s.context == "patient" for s in scopes) and not isinstance(patient, str):
        raise TokenError("patient/ scopes need a patient in the token")
    if role == "citizen" and (
        not isinstance(patient, str) or any(s.context != "patient" for s in scopes)
    ):
        raise TokenError("citizen tokens carry patient/ scopes for their own record only")
    purpose = claims.get("purpose", "TREAT")
    return Principal(
        subject=str(claims["sub"]),
        issuer=str(claims["iss"]),
        role=role,
        organisation=organisation if isinstance(organisation, str) else None,
        scopes=scopes,
        patient=patient if isinstance(patient, str) else None,
        purpose=purpose if isinstance(purpose, str) else "TREAT",
        token_id=str(claims["jti"]) if "jti" in claims else None,
        name=str(claims["name"]) if "name" in claims else None,
    )


# --- relationships ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelationshipFact:
    """One ground for access held in the index (see models.Relationship)."""

    kind: str
    organisation: str | None
    practitioner: str | None
    starts_at: datetime
    ends_at: datetime | None


def legitimate_relationship(
    principal: Principal, relationships: Iterable[RelationshipFact], now: datetime
) -> str | None:
    """The kind of the first current relationship that covers this requester, if any.

    A care-team membership names the practitioner; the other kinds are held by the
    organisation (the practice, the service receiving the referral, the provider of the
    encounter), so anyone working there for it qualifies. A fact of another kind that
    names only a practitioner (the clinician who took part in an encounter, the named
    recipient of a referral, as read from the nodes by ``relationships/``) covers that
    practitioner alone.
    """
    for fact in relationships:
        if fact.starts_at > now or (fact.ends_at is not None and fact.ends_at < now):
            continue
        if fact.kind == "care-team":
            if fact.practitioner is not None and fact.practitioner == principal.subject:
                return fact.kind
            if fact.practitioner is None and fact.organisation == principal.organisation:
                return fact.kind
        elif fact.organisation is not None:
            if fact.organisation == principal.organisation:
                return fact.kind
        elif fact.practitioner is not None and fact.practitioner == principal.subject:
            return fact.kind
    return None


# --- policy -----------------------------------------------------------------------------


class AccessPolicy:
    """The role policy (Casbin over the data files), with decisions memoised.

    Policies are immutable while the process runs, so a decision for the same
    (role, type, action, basis) never changes and caching it is exact.
    """

    def __init__(self, model_text: str, policy_text: str) -> None:
        model = casbin.Enforcer.new_model(text=model_text)
        lines = [
            line.strip()
            for line in policy_text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        from casbin.persist.adapters.string_adapter import (  # type: ignore[import-untyped]
            StringAdapter,
        )

        self._enforcer = casbin.Enforcer(model, StringAdapter("\n".join(lines)))
        self._memo: dict[tuple[str, str, str, str], bool] = {}
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> AccessPolicy:
        return _default_policy()

    def allows(self, role: str, resource_type: str, action: str, basis: str) -> bool:
        key = (role, resource_type, action, basis)
        decision = self._memo.get(key)
        if decision is None:
            with self._lock:  # the Casbin enforcer is not documented as thread-safe
                decision = bool(self._enforcer.enforce(role, resource_type, action, basis))
            self._memo[key] = decision
        return decision


@lru_cache(maxsize=1)
def _default_policy() -> AccessPolicy:
    folder = resources.files("healthycity.exchange").joinpath("data")
    return AccessPolicy(
        folder.joinpath("access_model.ini").read_text(),
        folder.joinpath("access_policy.csv").read_text(),
    )


@dataclass(frozen=True, slots=True)
class AccessDecision:
    allowed: bool
    reason: str


def decide(
    principal: Principal,
    resource_type: str,
    action: str,
    *,
    basis: Basis,
    patient_nhs_number: str | None,
    policy: AccessPolicy | None = None,
) -> AccessDecision:
    """May ``principal`` perform ``action`` on ``resource_type`` for this patient?"""
    policy = policy or AccessPolicy.default()
    scoped = [s for s in principal.scopes if s.permits(resource_type, action)]
    if action == "break-glass":
        scoped = [s for s in principal.scopes if s.context == "user"]
    if not scoped:
        return AccessDecision(False, f"no scope allows {action} of {resource_type}")
    if all(s.context == "patient" for s in scoped) and (
        patient_nhs_number is None or principal.patient != patient_nhs_number
    ):
        return AccessDecision(False, "patient-context token used for another patient")
    if not policy.allows(principal.role, resource_type, action, basis):
        if basis == "none" and policy.allows(principal.role, resource_type, action, "relationship"):
            return AccessDecision(False, "no legitimate relationship with this patient")
        return AccessDecision(False, f"role {principal.role} may not {action} {resource_type}")
    return AccessDecision(True, f"{principal.role} {action} {resource_type} ({basis})")


def resource_types_allowed(
    principal: Principal,
    resource_types: Sequence[str],
    *,
    basis: Basis,
    patient_nhs_number: str | None,
    policy: AccessPolicy | None = None,
) -> dict[str, AccessDecision]:
    """One decision per resource type (used to filter a whole-record response)."""
    return {
        t: decide(
            principal, t, "read", basis=basis, patient_nhs_number=patient_nhs_number, policy=policy
        )
        for t in dict.fromkeys(resource_types)
    }
