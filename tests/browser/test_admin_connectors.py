"""The connector pages in Chromium: add a Telegram connector through the generated form on a running relay,
test it, route it to the webhook CRM and send a message through it, with no restart; every page passes
axe-core; the screenshots in docs/admin/ are taken here."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from playwright.async_api import Page, expect

from relay.admin.console import Console
from relay.app import RELAY_KEY, create_app
from relay.configstore import FileStore, load
from tests.admin.conftest import MASTER, ROLE_HEADER, base_config, mount_console
from tests.browser.conftest import PageFactory, axe_violations
from tests.connectors.telegram.fake_api import SECRET, TOKEN, FakeTelegram
from tests.support.crm_sink import CrmSink

pytestmark = pytest.mark.browser

DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "admin"


def shots_dir() -> Path:
    """docs/admin/ when RELAY_SCREENSHOTS=1 (to refresh the docs' pictures), else this test's own temp dir."""
    return DOCS_SHOTS if os.environ.get("RELAY_SCREENSHOTS") == "1" else Path(tempfile.gettempdir())


PHONE = {"viewport": {"width": 390, "height": 800}, "is_mobile": True, "has_touch": True}


async def clean(page: Page, script: Path, state: str) -> None:
    found = await axe_violations(page, script)
    assert found == [], f"{state}:\n" + "\n".join(found)


async def shot(page: Page, name: str) -> None:
    shots_dir().mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shots_dir() / name), full_page=True)


async def test_add_test_route_and_send_through_a_telegram_connector(
    aiohttp_server: Any,
    aiohttp_client: Any,
    open_page: PageFactory,
    axe_script: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RELAY_MASTER_KEY", MASTER)
    sink, fake = CrmSink(), FakeTelegram()
    crm_url = str((await aiohttp_server(sink.app())).make_url("/crm"))
    fake_url = str((await aiohttp_server(fake.app())).make_url("/")).rstrip("/")
    path = tmp_path / "relay.toml"
    path.write_text(tomlkit.dumps(base_config(crm_url)))
    store = FileStore(path)
    app = await create_app(load(store, await store.read()))
    relay = app[RELAY_KEY]
    mount_console(app, Console.of(relay, store))
    server = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    admin: dict[str, Any] = {"extra_http_headers": {ROLE_HEADER: "admin"}, "bypass_csp": True, "allow": (401, 422)}

    page = await open_page(f"{base}/admin/connectors", **admin)
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
    await expect(page.get_by_role("alert").or_(page.get_by_role("listitem").first)).to_contain_text("no route")
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

    phone = await open_page(f"{base}/admin/connectors/new/telegram", **admin, **PHONE)
    width = await phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390
    await clean(phone, axe_script, "form on a phone")
    await shot(phone, "connector-form-phone.png")
