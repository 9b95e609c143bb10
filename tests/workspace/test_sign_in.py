"""Signing in and out over real HTTP: cookies, CSRF on the sign-in form, OIDC."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from tests.conftest import LiveServer
from tests.workspace.helpers import PASSWORD, add_people, app_for, url_of

# The test server runs with HEALTHYCITY_ENVIRONMENT=test, so cookies are Secure and
# httpx's cookie jar will not send them over plain HTTP; these tests send them by hand.


def _anonymous(client: httpx.Client) -> tuple[str, str]:
    page = client.get("/workspace/sign-in")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return token.group(1), page.cookies["hc_csrf"]


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> tuple[str, str]:
    """Sign in through the form; returns (session cookie value, the session's CSRF token)."""
    token, cookie = _anonymous(client)
    response = client.post(
        "/workspace/sign-in",
        data={"email": email, "password": password, "csrf_token": token, "next": "/workspace"},
        headers={"Cookie": f"hc_csrf={cookie}"},
    )
    assert response.status_code == 303, response.text[:500]
    session = re.search(r"hc_session=([^;]+)", response.headers["set-cookie"])
    assert session is not None
    home = client.get("/workspace", headers={"Cookie": f"hc_session={session.group(1)}"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf is not None
    return session.group(1), csrf.group(1)


def test_sign_in_sets_a_secure_opaque_session_cookie(engine: Engine) -> None:
    add_people(engine)
    with LiveServer(app_for(url_of(engine))) as server, httpx.Client(base_url=server.url) as client:
        token, cookie = _anonymous(client)
        response = client.post(
            "/workspace/sign-in",
            data={
                "email": "viewer@example.org",
                "password": PASSWORD,
                "csrf_token": token,
                "next": "https://evil.example/",
            },
            headers={"Cookie": f"hc_csrf={cookie}"},
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/workspace"  # never off-site
        set_cookie = response.headers["set-cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie
        assert "Secure" in set_cookie
        value = re.search(r"hc_session=([^;]+)", set_cookie).group(1)  # type: ignore[union-attr]
        from healthycity.core.auth_models import WebSession

        with transaction(engine) as session:
            rows = session.query(WebSession).all()
            assert len(rows) == 1 and rows[0].id != value  # only the digest is stored
        home = client.get("/workspace", headers={"Cookie": f"hc_session={value}"})
        assert home.status_code == 200 and "Viewer" in home.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
        out = client.post(
            "/workspace/sign-out",
            data={"csrf_token": csrf},
            headers={"Cookie": f"hc_session={value}"},
        )
        assert out.status_code == 303
        again = client.get("/workspace", headers={"Cookie": f"hc_session={value}"})
        assert again.status_code == 303


def test_wrong_password_and_forged_form_are_refused(engine: Engine) -> None:
    add_people(engine)
    with LiveServer(app_for(url_of(engine))) as server, httpx.Client(base_url=server.url) as client:
        token, cookie = _anonymous(client)
        wrong = client.post(
            "/workspace/sign-in",
            data={"email": "viewer@example.org", "password": "not it at all", "csrf_token": token},
            headers={"Cookie": f"hc_csrf={cookie}"},
        )
        assert wrong.status_code == 200
        assert "Enter a correct email address and password" in wrong.text
        assert "There is a problem" in wrong.text and "<title>Error: " in wrong.text
        forged = client.post(
            "/workspace/sign-in",
            data={"email": "viewer@example.org", "password": PASSWORD, "csrf_token": "forged.x"},
            headers={"Cookie": "hc_csrf=forged.x"},
        )
        assert forged.status_code == 403 and "hc_session" not in forged.headers.get(
            "set-cookie", ""
        )


def test_oidc_is_off_by_default(engine: Engine) -> None:
    with LiveServer(app_for(url_of(engine))) as server:
        assert httpx.get(f"{server.url}/workspace/oidc/start").status_code == 404
        assert "organisation account" not in httpx.get(f"{server.url}/workspace/sign-in").text


def _fake_provider(client_id: str) -> tuple[Any, dict[str, Any]]:
    """A minimal OpenID provider: discovery, keys, an authorize step that signs the test
    user straight in, and a token endpoint issuing an RS256 ID token."""
    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
    state: dict[str, Any] = {"issuer": "", "codes": {}, "email": "assessor@example.org"}
    provider = FastAPI()

    @provider.get("/.well-known/openid-configuration")
    def discovery() -> JSONResponse:
        issuer = state["issuer"]
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
            }
        )

    @provider.get("/jwks")
    def jwks() -> JSONResponse:
        return JSONResponse({"keys": [key.as_dict(private=False)]})

    @provider.get("/authorize")
    def authorize(request: Request) -> RedirectResponse:
        params = request.query_params
        assert params["client_id"] == client_id and params["code_challenge_method"] == "S256"
        state["codes"]["abc"] = params["nonce"]
        query = urlencode({"code": "abc", "state": params["state"]})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    @provider.post("/token")
    def token(code: str = Form(), code_verifier: str = Form()) -> JSONResponse:
        assert code_verifier
        now = int(time.time())
        claims = {
            "iss": state["issuer"],
            "aud": client_id,
            "sub": "subject-" + state["email"],
            "email": state["email"],
            "email_verified": True,
            "nonce": state["codes"][code],
            "iat": now,
            "exp": now + 300,
        }
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
        return JSONResponse({"access_token": "x", "token_type": "Bearer", "id_token": id_token})

    return provider, state


def test_oidc_sign_in_with_a_provider(engine: Engine) -> None:
    from healthycity.core.auth import AuthSettings

    add_people(engine)
    provider, state = _fake_provider("healthycity")
    with LiveServer(provider) as idp:
        state["issuer"] = idp.url
        app = app_for(url_of(engine))
        app.state.auth_settings = AuthSettings(
            oidc_issuer=idp.url, oidc_client_id="healthycity", oidc_client_secret="s" * 32
        )
        with LiveServer(app) as server, httpx.Client() as client:
            sign_in_page = client.get(f"{server.url}/workspace/sign-in")
            assert "organisation account" in sign_in_page.text
            start = client.get(f"{server.url}/workspace/oidc/start?next=/workspace/proposals")
            assert start.status_code == 303
            flow = re.search(r"hc_oidc=([^;]+)", start.headers["set-cookie"]).group(1)  # type: ignore[union-attr]
            at_idp = client.get(start.headers["location"])
            assert at_idp.status_code == 302
            back = client.get(at_idp.headers["location"], headers={"Cookie": f"hc_oidc={flow}"})
            assert back.status_code == 303, back.text[:300]
            assert back.headers["location"] == "/workspace/proposals"
            cookie = re.search(r"hc_session=([^;]+)", back.headers["set-cookie"]).group(1)  # type: ignore[union-attr]
            home = client.get(f"{server.url}/workspace", headers={"Cookie": f"hc_session={cookie}"})
            assert "Assessor" in home.text
            # A replayed callback (no flow cookie) is refused.
            replay = client.get(at_idp.headers["location"])
            assert replay.status_code == 403
            # Someone without an account is refused: accounts are not created by default.
            state["email"] = "stranger@example.org"
            state["codes"].clear()
            start = client.get(f"{server.url}/workspace/oidc/start")
            flow = re.search(r"hc_oidc=([^;]+)", start.headers["set-cookie"]).group(1)  # type: ignore[union-attr]
            at_idp = client.get(start.headers["location"])
            refused = client.get(at_idp.headers["location"], headers={"Cookie": f"hc_oidc={flow}"})
            assert refused.status_code == 403
            assert "no workspace account for stranger@example.org" in refused.text
