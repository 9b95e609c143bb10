"""A throwaway token issuer for the demo, the tests and the benchmarks.

Real deployments verify tokens issued by the NHS identity service (CIS2) or a regional
identity provider; the exchange only ever holds public keys. The demo still needs to
*issue* tokens, so this module makes an RSA key pair in memory, publishes the public
half as a JWKS, and mints RS256 tokens. It is never used by the running exchange to
verify anything, and it refuses to write its private key anywhere.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

DEMO_ISSUER = "https://demo-identity.healthycity.invalid"
DEMO_AUDIENCE = "https://exchange.healthycity.invalid"


def _new_key(bits: int = 2048) -> RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@dataclass
class DemoIssuer:
    """Mints RS256 tokens with one in-memory key."""

    issuer: str = DEMO_ISSUER
    audience: str = DEMO_AUDIENCE
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    private_key: RSAPrivateKey = field(default_factory=_new_key, repr=False)

    def jwks(self) -> dict[str, Any]:
        """The public key set a verifier needs (no private material)."""
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        public.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [public]}

    def mint(
        self,
        *,
        subject: str,
        role: str,
        organisation: str | None = None,
        scope: str = "user/*.read",
        patient: str | None = None,
        lifetime: int = 3600,
        **extra: Any,
    ) -> str:
        """A signed token; ``extra`` claims override the defaults (for fault tests)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now - 5,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "role": role,
            "scope": scope,
        }
        if organisation is not None:
            claims["org"] = organisation
        if patient is not None:
            claims["patient"] = patient
        claims.update(extra)
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})
