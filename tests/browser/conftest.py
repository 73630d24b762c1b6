"""Fixtures for browser tests: a real relay on a free port and Debian's headless Chromium via Playwright."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
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


@pytest.fixture
async def open_page(browser: Browser) -> AsyncIterator[PageFactory]:
    """Open a URL in a fresh browser context (its own storage); fails on page or console errors.

    HTTP errors with a status in `allow` are expected (the pages handle them) and not counted.
    """
    errors: list[str] = []

    async def open_(url: str, allow: tuple[int, ...] = (401,)) -> Page:
        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error" and not any(f"status of {code}" in msg.text for code in allow):
                errors.append(msg.text)

        context = await browser.new_context(viewport={"width": 1100, "height": 720}, locale="en-US")
        page = await context.new_page()
        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(url)
        return page

    yield open_
    for context in browser.contexts:
        await context.close()
    assert errors == []
