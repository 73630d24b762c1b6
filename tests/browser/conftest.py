"""Fixtures for browser tests: a real relay on a free port and Debian's headless Chromium via Playwright."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from relay import config
from relay.app import create_app
from relay.sandbox import sandbox_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ServeRelay = Callable[..., Awaitable[str]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def serve_relay(aiohttp_server: Any) -> ServeRelay:
    """Start a relay over HTTP for a sandbox workspace (optionally with connector overrides); returns its URL."""

    async def serve(**connectors: dict[str, Any]) -> str:
        port = free_port()
        raw = sandbox_config(port=port)
        for name, extra in connectors.items():
            raw["connectors"][name].update(extra)
        app = await create_app(config.parse(raw, "<sandbox>"))
        server = await aiohttp_server(app, port=port)
        return str(server.make_url("")).rstrip("/")

    return serve


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


PageFactory = Callable[..., Awaitable[Page]]


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core's axe.min.js (installed into the peers cache when missing); FAILS (never skips) without it."""
    from tests.peers.axe import AxeUnavailable, install

    try:
        return install(log=None)
    except AxeUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


async def axe_violations(page: Page, script: Path) -> list[str]:
    """Every axe-core violation on the page as it is now: rule id, impact and the elements, one per line."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.add_script_tag(path=str(script))
    found: list[dict[str, Any]] = await page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations.map("
        "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}))",
        AXE_TAGS,
    )
    return [f"{v['id']} ({v['impact']}): {node}" for v in found for node in v["nodes"]]


@pytest.fixture
async def open_page(browser: Browser) -> AsyncIterator[PageFactory]:
    """Open a URL in a fresh browser context (its own storage); fails on page or console errors.

    HTTP errors with a status in `allow` are expected (the pages handle them) and not counted; `options`
    go to the context (a phone's viewport, or bypass_csp to inject the accessibility checker).
    """
    errors: list[str] = []

    async def open_(url: str, allow: tuple[int, ...] = (401,), **options: Any) -> Page:
        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error" and not any(f"status of {code}" in msg.text for code in allow):
                errors.append(msg.text)

        settings: dict[str, Any] = {"viewport": {"width": 1100, "height": 720}, "locale": "en-US", **options}
        context = await browser.new_context(**settings)
        page = await context.new_page()
        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(url)
        return page

    yield open_
    for context in browser.contexts:
        await context.close()
    assert errors == []
