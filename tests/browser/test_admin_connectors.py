"""The connector pages in Chromium on a relay built as `relay run` builds it: the break-glass owner signs in
through the login form, adds a Telegram connector through the generated form, tests it, routes it to the
webhook CRM and sends a message through it, with no restart; the audit log page shows every step and no
secret; every page passes axe-core; the screenshots in docs/admin/ are taken here."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from playwright.async_api import Page, expect

from relay.app import RELAY_KEY, create_app
from relay.configstore import FileStore, load
from relay.configwire import StoreWiring
from tests.admin.conftest import MASTER, base_config
from tests.browser.conftest import PageFactory, axe_violations
from tests.connectors.telegram.fake_api import SECRET, TOKEN, FakeTelegram
from tests.support.admin_console import HASHED, OWNER_PASSWORD, code_now
from tests.support.crm_sink import CrmSink

pytestmark = pytest.mark.browser

DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "admin"


def shots_dir() -> Path:
    """docs/admin/ when RELAY_SCREENSHOTS=1 (to refresh the docs' pictures), else this test's own temp dir."""
    return DOCS_SHOTS if os.environ.get("RELAY_SCREENSHOTS") == "1" else Path(tempfile.gettempdir())


async def clean(page: Page, script: Path, state: str) -> None:
    found = await axe_violations(page, script)
    assert found == [], f"{state}:\n" + "\n".join(found)


async def shot(page: Page, name: str) -> None:
    shots_dir().mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shots_dir() / name), full_page=True)


async def test_sign_in_add_test_route_and_send_through_a_telegram_connector(
    aiohttp_server: Any,
    aiohttp_client: Any,
    open_page: PageFactory,
    axe_script: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELAY_MASTER_KEY", MASTER)
    monkeypatch.delenv("RELAY_DATA_DIR", raising=False)
    monkeypatch.delenv("RELAY_SECRETS_FILE", raising=False)
    sink, fake = CrmSink(), FakeTelegram()
    crm_url = str((await aiohttp_server(sink.app())).make_url("/crm"))
    fake_url = str((await aiohttp_server(fake.app())).make_url("/")).rstrip("/")
    path = tmp_path / "relay.toml"
    path.write_text(tomlkit.dumps({**base_config(crm_url), "admin": {"local_owner": HASHED}}))
    store = FileStore(path)
    wiring = StoreWiring(store)
    app = await create_app(load(store, await store.read()), console=wiring.pages)
    wiring.follow(app)
    relay = app[RELAY_KEY]
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")

    page = await open_page(f"{base}/admin/connectors", allow=(401, 403, 422), bypass_csp=True)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Password").fill(OWNER_PASSWORD)
    await page.get_by_label("Code from the authenticator app").fill(code_now())
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Status")).to_be_visible()
    await page.get_by_role("link", name="Connectors").click()
    await expect(page.get_by_role("link", name="Audit log")).to_be_visible()
    await clean(page, axe_script, "connector list")
    await page.get_by_role("link", name="Add a connector").click()
    await page.get_by_role("link", name="telegram").click()
    await clean(page, axe_script, "generated telegram form")
    await page.get_by_label("Instance name").fill("tg")
    await page.get_by_label("Token (required)").fill("12345:not-a-token")
    await page.get_by_label("Secret Token").fill(SECRET)
    await page.get_by_label("Api Base Url").fill(f"{fake_url}/bot")
    await page.get_by_label("Route its messages to CRM").select_option("crm")
    await page.get_by_role("button", name="Save and apply").click()
    await expect(page.locator("#f-token-err")).to_contain_text("does not look like a bot token")
    await clean(page, axe_script, "form with a field error")
    await shot(page, "connector-form-error.png")
    assert "12345:not-a-token" not in await page.content()

    await page.get_by_label("Token (required)").fill(TOKEN)
    await page.get_by_label("Secret Token").fill(SECRET)
    await page.get_by_role("button", name="Save and apply").click()
    await expect(page.get_by_role("status")).to_contain_text("no restart was needed")
    assert "tg" in relay.connectors and fake.webhook["url"].endswith("/hooks/tg/")
    await page.get_by_role("button", name="Test connection tg").click()
    await expect(page.get_by_role("row", name="tg")).to_contain_text("ready")

    client = await aiohttp_client(server)
    update = {
        "update_id": 5,
        "message": {
            "message_id": 9,
            "date": 1736935201,
            "text": "hi from the browser test",
            "chat": {"id": 77, "type": "private", "first_name": "Ana"},
            "from": {"id": 77, "is_bot": False, "first_name": "Ana"},
        },
    }
    resp = await client.post("/hooks/tg/", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert resp.status == 200 and len(sink.received) == 1
    await page.reload()
    row = page.get_by_role("row", name="tg")
    await expect(row).to_contain_text("delivered 1")
    await expect(row).to_contain_text("ok")
    assert "hi from the browser test" not in await page.content()
    await clean(page, axe_script, "list with a tested connector")
    await shot(page, "connectors.png")

    await page.get_by_role("link", name="Routes").click()
    await expect(page.get_by_label("tg")).to_have_value("crm")
    await page.get_by_label("tg").select_option("")
    await page.get_by_role("button", name="Apply routes").click()
    await expect(page.get_by_role("main")).to_contain_text("no route")
    await page.get_by_role("link", name="Routes").click()
    await page.get_by_label("tg").select_option("crm")
    await page.get_by_role("button", name="Apply routes").click()
    await expect(page.get_by_role("status")).to_contain_text("Routes applied")
    await expect(page.get_by_label("tg")).to_have_value("crm")
    await clean(page, axe_script, "routes editor")
    await shot(page, "routes.png")
    await page.get_by_role("link", name="Connectors").click()
    await page.get_by_role("link", name="Edit crm").click()
    await page.get_by_label("Timeout").fill("7")
    await page.get_by_role("button", name="Save and apply").click()
    await expect(page.get_by_role("status")).to_contain_text("no restart was needed")
    await page.get_by_role("link", name="Configuration").click()
    await clean(page, axe_script, "configuration page")
    await shot(page, "configuration.png")
    await page.get_by_role("button", name="Roll back to the previous version").click()
    await expect(page.get_by_role("status")).to_contain_text("previous configuration is running again")

    await page.get_by_role("link", name="Audit log").click()
    for action in ("signin.local", "connector.add", "connector.test", "routes.edit", "config.rollback"):
        await expect(page.get_by_role("cell", name=action, exact=True).first).to_be_visible()
    await clean(page, axe_script, "audit log after the walk")
    audit_file = (tmp_path / "relay-data" / "admin-audit.jsonl").read_text()
    actions = [json.loads(line)["action"] for line in audit_file.splitlines()]
    assert actions[0] == "signin.local"
    assert {"connector.add", "connector.test", "routes.edit", "connector.edit", "config.rollback"} <= set(actions)
    for secret in (TOKEN, SECRET, OWNER_PASSWORD):
        assert secret not in await page.content() and secret not in audit_file and secret not in path.read_text()

    await page.goto(f"{base}/admin/connectors/new/telegram")
    await page.set_viewport_size({"width": 390, "height": 800})
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390
    await clean(page, axe_script, "form on a phone")
    await shot(page, "connector-form-phone.png")
