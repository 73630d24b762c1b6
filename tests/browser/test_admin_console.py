"""The admin console in headless Chromium: each sign-in flow against its real identity provider, every page
checked with axe-core on a phone-sized screen, and the screenshots docs/admin.md shows."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from relay import config
from relay.app import create_app
from tests.browser.conftest import axe_violations, free_port
from tests.peers.oidc import OidcProvider, install
from tests.peers.saml import SimpleSamlPhp
from tests.support.admin_console import OWNER_PASSWORD, admin_workspace, code_now, two_ports

pytestmark = pytest.mark.browser

DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "admin"


def shots_dir() -> Path:
    """docs/admin/ when RELAY_SCREENSHOTS=1 (to refresh the docs' pictures), else this test's own temp dir."""
    return DOCS_SHOTS if os.environ.get("RELAY_SCREENSHOTS") == "1" else Path(tempfile.gettempdir())


Serve = Callable[..., Awaitable[str]]
SECRET = "oidc-secret-7Hq2pLm4"
SECRET = "oidc-secret-7Hq2pLm4"


@pytest.fixture
def serve_console(aiohttp_server: Any, tmp_path: Path) -> Serve:
    """Start a relay with the console on `port` (or a free one); returns its base URL."""

    async def serve(port: int | None = None, **admin: Any) -> str:
        port = port or free_port()
        raw = admin_workspace(tmp_path, **admin)
        raw["server"] = {"port": port}
        app = await create_app(config.parse(raw, "<test>", tmp_path))
        server = await aiohttp_server(app, port=port)
        return str(server.make_url("")).rstrip("/")

    return serve


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="en-US", bypass_csp=True
    )
    try:
        yield context
    finally:
        await context.close()


async def checked(page: Page, script: Path, state: str, shot: str | None = None) -> None:
    """No axe-core violation on the page; optionally a screenshot for the docs."""
    found = await axe_violations(page, script)
    assert found == [], f"{state}:\n" + "\n".join(found)
    if shot is not None:
        shots_dir().mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(shots_dir() / shot), full_page=True)


async def test_break_glass_owner_walks_every_page(
    serve_console: Serve, phone: BrowserContext, axe_script: Path
) -> None:
    base = await serve_console(oidc={"issuer": "http://127.0.0.1:9", "client_id": "relay", "label": "Example SSO"})
    page = await phone.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await page.goto(f"{base}/admin/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await checked(page, axe_script, "sign-in page", "signin.png")
    await page.get_by_label("Password").fill(OWNER_PASSWORD)
    await page.get_by_label("Code from the authenticator app").fill(code_now())
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Status")).to_be_visible()
    await expect(page.get_by_role("cell", name="webchat")).to_be_visible()
    await checked(page, axe_script, "status page", "status.png")
    await page.get_by_role("link", name="Allowlist").click()
    await page.get_by_label("telegram").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_label("telegram")).to_be_checked()
    await checked(page, axe_script, "allowlist page", "allowlist.png")
    await page.get_by_role("link", name="Admins").click()
    await checked(page, axe_script, "admins page", "admins.png")
    await page.get_by_role("link", name="Audit log").click()
    await page.get_by_label("Filter (action, subject, role, address, key)").fill("allowlist")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_role("cell", name="allowlist.set")).to_be_visible()
    await expect(page.get_by_role("cell", name="signin.local")).to_have_count(0)
    await checked(page, axe_script, "audit page", "audit.png")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.goto(f"{base}/admin/audit")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert errors == []


async def test_oidc_sign_in_in_the_browser(serve_console: Serve, phone: BrowserContext, axe_script: Path) -> None:
    install()
    port, idp_port = two_ports()
    accounts = {"vic": {"name": "Vic Viewer", "groups": ["staff"]}}
    peer = OidcProvider(idp_port, "relay", SECRET, f"http://127.0.0.1:{port}/admin/oidc/callback", accounts)
    await peer.start()
    try:
        oidc = {
            "issuer": peer.issuer,
            "client_id": "relay",
            "client_secret": SECRET,
            "label": "Example SSO",
        }
        base = await serve_console(port, oidc=oidc)
        page = await phone.new_page()
        await page.goto(f"{base}/admin/login")
        await page.get_by_role("link", name="Sign in with Example SSO").click()
        await page.locator("input[name=login]").fill("vic")
        await page.locator("input[name=password]").fill("any")
        await page.locator("button[type=submit]").click()
        await page.locator("button[type=submit]").click()
        await expect(page.get_by_text("Vic Viewer (viewer)")).to_be_visible()
        await expect(page.get_by_role("link", name="Allowlist")).to_have_count(0)
        await checked(page, axe_script, "status page for a viewer")
    finally:
        await peer.stop()


async def test_saml_sign_in_in_the_browser(
    serve_console: Serve, phone: BrowserContext, axe_script: Path, tmp_path: Path
) -> None:
    port, idp_port = two_ports()
    sp = f"http://127.0.0.1:{port}/admin/saml"
    users = {"ada": ("ada-pass", {"uid": ["ada"], "cn": ["Ada Admin"], "groups": ["admins"]})}
    peer = SimpleSamlPhp(tmp_path / "idp", idp_port, f"{sp}/metadata", f"{sp}/acs", users)
    await peer.start()
    try:
        base = await serve_console(port, saml={"idp_metadata": str(peer.metadata_file), "label": "Example SAML"})
        page = await phone.new_page()
        await page.goto(f"{base}/admin/login")
        await page.get_by_role("link", name="Sign in with Example SAML").click()
        await page.locator("input[name=username]").fill("ada")
        await page.locator("input[name=password]").fill("ada-pass")
        await page.locator("button[type=submit], input[type=submit]").first.click()
        await expect(page.get_by_text("Ada Admin (admin)")).to_be_visible()
        await page.goto(f"{base}/admin/admins")
        assert "this action needs the owner role" in await page.content()
    finally:
        await peer.stop()
