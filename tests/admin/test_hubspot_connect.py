"""The HubSpot connect flow in the console: the consent page, the redirect back, the refresh token stored
encrypted and the channel and accounts applied without restart; a forged or replayed state is refused."""

from __future__ import annotations

import tomllib
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from connectors.hubspot.config import HubSpotConfig
from relay.secret import load_secrets
from tests.admin.conftest import MASTER, ROLE_HEADER, StartWorkspace
from tests.connectors.hubspot.fake import FakeHubSpot
from tests.connectors.hubspot.helpers import hs_config
from tests.support.crm_sink import SINK_SECRET


async def test_connect_hubspot_from_the_console(start_workspace: StartWorkspace, aiohttp_server: Any) -> None:
    fake = FakeHubSpot()
    fake.refresh_tokens.clear()
    fake.base = str((await aiohttp_server(fake.app())).make_url("")).rstrip("/")
    hubspot = hs_config(fake.base)
    hubspot.pop("refresh_token")
    connectors = {"crm": {"type": "webhook", "url": "http://127.0.0.1:9/crm", "secret": SINK_SECRET}}
    connectors |= {"hubspot": hubspot, "chat": {"type": "webchat"}}
    ws = await start_workspace({"connectors": connectors, "routes": [{"from": ["chat"], "to": "hubspot"}]})
    setup = await (await ws.get("/admin/connectors/hubspot/setup")).text()
    assert "Connect hubspot" in setup
    assert (await ws.post("/admin/connectors/hubspot/connect", role="viewer")).status == 403
    start = await ws.post("/admin/connectors/hubspot/connect")
    assert start.status == 303
    consent = start.headers["Location"]
    assert consent.startswith(f"{fake.base}/oauth/authorize?")
    async with aiohttp.ClientSession() as browser, browser.get(consent, allow_redirects=False) as approved:
        back = approved.headers["Location"]
    back_path = urlsplit(back)
    assert back_path.path == "/admin/connectors/hubspot/oauth/callback"
    forged = await ws.client.get(back_path.path + "?code=x&state=forged", headers={ROLE_HEADER: "admin"})
    assert forged.status == 400
    done = await ws.client.get(
        f"{back_path.path}?{back_path.query}", headers={ROLE_HEADER: "admin"}, allow_redirects=False
    )
    assert done.status == 303, await done.text()
    replay = await ws.client.get(f"{back_path.path}?{back_path.query}", headers={ROLE_HEADER: "admin"})
    assert replay.status == 400
    running = ws.console.relay.connectors["hubspot"].config
    assert isinstance(running, HubSpotConfig) and running.channel_id and set(running.accounts) == {"chat"}
    assert running.refresh_token is not None and running.refresh_token.reveal() in fake.refresh_tokens
    text = ws.path.read_text()
    assert tomllib.loads(text)["connectors"]["hubspot"]["refresh_token"] == "${HUBSPOT_REFRESH_TOKEN}"
    assert running.refresh_token.reveal() not in text
    stored = load_secrets(ws.path.parent / "relay-secrets.json", MASTER)
    assert stored["HUBSPOT_REFRESH_TOKEN"] == running.refresh_token.reveal()
    actions = [(e["action"], e["outcome"]) for e in ws.audit.recorded]
    assert actions == [("connector.connect.start", "ok"), ("connector.connect", "ok")]
    assert "connectors.hubspot.refresh_token" in ws.audit.recorded[-1]["keys"]
