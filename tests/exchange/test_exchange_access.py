"""Bearer tokens, SMART scopes, the role policy and legitimate relationships."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from healthycity.exchange.access.policy import (
    AccessPolicy,
    JwksUrlKeys,
    RelationshipFact,
    StaticKeys,
    TokenError,
    TokenVerifier,
    decide,
    legitimate_relationship,
    parse_scopes,
)
from healthycity.exchange.dev.devkeys import DemoIssuer


@pytest.fixture(scope="module")
def issuer() -> DemoIssuer:
    return DemoIssuer()


@pytest.fixture(scope="module")
def verifier(issuer: DemoIssuer) -> TokenVerifier:
    return TokenVerifier(StaticKeys(issuer.jwks()), issuer=issuer.issuer, audience=issuer.audience)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], sign: Any = None) -> str:
    """A token built byte by byte, for algorithms PyJWT will not produce."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = sign(signing_input.encode()) if sign else b""
    return f"{signing_input}.{_b64(signature)}"


def good_claims(issuer: DemoIssuer) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": "dr-a",
        "iat": now,
        "exp": now + 600,
        "role": "R8000",
        "org": "F84001",
        "scope": "user/*.read",
    }


def test_a_good_token_gives_a_principal(issuer: DemoIssuer, verifier: TokenVerifier) -> None:
    token = issuer.mint(
        subject="dr-a", role="R8000", organisation="F84001", scope="user/Observation.read"
    )
    principal = verifier.verify(token)
    assert (principal.subject, principal.role, principal.organisation) == (
        "dr-a",
        "R8000",
        "F84001",
    )
    assert parse_scopes("user/Observation.read") == principal.scopes


def _faults(issuer: DemoIssuer) -> dict[str, str]:
    other = DemoIssuer(kid=issuer.kid)  # same key id, different key: a forgery
    public_pem = issuer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = good_claims(issuer)
    rs512 = jwt.encode(claims, issuer.private_key, algorithm="RS512", headers={"kid": issuer.kid})
    ps256 = jwt.encode(claims, issuer.private_key, algorithm="PS256", headers={"kid": issuer.kid})
    return {
        "forged": other.mint(subject="dr-a", role="R8000", organisation="F84001"),
        "expired": issuer.mint(subject="dr-a", role="R8000", organisation="F84001", lifetime=-120),
        "wrong audience": issuer.mint(
            subject="dr-a", role="R8000", organisation="F84001", aud="https://elsewhere"
        ),
        "wrong issuer": issuer.mint(
            subject="dr-a", role="R8000", organisation="F84001", iss="https://evil.invalid"
        ),
        "alg none": handmade({"alg": "none", "typ": "JWT"}, claims),
        "alg none, kid": handmade({"alg": "none", "kid": issuer.kid}, claims),
        "HS256 with the public key": handmade(
            {"alg": "HS256", "kid": issuer.kid},
            claims,
            lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
        ),
        "RS512": rs512,
        "PS256": ps256,
        "unknown key id": handmade({"alg": "RS256", "kid": "nope"}, claims),
        "tampered payload": _tamper(
            issuer.mint(subject="dr-a", role="R8000", organisation="F84001")
        ),
        "garbage": "not.a.token",
        "empty": "",
        "no role": handmade_valid(issuer, {k: v for k, v in claims.items() if k != "role"}),
        "unknown role": handmade_valid(issuer, claims | {"role": "R9999"}),
        "staff without organisation": handmade_valid(
            issuer, {k: v for k, v in claims.items() if k != "org"}
        ),
        "no expiry": handmade_valid(issuer, {k: v for k, v in claims.items() if k != "exp"}),
        "citizen with user scope": handmade_valid(
            issuer, claims | {"role": "citizen", "patient": "9990000018"}
        ),
        "patient scope without patient": handmade_valid(
            issuer, claims | {"scope": "patient/*.read"}
        ),
        "not yet valid": handmade_valid(issuer, claims | {"nbf": int(time.time()) + 3600}),
    }


def handmade_valid(issuer: DemoIssuer, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, issuer.private_key, algorithm="RS256", headers={"kid": issuer.kid})


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "R0001"
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


FAULTS = [
    "forged", "expired", "wrong audience", "wrong issuer", "alg none", "alg none, kid",
    "HS256 with the public key", "RS512", "PS256", "unknown key id", "tampered payload",
    "garbage", "empty", "no role", "unknown role", "staff without organisation", "no expiry",
    "citizen with user scope", "patient scope without patient", "not yet valid",
]  # fmt: skip


@pytest.fixture(scope="module")
def faults(issuer: DemoIssuer) -> dict[str, str]:
    return _faults(issuer)


@pytest.mark.parametrize("fault", FAULTS)
def test_bad_tokens_are_refused(
    fault: str, faults: dict[str, str], verifier: TokenVerifier
) -> None:
    token = faults[fault]
    with pytest.raises(TokenError) as refused:
        verifier.verify(token)
    assert refused.value.status == 401


def test_key_sets_with_weak_or_private_keys_are_refused(issuer: DemoIssuer) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    weak_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(weak.public_key(), as_dict=True)
    with pytest.raises(ValueError, match="2048"):
        StaticKeys({"keys": [weak_jwk]})
    private_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(issuer.private_key, as_dict=True)
    with pytest.raises(ValueError, match="private"):
        StaticKeys({"keys": [private_jwk]})
    # Keys for other algorithms are ignored rather than trusted.
    hmac_jwk = {"kty": "oct", "k": _b64(b"x" * 32), "kid": "h"}
    assert StaticKeys({"keys": [hmac_jwk]})._keys == {}


@pytest.fixture
def jwks_server(issuer: DemoIssuer) -> Iterator[tuple[str, list[int]]]:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits = [0]
    body = json.dumps(issuer.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits[0] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", hits
    server.shutdown()
    thread.join()


def test_keys_from_a_jwks_url_are_fetched_once_and_cached(
    issuer: DemoIssuer, jwks_server: tuple[str, list[int]]
) -> None:
    url, hits = jwks_server
    verifier = TokenVerifier(JwksUrlKeys(url), issuer=issuer.issuer, audience=issuer.audience)
    for _ in range(3):
        verifier.verify(issuer.mint(subject="dr-a", role="R8000", organisation="F84001"))
    assert hits[0] == 1
    with pytest.raises(TokenError):
        verifier.verify(DemoIssuer().mint(subject="x", role="R8000", organisation="F84001"))


def test_unreachable_jwks_url_refuses_tokens(issuer: DemoIssuer) -> None:
    verifier = TokenVerifier(
        JwksUrlKeys("http://127.0.0.1:9/jwks.json"), issuer=issuer.issuer, audience=issuer.audience
    )
    with pytest.raises(TokenError, match="unavailable"):
        verifier.verify(issuer.mint(subject="dr-a", role="R8000", organisation="F84001"))


@pytest.mark.parametrize(
    ("scope", "resource_type", "action", "expected"),
    [
        ("user/Observation.read", "Observation", "read", True),
        ("user/Observation.read", "Observation", "search", True),
        ("user/Observation.read", "Condition", "read", False),
        ("user/*.read", "Condition", "read", True),
        ("patient/*.read", "Condition", "search", True),
        ("user/Observation.rs", "Observation", "search", True),
        ("user/Observation.s", "Observation", "read", False),
        ("user/Observation.write", "Observation", "read", False),
        ("user/Observation.*", "Observation", "read", True),
        ("openid profile launch", "Observation", "read", False),
        ("user/Observation.readwrite", "Observation", "read", False),
        ("admin/*.read", "Observation", "read", False),
    ],
)
def test_scopes(scope: str, resource_type: str, action: str, expected: bool) -> None:
    scopes = parse_scopes(scope)
    assert any(s.permits(resource_type, action) for s in scopes) is expected


def _principal(issuer: DemoIssuer, verifier: TokenVerifier, **kwargs: Any) -> Any:
    return verifier.verify(issuer.mint(**kwargs))


def test_policy_is_default_deny_and_role_based(issuer: DemoIssuer, verifier: TokenVerifier) -> None:
    policy = AccessPolicy.default()
    assert policy.allows("R8000", "Observation", "read", "relationship")
    assert policy.allows("R8000", "Observation", "read", "break-glass")
    assert not policy.allows("R8000", "Observation", "read", "none")
    assert policy.allows("R8009", "Patient", "read", "none")
    assert not policy.allows("R8009", "Observation", "read", "relationship")
    assert not policy.allows("R8004", "Observation", "break-glass", "any")
    assert policy.allows("R0001", "AuditEvent", "read", "none")
    assert not policy.allows("R0001", "Condition", "read", "relationship")
    assert not policy.allows("R9999", "Patient", "read", "relationship")
    assert not policy.allows("citizen", "Observation", "read", "none")
    assert policy.allows("citizen", "Observation", "read", "self")

    gp = _principal(issuer, verifier, subject="dr-a", role="R8000", organisation="F84001")
    assert decide(
        gp, "Condition", "read", basis="relationship", patient_nhs_number="9990000018"
    ).allowed
    refused = decide(gp, "Condition", "read", basis="none", patient_nhs_number="9990000018")
    assert not refused.allowed and "relationship" in refused.reason


def test_patient_scoped_tokens_are_bound_to_their_patient(
    issuer: DemoIssuer, verifier: TokenVerifier
) -> None:
    citizen = _principal(
        issuer,
        verifier,
        subject="nhs-login-1",
        role="citizen",
        scope="patient/*.read",
        patient="9990000018",
    )
    assert decide(
        citizen, "Observation", "read", basis="self", patient_nhs_number="9990000018"
    ).allowed
    other = decide(citizen, "Observation", "read", basis="self", patient_nhs_number="9990000026")
    assert not other.allowed and "another patient" in other.reason


def test_legitimate_relationships() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    past, future = now - timedelta(days=30), now + timedelta(days=30)
    issuer = DemoIssuer()
    verifier = TokenVerifier(
        StaticKeys(issuer.jwks()), issuer=issuer.issuer, audience=issuer.audience
    )
    gp = verifier.verify(issuer.mint(subject="dr-a", role="R8000", organisation="F84001"))
    facts = [
        RelationshipFact("referral", "RAL01", None, past, None),
        RelationshipFact("gp", "F84001", None, past, None),
    ]
    assert legitimate_relationship(gp, facts, now) == "gp"
    ended = [RelationshipFact("gp", "F84001", None, past - timedelta(days=300), past)]
    assert legitimate_relationship(gp, ended, now) is None
    not_yet = [RelationshipFact("encounter", "F84001", None, future, None)]
    assert legitimate_relationship(gp, not_yet, now) is None
    team = [RelationshipFact("care-team", "RAL01", "dr-a", past, future)]
    assert legitimate_relationship(gp, team, now) == "care-team"
    someone_else = [RelationshipFact("care-team", "F84001", "dr-z", past, future)]
    assert legitimate_relationship(gp, someone_else, now) is None


def test_a_remembered_token_still_expires(
    issuer: DemoIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(
        StaticKeys(issuer.jwks()), issuer=issuer.issuer, audience=issuer.audience
    )
    token = issuer.mint(subject="dr-a", role="R8000", organisation="F84001", lifetime=60)
    assert verifier.verify(token).subject == "dr-a"
    assert verifier.verify(token).subject == "dr-a"  # from memory
    later = time.time() + 3600
    monkeypatch.setattr("healthycity.exchange.access.policy.time.time", lambda: later)
    with pytest.raises(TokenError, match="expired"):
        verifier.verify(token)
