"""The connector pages: generated forms, write-only secrets, field errors, add / edit / disable / test, and
the config file written atomically with the previous version kept for rollback."""

from __future__ import annotations

import logging
import stat
import tomllib
from typing import Any

import pytest

from relay.configstore import Document
from relay.secret import load_secrets
from tests.admin.conftest import MASTER, StartWorkspace
from tests.connectors.telegram.fake_api import SECRET, TOKEN


def tg_form(api: str, **extra: str) -> dict[str, str]:
    form = {"name": "tg", "token": TOKEN, "secret_token": SECRET, "api_base_url": f"{api}/bot", "route_to": "crm"}
    return {**form, "accept_private": "on", **extra}


async def test_form_is_generated_from_the_schema(start_workspace: StartWorkspace) -> None:
    ws = await start_workspace()
    resp = await ws.get("/admin/connectors/new/telegram")
    html = await resp.text()
    assert resp.status == 200
    assert 'type="password" id="f-token"' in html and "(not set)" in html
    assert '<select id="f-mode" name="mode"' in html and '<option value="polling">' in html
    assert 'type="checkbox" id="f-accept_private" name="accept_private" checked' in html
    assert 'id="f-timeout" name="timeout" value="15.0" inputmode="decimal"' in html
    assert 'name="csrf_token"' in html
    whatsapp = await (await ws.get("/admin/connectors/new/whatsapp")).text()
    assert 'type="password"' in whatsapp and "csrf_token" in whatsapp


async def test_add_telegram_routes_it_and_a_message_arrives_without_restart(
    start_workspace: StartWorkspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ws = await start_workspace()
    resp = await ws.post("/admin/connectors/new/telegram", **tg_form(ws.fake_url))
    assert resp.status == 303, await resp.text()
    assert "tg" in ws.console.relay.connectors and ws.fake.webhook["url"].endswith("/hooks/tg/")
    update: dict[str, Any] = {
        "update_id": 1,
        "message": {
            "message_id": 7,
            "date": 1736935201,
            "text": "hello there",
            "chat": {"id": 42, "type": "private", "first_name": "Ana"},
            "from": {"id": 42, "is_bot": False, "first_name": "Ana"},
        },
    }
    resp = await ws.client.post("/hooks/tg/", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert resp.status == 200 and (await resp.json())["status"] == "delivered"
    assert len(ws.sink.received) == 1
    ws.sink.mode = "400"
    update["update_id"], update["message"]["message_id"] = 2, 8
    resp = await ws.client.post("/hooks/tg/", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    listing = await (await ws.get("/admin/connectors", role="viewer")).text()
    assert "delivered 1" in listing and "last failure: platform_rejected at " in listing
    assert "hello there" not in listing
    text = ws.path.read_text()
    raw = tomllib.loads(text)
    assert raw["connectors"]["tg"]["token"] == "${TG_TOKEN}" and TOKEN not in text and SECRET not in text
    assert raw["routes"] == [{"from": ["tg"], "to": "crm"}]
    secrets_file = ws.path.parent / "relay-secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert load_secrets(secrets_file, MASTER) == {"TG_TOKEN": TOKEN, "TG_SECRET_TOKEN": SECRET}
    assert [e["action"] for e in ws.audit.recorded] == ["connector.add"]
    assert {"connectors.tg.token", "routes.tg"} <= set(ws.audit.recorded[0]["keys"])


async def test_field_errors_show_pydantics_message_and_never_the_secret(start_workspace: StartWorkspace) -> None:
    ws = await start_workspace()
    canary = "not-a-bot-token-CANARY-7f3a9"
    resp = await ws.post("/admin/connectors/new/telegram", **tg_form(ws.fake_url, token=canary, timeout="soon"))
    html = await resp.text()
    assert resp.status == 422
    assert 'id="f-token-err">Value error, does not look like a bot token' in html
    assert 'id="f-timeout-err">Input should be a valid number' in html
    assert canary not in html and "tg" not in ws.console.relay.connectors
    assert canary not in ws.path.read_text() and not (ws.path.parent / "relay-secrets.json").exists()
    assert ws.audit.recorded[-1]["outcome"] == "invalid"


async def test_edit_keeps_a_blank_secret_swaps_and_rollback_restores(start_workspace: StartWorkspace) -> None:
    ws = await start_workspace()
    before = ws.console.relay.connectors["crm"]
    resp = await ws.post(
        "/admin/connectors/crm", url=str(ws.sink.url if hasattr(ws.sink, "url") else ""), secret="", timeout="3"
    )
    assert resp.status in (303, 422)
    old_url = tomllib.loads(ws.path.read_text())["connectors"]["crm"]["url"]
    resp = await ws.post("/admin/connectors/crm", url=old_url, secret="", timeout="3")
    assert resp.status == 303, await resp.text()
    after = ws.console.relay.connectors["crm"]
    assert after is not before and after.config.timeout == 3.0 and after.config.secret == before.config.secret
    assert ws.path.with_name("relay.toml.prev").exists()
    page = await (await ws.get("/admin/config")).text()
    assert "Roll back to the previous version" in page
    assert (await ws.post("/admin/config/rollback")).status == 303
    assert ws.console.relay.connectors["crm"].config.timeout == 10.0
    assert "timeout" not in tomllib.loads(ws.path.read_text())["connectors"]["crm"]
    assert ws.audit.recorded[-1]["action"] == "config.rollback"


async def test_disable_stops_the_connector_and_enable_starts_it(
    start_workspace: StartWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = await start_workspace()
    await ws.post("/admin/connectors/new/telegram", **tg_form(ws.fake_url, mode="polling", secret_token=""))
    conn = ws.console.relay.connectors["tg"]
    assert conn.ctx.tasks, "polling runs a receive loop"
    closed = []
    close = conn.close

    async def spy() -> None:
        closed.append(conn.name)
        await close()

    monkeypatch.setattr(conn, "close", spy)
    resp = await ws.post("/admin/connectors/tg/disable")
    assert resp.status == 303
    assert "tg" not in ws.console.relay.connectors and closed == ["tg"] and not conn.ctx.tasks
    raw = tomllib.loads(ws.path.read_text())
    assert "tg" in raw["disabled"] and raw["routes"] == []
    assert (await ws.client.post("/hooks/tg/", json={})).status == 404
    listing = await (await ws.get("/admin/connectors")).text()
    assert "disabled" in listing
    assert (await ws.post("/admin/connectors/tg/enable")).status == 303
    assert ws.console.relay.started["tg"] is True


async def test_test_connection_runs_relay_checks_check(start_workspace: StartWorkspace) -> None:
    ws = await start_workspace()
    ws.sink.mode = "400"
    assert (await ws.post("/admin/connectors/crm/test")).status == 303
    listing = await (await ws.get("/admin/connectors", role="viewer")).text()
    assert "platform_rejected" in listing or "FAIL" in listing or 'class="bad"' in listing
    ws.sink.mode = "ok"
    await ws.post("/admin/connectors/crm/test")
    listing = await (await ws.get("/admin/connectors", role="viewer")).text()
    assert '<span class="ok">ok</span>' in listing and "Edit" not in listing


async def test_a_change_that_does_not_validate_as_a_whole_is_refused(start_workspace: StartWorkspace) -> None:
    ws = await start_workspace()
    resp = await ws.post("/admin/routes", **{"route.crm": "crm"})
    assert resp.status == 400
    await ws.post("/admin/connectors/new/telegram", **tg_form(ws.fake_url))
    ws.fake.fail("/bot*/setWebhook", status=500, times=None)
    resp = await ws.post("/admin/connectors/new/telegram", **tg_form(ws.fake_url, name="tg2"))
    assert resp.status == 422 and "did not start" in await resp.text()
    assert "tg2" not in tomllib.loads(ws.path.read_text())["connectors"]


async def test_a_change_made_from_an_older_version_is_refused(start_workspace: StartWorkspace) -> None:
    ws = await start_workspace()
    stale = await ws.console.store.read()
    url = stale.raw["connectors"]["crm"]["url"]
    assert (await ws.post("/admin/connectors/crm", url=url, secret="", timeout="3")).status == 303
    raw = stale.edited()
    raw["connectors"]["crm"]["timeout"] = 9.0
    changes, problems = await ws.console.apply(Document(raw, stale.secrets, stale.version))
    assert changes is None and "changed meanwhile" in problems[0]
    assert tomllib.loads(ws.path.read_text())["connectors"]["crm"]["timeout"] == 3.0
