"""The workspace allowlist in the connector pages: the add chooser, the add / edit forms and applying a
configuration refuse a type it leaves out, whether the config file pins it or the owner saved it (live)."""

from __future__ import annotations

import tomllib
from html import unescape
from pathlib import Path

import pytest

from relay.admin.principal import CSRF_HEADER, Role
from relay.configstore import Document, FileStore, load
from relay.errors import ConfigError
from tests.admin.conftest import MASTER, StartWorkspace, base_config
from tests.connectors.telegram.fake_api import SECRET, TOKEN
from tests.support.admin_console import ConsoleFactory, admin_workspace

TG = {"name": "tg", "token": TOKEN, "secret_token": SECRET, "route_to": "crm"}


async def test_types_left_out_by_workspace_allowed_types_are_refused(start_workspace: StartWorkspace) -> None:
    workspace = {**base_config("http://127.0.0.1:9/crm")["workspace"], "allowed_types": ["webhook", "webchat"]}
    ws = await start_workspace({"workspace": workspace})
    chooser = await (await ws.get("/admin/connectors/new")).text()
    assert "/admin/connectors/new/webchat" in chooser and "/admin/connectors/new/telegram" not in chooser
    assert "not allowed in this workspace (workspace.allowed_types)" in chooser
    form = await ws.get("/admin/connectors/new/telegram")
    text = unescape(await form.text())
    assert form.status == 403 and 'name="token"' not in text
    assert "connector type 'telegram' is not allowed in this workspace (workspace.allowed_types allows" in text
    before = ws.path.read_bytes()
    resp = await ws.post("/admin/connectors/new/telegram", **TG, api_base_url=f"{ws.fake_url}/bot")
    assert resp.status == 403 and "/admin/allowlist" in await resp.text()
    assert "tg" not in ws.console.relay.connectors and ws.path.read_bytes() == before
    assert ws.audit.recorded[-1]["action"] == "connector.add" and ws.audit.recorded[-1]["outcome"] == "not allowed"
    doc = await ws.console.store.read()
    raw = doc.edited()
    raw["connectors"]["tg"] = {"type": "telegram", "token": TOKEN, "api_base_url": f"{ws.fake_url}/bot"}
    _, problems = await ws.console.apply(Document(raw, doc.secrets, doc.version))
    assert any(p.startswith("connectors.tg.type: connector type 'telegram' is not allowed") for p in problems)
    assert "tg" not in ws.console.relay.connectors and ws.path.read_bytes() == before


async def test_the_owners_saved_allowlist_applies_at_once(
    start_console: ConsoleFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAY_DATA_DIR", raising=False)
    console = await start_console(admin_workspace(tmp_path), pages=True)
    sid, csrf = await console.session_for(Role.OWNER)
    console.client.session.cookie_jar.update_cookies({console.cookie: sid})
    headers = {CSRF_HEADER: csrf}
    assert (await console.client.get("/admin/connectors/new/telegram")).status == 200
    assert "/admin/connectors/new/telegram" in await (await console.client.get("/admin/connectors/new")).text()
    saved = await console.client.post(
        "/admin/allowlist", data={"type": ["inbox", "webchat", "webhook"]}, headers=headers, allow_redirects=False
    )
    assert saved.status == 303
    chooser = await (await console.client.get("/admin/connectors/new")).text()
    assert "/admin/connectors/new/webhook" in chooser and "/admin/connectors/new/telegram" not in chooser
    form = await console.client.get("/admin/connectors/new/telegram")
    assert form.status == 403
    assert "(allowed-types.json allows inbox, webchat, webhook)" in await form.text()
    resp = await console.client.post("/admin/connectors/new/telegram", data=TG, headers=headers)
    assert resp.status == 403 and "tg" not in console.relay.connectors
    assert "tg" not in tomllib.loads((tmp_path / "relay.toml").read_text()).get("connectors", {})
    edit = await console.client.get("/admin/connectors/webchat")
    assert edit.status == 200
    store = FileStore(tmp_path / "relay.toml")
    raw = (await store.read()).edited()
    raw["connectors"]["tg"] = {"type": "telegram", "token": TOKEN}
    with pytest.raises(ConfigError) as caught:
        load(store, Document(raw))
    assert any("connectors.tg.type: connector type 'telegram' is not allowed" in p for p in caught.value.problems)


async def test_the_allowlist_page_counts_connectors_added_in_the_console(
    start_console: ConsoleFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAY_DATA_DIR", raising=False)
    monkeypatch.setenv("RELAY_MASTER_KEY", MASTER)
    console = await start_console(admin_workspace(tmp_path), pages=True)
    sid, csrf = await console.session_for(Role.OWNER)
    console.client.session.cookie_jar.update_cookies({console.cookie: sid})
    headers = {CSRF_HEADER: csrf}
    crm = {"name": "crm2", "url": "https://crm.example.com/in", "secret": "crm-secret-0123456789abcdef"}
    added = await console.client.post("/admin/connectors/new/webhook", data=crm, headers=headers)
    assert added.status == 200 and "crm2" in console.relay.connectors, await added.text()
    refused = await console.client.post("/admin/allowlist", data={"type": ["inbox", "webchat"]}, headers=headers)
    assert refused.status == 409 and "crm2 (webhook)" in await refused.text()
    assert not (tmp_path / "relay-data" / "allowed-types.json").exists()
