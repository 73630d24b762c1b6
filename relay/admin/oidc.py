"""Sign-in through an OpenID Connect provider: authorization code with PKCE, a checked ID token, roles from
the groups claim."""

from __future__ import annotations

import base64
import hmac
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from relay.admin.access import CONSOLE, Console, public, set_cookie
from relay.admin.principal import Principal
from relay.admin.settings import OidcSettings
from relay.admin.signin import anonymous, establish, refuse, too_many

ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
TIMEOUT = aiohttp.ClientTimeout(total=15)


class OidcFailure(Exception):
    """The provider's answer cannot sign anyone in; `reason` is a short code for the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def redirect_uri(console: Console) -> str:
    return f"{console.public_url}/admin/oidc/callback"


async def _json(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        async with http.request(method, url, timeout=TIMEOUT, **kwargs) as resp:
            if resp.status != 200:
                raise OidcFailure(f"provider_http_{resp.status}")
            found = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        raise OidcFailure("provider_unreachable") from None
    if not isinstance(found, dict):
        raise OidcFailure("provider_malformed")
    return found


async def discover(console: Console, cfg: OidcSettings) -> dict[str, Any]:
    """The provider's metadata, checked to name the configured issuer."""
    meta = await _json(console.http, "GET", f"{cfg.issuer}/.well-known/openid-configuration")
    if str(meta.get("issuer", "")).rstrip("/") != cfg.issuer:
        raise OidcFailure("issuer_mismatch")
    return meta


@public
async def start(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    cfg = console.settings.oidc
    assert cfg is not None, "routes exist only with admin.oidc"
    if await too_many(request, "oidc"):
        return await refuse(request, "oidc", "throttled", "Too many attempts: wait a minute and try again.", 429)
    try:
        meta = await discover(console, cfg)
    except OidcFailure as exc:
        return await refuse(request, "oidc", exc.reason, "The identity provider cannot be reached.", 502)
    sid, session, fresh = await anonymous(request)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    flow = {"oidc_state": state, "oidc_nonce": nonce, "oidc_verifier": verifier}
    await console.sessions.update(sid, replace(session, flow=flow))
    uri = prepare_grant_uri(
        str(meta["authorization_endpoint"]),
        cfg.client_id,
        "code",
        redirect_uri(console),
        " ".join(cfg.scopes),
        state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    response = web.Response(status=302, headers={"Location": uri})
    if fresh:
        set_cookie(response, console, sid)
    return response


def _client_auth(cfg: OidcSettings) -> dict[str, str]:
    """client_secret_basic (RFC 6749 section 2.3.1: each part form-encoded first), when the client has a secret."""
    if cfg.client_secret is None:
        return {}
    pair = f"{quote(cfg.client_id, safe='')}:{quote(cfg.client_secret.reveal(), safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


async def _principal(console: Console, cfg: OidcSettings, code: str, flow: dict[str, str]) -> Principal:
    meta = await discover(console, cfg)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri(console),
        "code_verifier": flow["oidc_verifier"],
        "client_id": cfg.client_id,
    }
    tokens = await _json(console.http, "POST", str(meta["token_endpoint"]), data=form, headers=_client_auth(cfg))
    keys = KeySet.import_key_set(await _json(console.http, "GET", str(meta["jwks_uri"])))  # type: ignore[arg-type]
    try:
        token = jwt.decode(str(tokens.get("id_token", "")), keys, algorithms=ALGORITHMS)
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": cfg.issuer},
            aud={"essential": True, "value": cfg.client_id},
            nonce={"essential": True, "value": flow["oidc_nonce"]},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError):
        raise OidcFailure("id_token_invalid") from None
    claims = dict(token.claims)
    if "userinfo_endpoint" in meta and "access_token" in tokens:
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        info = await _json(console.http, "GET", str(meta["userinfo_endpoint"]), headers=bearer)
        if info.get("sub") != claims["sub"]:
            raise OidcFailure("userinfo_subject_mismatch")
        claims = {**info, **claims}
    groups = claims.get(cfg.groups_claim) or []
    role = console.settings.roles.role_of([str(g) for g in groups] if isinstance(groups, list) else [str(groups)])
    if role is None:
        raise OidcFailure("no_role")
    return Principal(str(claims["sub"]), str(claims.get(cfg.name_claim) or claims["sub"]), role, "oidc")


@public
async def callback(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    cfg = console.settings.oidc
    assert cfg is not None, "routes exist only with admin.oidc"
    _, session, _ = await anonymous(request)
    flow = session.flow
    state, code = request.query.get("state", ""), request.query.get("code", "")
    expected = flow.get("oidc_state", "")
    if not expected or not hmac.compare_digest(state.encode(), expected.encode()):
        return await refuse(request, "oidc", "state_mismatch", "That sign-in link expired: start again.", 400)
    if "error" in request.query or not code:
        return await refuse(request, "oidc", "provider_refused", "The identity provider did not sign you in.")
    try:
        who = await _principal(console, cfg, code, flow)
    except OidcFailure as exc:
        message = "Your account has no role in this console." if exc.reason == "no_role" else "Sign-in failed."
        return await refuse(request, "oidc", exc.reason, message, 403 if exc.reason == "no_role" else 401)
    return await establish(request, who)


def add_routes(app: web.Application) -> None:
    """The two steps of the OpenID Connect sign-in."""
    app.router.add_get("/oidc/start", start, allow_head=False)
    app.router.add_get("/oidc/callback", callback, allow_head=False)
