"""Hostile input at every admin console route, signed out, with a forged cookie and signed in as the owner:
always a 4xx or a redirect, never a 500 or a traceback."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from relay.admin.principal import CSRF_HEADER, Role
from tests.admin.test_routes import console_routes
from tests.support.admin_console import admin_workspace, console_factory, idp_metadata

BODIES: list[tuple[bytes, str]] = [
    (b"", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00garbage", "application/x-www-form-urlencoded"),
    (b"password=" + b"A" * 200_000 + b"&code=12345x", "application/x-www-form-urlencoded"),
    (b"type=%ZZ&type=&csrf_token=%00", "application/x-www-form-urlencoded"),
    (b'{"type": ["telegram"]}', "application/json"),
    (
        b'--x\r\nContent-Disposition: form-data; name="type"\r\n\r\nwebchat\r\n--x--\r\n',
        "multipart/form-data; boundary=x",
    ),
    (b"SAMLResponse=PHhtbD4%3D&RelayState=" + b"r" * 5000, "application/x-www-form-urlencoded"),
]
QUERIES = ["", "?q=" + "%ff" * 50, "?state=x&code=y&error=access_denied", "?t=" + "z" * 3000]


async def test_console_never_fails_on_hostile_input(aiohttp_client: Any, tmp_path: Path) -> None:
    saml = {"idp_metadata": str(idp_metadata(tmp_path / "idp.xml"))}
    oidc = {"issuer": "http://127.0.0.1:9", "client_id": "relay"}
    console = await console_factory(aiohttp_client, tmp_path)(admin_workspace(tmp_path, oidc=oidc, saml=saml))
    sid, csrf = await console.session_for(Role.OWNER)
    cookies: list[tuple[dict[str, str], dict[str, str]]] = [
        ({}, {}),
        ({console.cookie: "forged" * 100}, {CSRF_HEADER: "forged"}),
        ({console.cookie: sid}, {CSRF_HEADER: csrf}),
    ]
    seen = 0
    for method, path, _ in console_routes(console.client.app):
        for jar, headers in cookies:
            console.client.session.cookie_jar.clear()
            console.client.session.cookie_jar.update_cookies(jar)
            for query in QUERIES:
                for body, kind in BODIES if method == "POST" else [(b"", "text/plain")]:
                    resp = await console.client.request(
                        method,
                        path + query,
                        data=body,
                        headers={**headers, "Content-Type": kind},
                        allow_redirects=False,
                    )
                    text = await resp.text(errors="replace")
                    where = f"{method} {path}{query[:20]} {body[:20]!r}"
                    assert resp.status < 500 or resp.status == 502, where
                    assert not re.search(r"Traceback|File \"", text), where
                    seen += 1
    assert seen > 300
