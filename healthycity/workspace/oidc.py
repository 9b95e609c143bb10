"""Sign-in with an organisation's identity provider (OpenID Connect, authorisation code
flow with PKCE); off unless issuer, client id and secret are set.

Authlib's protocol functions build the authorisation request and the token request and
joserfc (Authlib's JOSE library) checks the ID token; httpx carries the calls (Authlib's
own httpx integration is deprecated).

The state, nonce and PKCE verifier travel in a short-lived cookie signed with the
secret key, so no server-side store is needed before sign-in. The ID token's signature
(from the provider's published keys), issuer, audience, expiry and nonce are all
checked. A person signs in to an account that already exists (matched by subject, or
by verified email the first time); creating accounts on first sign-in is a setting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from healthycity.core import auth
from healthycity.core.audit import Actor, acting_as
from healthycity.core.auth import AuthSettings
from healthycity.core.auth_models import VIEWER, Account
from healthycity.core.errors import NotFound
from healthycity.core.web.workspace import (
    auth_settings,
    safe_next,
    see_other,
    sessions,
    set_session_cookie,
    settings_of,
    ws_render,
)

router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "hc_oidc"
FLOW_SECONDS = 600


class OidcError(Exception):
    """The provider's answer could not be trusted or matched to an account."""


def _sign(secret: str, payload: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload, sort_keys=True).encode()).decode()
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def _unsign(secret: str, value: str | None) -> dict[str, Any]:
    if not value or "." not in value or len(value) > 4000:
        raise OidcError("the sign-in attempt has expired; start again")
    body, mac = value.rsplit(".", 1)
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected):
        raise OidcError("the sign-in attempt has expired; start again")
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body.encode()))
    if payload.get("expires", 0) < time.time():
        raise OidcError("the sign-in attempt has expired; start again")
    return payload


def _s256(verifier: str) -> str:
    """The PKCE S256 code challenge (RFC 7636): base64url of the verifier's SHA-256."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _metadata(request: Request, config: AuthSettings) -> dict[str, Any]:
    cached = getattr(request.app.state, "oidc_metadata", None)
    if cached is not None:
        return dict(cached)
    issuer = (config.oidc_issuer or "").rstrip("/")
    response = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
    response.raise_for_status()
    metadata: dict[str, Any] = response.json()
    if metadata.get("issuer", "").rstrip("/") != issuer:
        raise OidcError("the identity provider's metadata names a different issuer")
    request.app.state.oidc_metadata = metadata
    return metadata


def _enabled(request: Request) -> AuthSettings:
    config = auth_settings(request)
    if not config.oidc_enabled:
        raise NotFound("organisation sign-in is not set up")
    return config


@router.get("/workspace/oidc/start", name="oidc_start")
def start(request: Request) -> Response:
    config = _enabled(request)
    metadata = _metadata(request, config)
    redirect_uri = str(request.url_for("oidc_callback"))
    from authlib.oauth2.rfc6749.parameters import prepare_grant_uri

    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(24)
    state = secrets.token_urlsafe(24)
    url = prepare_grant_uri(
        metadata["authorization_endpoint"],
        config.oidc_client_id or "",
        "code",
        redirect_uri=redirect_uri,
        scope=config.oidc_scopes,
        state=state,
        nonce=nonce,
        code_challenge=_s256(verifier),
        code_challenge_method="S256",
    )
    flow = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": safe_next(request.query_params.get("next")),
        "expires": time.time() + FLOW_SECONDS,
    }
    response = see_other(url)
    response.set_cookie(
        FLOW_COOKIE,
        _sign(settings_of(request).secret_key, flow),
        max_age=FLOW_SECONDS,
        httponly=True,
        samesite="lax",
        secure=settings_of(request).environment != "development",
        path="/workspace/oidc",
    )
    return response


def _claims(request: Request, config: AuthSettings, flow: dict[str, Any]) -> dict[str, Any]:
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    metadata = _metadata(request, config)
    if request.query_params.get("error"):
        raise OidcError(f"the identity provider refused: {request.query_params['error']}")
    state = request.query_params.get("state", "")
    if not state or not hmac.compare_digest(state, flow["state"]):
        raise OidcError("the sign-in attempt did not match; start again")
    from authlib.oauth2.rfc6749.parameters import prepare_token_request

    body = prepare_token_request(
        "authorization_code",
        code=request.query_params.get("code", ""),
        redirect_uri=str(request.url_for("oidc_callback")),
        code_verifier=flow["verifier"],
    )
    answer = httpx.post(
        metadata["token_endpoint"],
        content=body,
        auth=(config.oidc_client_id or "", config.oidc_client_secret or ""),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        timeout=10,
    )
    answer.raise_for_status()
    id_token = answer.json().get("id_token")
    if not id_token:
        raise OidcError("the identity provider sent no ID token")
    keys = httpx.get(metadata["jwks_uri"], timeout=10)
    keys.raise_for_status()
    try:
        decoded = jwt.decode(id_token, KeySet.import_key_set(keys.json()))
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": metadata["issuer"]},
            aud={"essential": True, "value": config.oidc_client_id or ""},
            nonce={"essential": True, "value": flow["nonce"]},
            sub={"essential": True},
            exp={"essential": True},
        )
        registry.validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise OidcError(f"the ID token could not be trusted ({type(exc).__name__})") from None
    return dict(decoded.claims)


def _account_for(session: Any, config: AuthSettings, claims: dict[str, Any]) -> Account:
    subject = str(claims["sub"])
    account = session.scalars(select(Account).where(Account.oidc_subject == subject)).first()
    if account is not None:
        return account  # type: ignore[no-any-return]
    email = str(claims.get("email") or "")
    if not email or claims.get("email_verified") is False:
        raise OidcError("the identity provider did not give a verified email address")
    account = auth.find_account(session, email)
    if account is None:
        if not config.oidc_create_accounts:
            raise OidcError(
                f"there is no workspace account for {email}; ask an administrator to add one"
            )
        account = auth.create_account(
            session, email, VIEWER, display_name=str(claims.get("name") or email)
        )
    if account.oidc_subject not in (None, subject):
        raise OidcError("this account is linked to a different organisation identity")
    account.oidc_subject = subject
    return account


@router.get("/workspace/oidc/callback", name="oidc_callback")
def callback(request: Request) -> Response:
    config = _enabled(request)
    secret = settings_of(request).secret_key
    try:
        flow = _unsign(secret, request.cookies.get(FLOW_COOKIE))
        claims = _claims(request, config, flow)
        with sessions(request)() as session, session.begin():
            with acting_as(session, Actor(f"system: OIDC sign-in ({claims.get('email', '')})")):
                account = _account_for(session, config, claims)
                if not account.active:
                    raise OidcError("this account has been switched off")
            token, _row = auth.start_session(
                session, account, hours=config.session_hours, via="oidc"
            )
    except (OidcError, httpx.HTTPError) as exc:
        return ws_render(
            request,
            "workspace/error.html",
            "Sign-in did not work",
            None,
            status_code=403,
            message=str(exc),
        )
    response = see_other(flow["next"])
    set_session_cookie(request, response, token)
    response.delete_cookie(FLOW_COOKIE, path="/workspace/oidc")
    return response
