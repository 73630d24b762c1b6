"""Every console route, with every role and with no session: the server refuses whatever the role does not
allow. Routes are read from the app's router, so a new page is walked as soon as it exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp import web

from relay.admin.access import EXEMPT_ATTR, PUBLIC, ROLE_ATTR
from relay.admin.principal import CSRF_HEADER, Role
from tests.support.admin_console import ConsoleFactory, admin_workspace, idp_metadata

ROLES: list[Role | None] = [None, Role.VIEWER, Role.ADMIN, Role.OWNER]  # None: signed out


def console_routes(app: web.Application, handlers: bool = False) -> list[tuple[str, str, Any]]:
    """(method, path, declared role or the handler) of every route of the /admin sub-application."""
    found = []
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource) and resource.canonical == "/admin":
            for route in resource._app.router.routes():
                info = route.resource.get_info() if route.resource is not None else {}
                path = str(info.get("path") or info.get("formatter"))
                found.append(
                    (route.method, path, route.handler if handlers else getattr(route.handler, ROLE_ATTR, None))
                )
    return found


async def test_every_route_declares_a_role_and_refuses_lower_ones(
    start_console: ConsoleFactory, tmp_path: Path
) -> None:
    oidc = {"issuer": "http://127.0.0.1:9", "client_id": "relay"}
    saml = {"idp_metadata": str(idp_metadata(tmp_path / "idp.xml"))}
    console = await start_console(admin_workspace(tmp_path, oidc=oidc, saml=saml), pages=True)
    routes = console_routes(console.client.app)
    assert {("GET", "/admin/"), ("GET", "/admin/allowlist"), ("POST", "/admin/allowlist")} <= {
        (m, p) for m, p, _ in routes
    }
    assert {("GET", "/admin/oidc/callback"), ("POST", "/admin/saml/acs")} <= {(m, p) for m, p, _ in routes}
    undeclared = [(m, p) for m, p, role in routes if role is None]
    assert undeclared == [], "mark each console handler with access.needs(Role.X) or access.public"
    for method, path, needed in routes:
        for role in ROLES:
            sid, csrf = await console.session_for(role)
            console.client.session.cookie_jar.update_cookies({console.cookie: sid})
            headers = {CSRF_HEADER: csrf}
            url = re.sub(r"\{\w+\}", "sample", path)
            resp = await console.client.request(method, url, headers=headers, allow_redirects=False)
            await resp.read()
            allowed = needed == PUBLIC or (role is not None and role >= needed)
            where = f"{method} {path} as {role.name if role else 'nobody'}"
            assert resp.status != 500, where
            if allowed:
                assert resp.status not in (401, 403), where
            elif role is None:
                assert resp.status == (303 if method == "GET" else 401), where
                if method == "GET":
                    assert resp.headers["Location"] == "/admin/login", where
            else:
                assert resp.status == 403, where


async def test_every_change_needs_the_csrf_token(start_console: ConsoleFactory, tmp_path: Path) -> None:
    saml = {"idp_metadata": str(idp_metadata(tmp_path / "idp.xml"))}
    console = await start_console(admin_workspace(tmp_path, saml=saml))
    sid, csrf = await console.session_for(Role.OWNER)
    console.client.session.cookie_jar.update_cookies({console.cookie: sid})
    routes = [(m, p, h) for m, p, h in console_routes(console.client.app, handlers=True) if m not in ("GET", "HEAD")]
    exempt = [p for _, p, h in routes if getattr(h, EXEMPT_ATTR, False)]
    assert exempt == ["/admin/saml/acs"], "only the SAML assertion endpoint (checked by its signature) is exempt"
    posts = [p for _, p, h in routes if p not in exempt]
    assert "/admin/allowlist" in posts
    for path in posts:
        for headers in ({}, {CSRF_HEADER: "wrong" + csrf}):
            resp = await console.client.post(path, headers=headers, allow_redirects=False)
            assert resp.status == 403, path
            assert "CSRF" in await resp.text()


async def test_console_headers(start_console: ConsoleFactory) -> None:
    console = await start_console()
    resp = await console.client.get("/admin/login")
    assert resp.status == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"
    cookie = resp.cookies["relay_admin"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/admin"
