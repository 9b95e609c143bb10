"""Who may see what: tokens and the role policy, the grounds for access, consent and
sensitivity, and the legitimate relationships derived from the nodes' records.

The public face is the token verifier, the policy decision and the consent session;
:mod:`.grounds` gathers a person's grounds and :mod:`.relationships` keeps the
relationships they rest on.
"""

from healthycity.exchange.access.consent import (
    Candidate,
    ConsentFormatError,
    ConsentSession,
    compile_consent,
    release,
)
from healthycity.exchange.access.policy import (
    AccessDecision,
    AccessPolicy,
    Principal,
    RelationshipFact,
    StaticKeys,
    TokenError,
    TokenVerifier,
    decide,
    legitimate_relationship,
)

__all__ = [
    "AccessDecision",
    "AccessPolicy",
    "Candidate",
    "ConsentFormatError",
    "ConsentSession",
    "Principal",
    "RelationshipFact",
    "StaticKeys",
    "TokenError",
    "TokenVerifier",
    "compile_consent",
    "decide",
    "legitimate_relationship",
    "release",
]
