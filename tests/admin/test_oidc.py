"""OpenID Connect sign-in against a real provider (npm oidc-provider): code + PKCE, roles from groups."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import aiohttp
import pytest

from tests.peers.common import PeerUnavailable
from tests.peers.oidc import OidcProvider, install
from tests.support.admin_console import ConsoleFactory, admin_workspace, two_ports

CLIENT_ID = "relay-console"
CLIENT_SECRET = "oidc-client-secret-5Zq8rT2vLw"
ACCOUNTS = {
    "olivia": {"name": "Olivia Owner", "groups": ["owners"]},
    "vic": {"name": "Vic Viewer", "groups": ["staff"]},
    "nobody": {"name": "No Role", "groups": ["outsiders"]},
}
FORM = re.compile(r'<form[^>]*action="([^"]+)"', re.S)


@pytest.fixture
async def provider() -> AsyncIterator[tuple[OidcProvider, int]]:
    try:
        install()
    except PeerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    relay_port, idp_port = two_ports()
    peer = OidcProvider(
        idp_port, CLIENT_ID, CLIENT_SECRET, f"http://127.0.0.1:{relay_port}/admin/oidc/callback", ACCOUNTS
    )
    await peer.start()
    try:
        yield peer, relay_port
    finally:
        await peer.stop()


def oidc_workspace(base: Path, issuer: str, port: int) -> dict[str, Any]:
    raw = admin_workspace(base, oidc={"issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    raw["server"] = {"port": port}
    return raw


async def provider_login(http: aiohttp.ClientSession, start: str, login: str) -> aiohttp.ClientResponse:
    """Follow the provider's development login and consent screens; return the relay's callback answer."""
    resp = await http.get(start)
    for _ in range(4):
        page = await resp.text()
        if urlsplit(str(resp.url)).path.startswith("/admin"):
            return resp
        action = FORM.search(page)
        assert action is not None, page[:500]
        at_login = 'name="login"' in page
        fields = {"prompt": "login", "login": login, "password": "any"} if at_login else {"prompt": "consent"}
        resp = await http.post(urljoin(str(resp.url), unescape(action.group(1))), data=fields)
    raise AssertionError("the provider never sent the browser back")


async def test_oidc_sign_in_maps_groups_to_roles(
    start_console: ConsoleFactory, provider: tuple[OidcProvider, int], tmp_path: Path
) -> None:
    peer, port = provider
    console = await start_console(oidc_workspace(tmp_path, peer.issuer, port), port=port)
    base = str(console.client.make_url("/admin/"))
    login = await console.client.get("/admin/login")
    assert "/admin/oidc/start" in await login.text()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        resp = await provider_login(http, urljoin(base, "/admin/oidc/start"), "olivia")
        assert resp.status == 200 and "Olivia Owner (owner)" in await resp.text()
        assert (await http.get(urljoin(base, "/admin/allowlist"))).status == 200
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        resp = await provider_login(http, urljoin(base, "/admin/oidc/start"), "vic")
        assert "Vic Viewer (viewer)" in await resp.text()
        assert (await http.get(urljoin(base, "/admin/allowlist"), allow_redirects=False)).status == 403
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        resp = await provider_login(http, urljoin(base, "/admin/oidc/start"), "nobody")
        assert resp.status == 403 and "no role" in await resp.text()
    entries = [json.loads(line) for line in console.audit_lines()]
    assert [(e["action"], e["outcome"], e["role"]) for e in entries] == [
        ("signin.oidc", "ok", "owner"),
        ("signin.oidc", "ok", "viewer"),
        ("signin.oidc", "no_role", None),
    ]
    assert entries[0]["subject"] == "olivia" and entries[0]["method"] == "oidc"
    assert CLIENT_SECRET not in "".join(console.audit_lines())


async def test_a_forged_callback_is_refused(
    start_console: ConsoleFactory, provider: tuple[OidcProvider, int], tmp_path: Path
) -> None:
    peer, port = provider
    console = await start_console(oidc_workspace(tmp_path, peer.issuer, port), port=port)
    start = await console.client.get("/admin/oidc/start", allow_redirects=False)
    assert start.status == 302
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    forged = await console.client.get("/admin/oidc/callback", params={"state": "forged", "code": "x"})
    assert forged.status == 400
    wrong_code = await console.client.get("/admin/oidc/callback", params={"state": query["state"][0], "code": "x"})
    assert wrong_code.status == 401
    outcomes = [json.loads(line)["outcome"] for line in console.audit_lines()]
    assert outcomes == ["state_mismatch", "provider_http_400"]
