"""Cross-site request forgery defence for every form and every cookie-authenticated write.

Two kinds of token, one check:
- Signed in: the token is bound to the server-side session (a random value stored with
  it). Forms carry it in a hidden ``csrf_token`` field; scripts using the session cookie
  send it as ``X-CSRF-Token``.
- Not signed in (the sign-in form itself): a double-submit token. A random value is set in
  an HttpOnly cookie and echoed in the form; the cookie value is HMAC-signed with the
  secret key, so a sibling site that can plant cookies still cannot forge a pair.
Bearer-token API calls carry no ambient credential and need no token.
SameSite=Lax cookies are a second line, not the defence.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

FIELD = "csrf_token"
HEADER = "x-csrf-token"
ANON_COOKIE = "hc_csrf"


class CsrfError(PermissionError):
    """The request's CSRF token is missing or wrong."""


def _sign(secret_key: str, value: str) -> str:
    return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


def new_anonymous_token(secret_key: str) -> str:
    """A fresh signed value for the anonymous cookie (and the form field)."""
    value = secrets.token_urlsafe(24)
    return f"{value}.{_sign(secret_key, value)}"


def anonymous_token_valid(secret_key: str, cookie: str | None) -> bool:
    if not cookie or cookie.count(".") != 1 or len(cookie) > 200:
        return False
    value, signature = cookie.split(".")
    return hmac.compare_digest(signature, _sign(secret_key, value))


def verify(expected: str | None, submitted: str | None) -> None:
    """Raise `CsrfError` unless ``submitted`` equals ``expected`` (constant time)."""
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise CsrfError("the form has expired or did not come from this site; try again")


def verify_anonymous(secret_key: str, cookie: str | None, submitted: str | None) -> None:
    if not anonymous_token_valid(secret_key, cookie):
        raise CsrfError("the form has expired or did not come from this site; try again")
    verify(cookie, submitted)
