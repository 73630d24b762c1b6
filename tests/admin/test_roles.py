"""Every connector page and action by role: a viewer reads and is refused every change, server-side;
nobody signed in gets 401; a change without the CSRF token is refused."""

from __future__ import annotations

import pytest

from tests.admin.conftest import StartWorkspace, Workspace

READS = ["/admin/connectors", "/admin/routes", "/admin/config"]
ADMIN_READS = [
    "/admin/connectors/new",
    "/admin/connectors/new/telegram",
    "/admin/connectors/crm",
    "/admin/connectors/tg/setup",
]
CHANGES = [
    "/admin/connectors/new/webhook",
    "/admin/connectors/crm",
    "/admin/connectors/crm/test",
    "/admin/connectors/crm/disable",
    "/admin/connectors/crm/enable",
    "/admin/routes",
    "/admin/config/rollback",
    "/admin/connectors/tg/setup",
    "/admin/connectors/tg/connect",
]


async def _with_telegram(start_workspace: StartWorkspace) -> Workspace:
    ws = await start_workspace()
    form = {"name": "tg", "token": "123456789:AAE-test-token-abcdefghijklmnopqrstuvwxyz", "route_to": "crm"}
    form |= {"secret_token": "fake-secret-token_0123456789", "api_base_url": f"{ws.fake_url}/bot"}
    assert (await ws.post("/admin/connectors/new/telegram", **form)).status == 303
    return ws


def test_every_console_route_is_in_this_matrix() -> None:
    from relay.admin.console_pages import console_pages

    class Stub:
        base = "/admin"

    defs = console_pages(Stub())  # type: ignore[arg-type]
    paths = {(d.method, d.path) for d in defs}
    covered = {"/connectors", "/routes", "/config", "/connectors/new", "/connectors/new/{type}", "/connectors/{name}"}
    covered |= {"/connectors/{name}/test", "/connectors/{name}/disable", "/connectors/{name}/enable"}
    covered |= {"/config/rollback", "/connectors/{name}/setup", "/connectors/{name}/connect"}
    covered |= {"/connectors/{name}/oauth/callback"}
    assert {p for _, p in paths} == covered


@pytest.mark.parametrize("path", CHANGES)
async def test_viewer_is_refused_every_change(start_workspace: StartWorkspace, path: str) -> None:
    ws = await _with_telegram(start_workspace)
    before = ws.path.read_text()
    resp = await ws.post(path, role="viewer", url="http://127.0.0.1:9/x", secret="s" * 20, **{"route.tg": "crm"})
    assert resp.status == 403
    assert (await ws.post(path, role="")).status == 401
    assert ws.path.read_text() == before and "crm" in ws.console.relay.connectors


@pytest.mark.parametrize("path", ADMIN_READS)
async def test_viewer_cannot_open_the_forms(start_workspace: StartWorkspace, path: str) -> None:
    ws = await _with_telegram(start_workspace)
    assert (await ws.get(path, role="viewer")).status == 403
    assert (await ws.get(path, role="admin")).status == 200


@pytest.mark.parametrize("path", READS)
async def test_viewer_reads_status(start_workspace: StartWorkspace, path: str) -> None:
    ws = await _with_telegram(start_workspace)
    viewer = await ws.get(path, role="viewer")
    html = await viewer.text()
    assert viewer.status == 200 and html.count("csrf_token") == html.count('action="/admin/logout"') == 1
    assert (await ws.get(path, role="")).status == 401
    assert (await ws.get(path, role="owner")).status == 200


async def test_a_change_without_the_csrf_token_is_refused(start_workspace: StartWorkspace) -> None:
    ws = await _with_telegram(start_workspace)
    resp = await ws.client.post("/admin/connectors/tg/disable", data={}, headers={"X-Test-Role": "admin"})
    assert resp.status == 403 and "CSRF" in await resp.text()
    wrong = {"csrf_token": "forged"}
    resp = await ws.client.post("/admin/connectors/tg/disable", data=wrong, headers={"X-Test-Role": "admin"})
    assert resp.status == 403 and "tg" in ws.console.relay.connectors


async def test_admin_can_do_each_change(start_workspace: StartWorkspace) -> None:
    ws = await _with_telegram(start_workspace)
    assert (await ws.post("/admin/connectors/crm/test")).status == 303
    assert (await ws.post("/admin/connectors/tg/setup")).status == 303
    assert (await ws.post("/admin/routes", **{"route.tg": "crm"})).status == 303
    assert (await ws.post("/admin/connectors/tg/disable")).status == 303
    assert (await ws.post("/admin/connectors/tg/enable")).status == 303
    assert (await ws.post("/admin/config/rollback")).status == 303
    actions = [e["action"] for e in ws.audit.recorded]
    assert actions[1:] == [
        "connector.test",
        "connector.register",
        "routes.edit",
        "connector.disable",
        "connector.enable",
        "config.rollback",
    ]
    assert all(e["who"] == "user-admin" for e in ws.audit.recorded)


async def test_an_oauth_callback_without_the_state_the_console_issued_is_refused(
    start_workspace: StartWorkspace,
) -> None:
    ws = await _with_telegram(start_workspace)
    for role in ("admin", "viewer", ""):
        resp = await ws.get("/admin/connectors/tg/oauth/callback?code=c&state=guessed", role=role)
        assert resp.status == 400
    assert ws.audit.recorded[-1]["action"] == "connector.add"
