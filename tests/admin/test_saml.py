"""SAML 2.0 sign-in against a real identity provider (SimpleSAMLphp from Debian, served by php -S)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp
import pytest

from tests.peers.common import PeerUnavailable
from tests.peers.saml import SimpleSamlPhp
from tests.support.admin_console import ConsoleFactory, admin_workspace, two_ports

USERS = {
    "olivia": ("olivia-pass", {"uid": ["olivia"], "cn": ["Olivia Owner"], "groups": ["owners"]}),
    "ada": ("ada-pass", {"uid": ["ada"], "cn": ["Ada Admin"], "groups": ["admins"]}),
    "nora": ("nora-pass", {"uid": ["nora"], "cn": ["No Role"], "groups": ["outsiders"]}),
}
ACTION = re.compile(r'<form[^>]*action="([^"]+)"', re.S)
HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.S)


@pytest.fixture
async def idp(tmp_path: Path) -> AsyncIterator[tuple[SimpleSamlPhp, int]]:
    relay_port, idp_port = two_ports()
    sp = f"http://127.0.0.1:{relay_port}/admin/saml"
    peer = SimpleSamlPhp(tmp_path / "idp", idp_port, f"{sp}/metadata", f"{sp}/acs", USERS)
    try:
        await peer.start()
    except PeerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield peer, relay_port
    finally:
        await peer.stop()


def saml_workspace(base: Path, metadata: Path, port: int) -> dict[str, Any]:
    raw = admin_workspace(base, saml={"idp_metadata": str(metadata)})
    raw["server"] = {"port": port}
    return raw


def form_of(page: str) -> tuple[str, dict[str, str]]:
    action = ACTION.search(page)
    assert action is not None, page[:800]
    return unescape(action.group(1)), {k: unescape(v) for k, v in HIDDEN.findall(page)}


async def idp_login(http: aiohttp.ClientSession, start: str, user: str) -> aiohttp.ClientResponse:
    """Sign in on SimpleSAMLphp's login form and post its answer back, as a browser would."""
    login = await http.get(start)
    action, fields = form_of(await login.text())
    answer = await http.post(
        urljoin(str(login.url), action), data={**fields, "username": user, "password": USERS[user][0]}
    )
    action, fields = form_of(await answer.text())
    assert "SAMLResponse" in fields
    return await http.post(action, data=fields)


async def test_saml_sign_in_needs_a_signed_assertion_and_maps_groups(
    start_console: ConsoleFactory, idp: tuple[SimpleSamlPhp, int], tmp_path: Path
) -> None:
    peer, port = idp
    console = await start_console(saml_workspace(tmp_path, peer.metadata_file, port), port=port)
    start = str(console.client.make_url("/admin/saml/start"))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        home = await idp_login(http, start, "ada")
        assert home.status == 200 and "Ada Admin (admin)" in await home.text()
        assert (await http.get(urljoin(start, "/admin/admins"), allow_redirects=False)).status == 403
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        refused = await idp_login(http, start, "nora")
        assert refused.status == 403
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = await http.get(start)
        action, fields = form_of(await login.text())
        answer = await http.post(
            urljoin(str(login.url), action), data={**fields, "username": "olivia", "password": "olivia-pass"}
        )
        action, fields = form_of(await answer.text())
        first = await http.post(action, data=fields)
        assert "Olivia Owner (owner)" in await first.text()
        replay = await http.post(action, data=fields, allow_redirects=False)
        assert replay.status == 400, "a response is accepted once"
        forged = dict(fields, SAMLResponse=fields["SAMLResponse"][:-40] + "A" * 40)
        assert (await http.post(action, data=forged, allow_redirects=False)).status == 400
    entries = [json.loads(line) for line in console.audit_lines()]
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("signin.saml", "ok"),
        ("signin.saml", "no_role"),
        ("signin.saml", "ok"),
        ("signin.saml", "unsolicited"),
        ("signin.saml", "unsolicited"),
    ]
    assert entries[0]["subject"] == "ada" and entries[0]["role"] == "admin"


async def test_an_unsigned_or_tampered_assertion_is_refused(
    start_console: ConsoleFactory, idp: tuple[SimpleSamlPhp, int], tmp_path: Path
) -> None:
    import base64

    peer, port = idp
    console = await start_console(saml_workspace(tmp_path, peer.metadata_file, port), port=port)
    start = str(console.client.make_url("/admin/saml/start"))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = await http.get(start)
        action, fields = form_of(await login.text())
        answer = await http.post(
            urljoin(str(login.url), action), data={**fields, "username": "ada", "password": "ada-pass"}
        )
        action, fields = form_of(await answer.text())
        xml = base64.b64decode(fields["SAMLResponse"]).decode()
        assert "Ada Admin" in xml
        tampered = base64.b64encode(xml.replace("admins", "owners").encode()).decode()
        resp = await http.post(action, data=dict(fields, SAMLResponse=tampered), allow_redirects=False)
        assert resp.status == 401
    assert json.loads(console.audit_lines()[-1])["outcome"] == "assertion_invalid"
