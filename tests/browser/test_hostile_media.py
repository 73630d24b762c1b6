"""A customer's hostile file clicked in the inbox: it downloads, and its script never runs on the relay's origin."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Download, Page, expect

from relay import config
from relay.app import create_app
from tests.browser.conftest import PageFactory, free_port
from tests.conftest import workspace
from tests.connectors.telegram.helpers import tg_config
from tests.support.file_host import TG_HEADERS, FileHost, document

pytestmark = pytest.mark.browser


def hostile_files(api: str) -> dict[str, tuple[str, bytes]]:
    """name -> (declared type, body): each body calls back to the file host if its script runs."""

    def call(what: str) -> str:
        return f'fetch("{api}/pwned/{what}", {{mode: "no-cors"}}); window.pwned = 1; document.title = "pwned";'

    return {
        "x.html": ("text/html", f"<!doctype html><h1>invoice</h1><script>{call('html')}</script>".encode()),
        "x.svg": (
            "image/svg+xml",
            f'<svg xmlns="http://www.w3.org/2000/svg"><script>{call("svg")}</script></svg>'.encode(),
        ),
    }


async def test_a_hostile_attachment_clicked_in_the_inbox_downloads_and_runs_nothing(
    aiohttp_server: Any, open_page: PageFactory
) -> None:
    host = FileHost()
    api = str((await aiohttp_server(host.app())).make_url("/")).rstrip("/")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    raw = workspace(
        {"tg": tg_config(api), "inbox": {"type": "inbox"}},
        [{"from": ["tg"], "to": "inbox"}],
        server={"port": port, "public_url": base},
    )
    await aiohttp_server(await create_app(config.parse(raw, "<test>")), port=port)
    files = hostile_files(api)
    async with aiohttp.ClientSession() as http:
        for n, (name, (mime, body)) in enumerate(files.items()):
            host.add_file(f"f{n}", f"documents/{name}", body)
            async with http.post(
                f"{base}/hooks/tg/", json=document(8800 + n, f"f{n}", name, mime), headers=TG_HEADERS
            ) as r:
                assert r.status == 200

    inbox = await open_page(f"{base}/hooks/inbox/")
    downloads: list[Download] = []
    opened: list[Page] = []

    def on_download(download: Download) -> None:
        downloads.append(download)

    def on_page(page: Page) -> None:
        opened.append(page)
        page.on("download", on_download)

    inbox.context.on("page", on_page)
    inbox.on("download", on_download)
    await inbox.get_by_test_id("conversation").click()
    for name in files:
        link = inbox.get_by_role("link", name=re.compile(re.escape(name)))
        await expect(link).to_be_visible()
        await link.click()
    for _ in range(100):
        if len(downloads) == len(files):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)

    assert host.pwned == [], "a customer's script ran on the relay's origin"
    assert sorted(d.suggested_filename for d in downloads) == sorted(files)
    for page in opened:
        if not page.is_closed():
            assert await page.evaluate("() => window.pwned") is None
    assert await inbox.evaluate("() => window.pwned") is None
