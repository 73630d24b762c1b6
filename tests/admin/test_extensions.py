"""Pages added through build_admin's extensions get the session, the role check, the frame and the nav."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from relay import config
from relay.admin.access import needs
from relay.admin.layout import NavItem, render
from relay.admin.principal import AUDIT, Role, require
from relay.admin.site import Extension
from relay.app import RELAY_KEY, create_app
from relay.state import MemoryStateStore
from tests.admin.test_routes import console_routes
from tests.support.admin_console import Console, admin_workspace


@needs(Role.ADMIN)
async def connectors(request: web.Request) -> web.Response:
    who = require(request, Role.ADMIN)
    await request.app[AUDIT].record("connectors.view", who, request.remote)
    return render(request, "Connectors", "<p>none yet</p>")


async def test_an_extension_page_is_framed_checked_and_listed(aiohttp_client: Any, tmp_path: Path) -> None:
    store = MemoryStateStore()
    extension = Extension(
        [web.get("/connectors", connectors)], [NavItem("Connectors", "/admin/connectors", Role.ADMIN)]
    )
    loaded = config.parse(admin_workspace(tmp_path), "<test>", tmp_path)
    app = await create_app(loaded, store=store, admin_pages=[extension])
    console = Console(await aiohttp_client(app), app[RELAY_KEY], store, tmp_path)
    assert ("GET", "/admin/connectors", Role.ADMIN) in console_routes(app)
    for role, status in ((Role.VIEWER, 403), (Role.ADMIN, 200)):
        sid, _ = await console.session_for(role)
        console.client.session.cookie_jar.update_cookies({console.cookie: sid})
        resp = await console.client.get("/admin/connectors", allow_redirects=False)
        assert resp.status == status
        home = await (await console.client.get("/admin/")).text()
        assert ('href="/admin/connectors"' in home) is (role >= Role.ADMIN)
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert '"action":"connectors.view"' in console.audit_lines()[-1]
