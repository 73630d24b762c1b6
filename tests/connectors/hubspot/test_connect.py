"""`relay hubspot connect` against the fake: OAuth through the loopback redirect or a pasted code, the
channel registered with capabilities from the messengers, one account per messenger; again: no change."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.reliability.relays import dump_toml
from connectors.hubspot.config import HubSpotConfig
from connectors.hubspot.install import Plan, channel_capabilities, connect
from relay import config as config_mod
from relay.cli import main
from relay.connector import Capabilities
from relay.secret import load_secrets
from tests.conftest import workspace
from tests.connectors.hubspot.fake import INBOX, FakeHubSpot
from tests.connectors.hubspot.helpers import PUBLIC, hs_config
from tests.connectors.telegram.helpers import tg_config

MUTATIONS = ("POST", "PATCH")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _workspace(base: str, **hubspot: Any) -> dict[str, Any]:
    cfg = hs_config(base, **hubspot)
    cfg.pop("refresh_token") if hubspot.get("refresh_token") is None else None
    messengers = {"webchat": {"type": "webchat"}, "tg": tg_config("http://127.0.0.1:9")}
    return workspace(
        {**messengers, "hubspot": cfg}, [{"from": list(messengers), "to": "hubspot"}], server={"public_url": PUBLIC}
    )


def _plan(raw: dict[str, Any], **more: Any) -> Plan:
    loaded = config_mod.parse(raw, "<test>")
    inst = loaded.instances["hubspot"]
    assert isinstance(inst.config, HubSpotConfig)
    messengers = {m: loaded.instances[m].manifest.capabilities for m in ("webchat", "tg")}
    return Plan("hubspot", inst.config, messengers, f"{PUBLIC}/hooks/hubspot", **more)


def _mutations(fake: FakeHubSpot) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.recorded if r.method in MUTATIONS and "/custom-channels" in r.path]


async def _fake(aiohttp_server: Any) -> FakeHubSpot:
    fake = FakeHubSpot()
    fake.refresh_tokens.clear()
    fake.base = str((await aiohttp_server(fake.app())).make_url("")).rstrip("/")
    return fake


async def test_connect_through_the_loopback_redirect_then_again_changes_nothing(aiohttp_server: Any) -> None:
    fake = await _fake(aiohttp_server)
    said: list[str] = []

    async def browser(url: str) -> None:
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            assert resp.status == 200, "the fake approved and redirected to the relay's listener"

    redirect = f"http://127.0.0.1:{_port()}/oauth-callback"
    plan = _plan(_workspace(fake.base, refresh_token=None), redirect_uri=redirect, wait=10)
    issued, channel, accounts = await connect(plan, said.append, browser)
    assert issued is not None and issued.reveal() in fake.refresh_tokens
    assert any("/oauth/authorize?" in line and "redirect_uri=" in line for line in said)
    registered = fake.channels[channel]
    assert registered["webhookUrl"] == f"{PUBLIC}/hooks/hubspot"
    caps = registered["capabilities"]
    assert caps["threadingModel"] == "INTEGRATION_THREAD_ID" and caps["outgoingAttachmentTypes"] == []
    assert "webchat: up to 4000 characters" in registered["channelDescription"]
    assert {fake.accounts[a]["name"]: a for a in accounts.values()} == {
        "tg": accounts["tg"],
        "webchat": accounts["webchat"],
    }
    assert all(fake.accounts[a]["inboxId"] == INBOX and fake.accounts[a]["authorized"] for a in accounts.values())
    first = len(_mutations(fake))

    again = _plan(_workspace(fake.base, refresh_token=issued.reveal(), channel_id=channel, accounts=accounts))
    issued2, channel2, accounts2 = await connect(again, said.append)
    assert (issued2, channel2, accounts2) == (None, channel, accounts)
    assert len(_mutations(fake)) == first and again.changes == []


async def test_connect_fixes_only_what_drifted(aiohttp_server: Any) -> None:
    fake = await _fake(aiohttp_server)
    fake.refresh_tokens.add("r-known-refresh-token-0123456789")
    channel, accounts = fake.seed("https://old.example.com/hooks/hubspot", ("webchat", "tg"))
    fake.channels[channel]["capabilities"] = {}
    fake.accounts[accounts["tg"]]["authorized"] = False
    raw = _workspace(fake.base, refresh_token="r-known-refresh-token-0123456789")
    plan = _plan(raw)
    fake.recorded.clear()
    issued, found, ids = await connect(plan, lambda line: None)
    assert issued is None and found == channel and ids == accounts
    assert _mutations(fake) == [
        ("PATCH", f"/conversations/v3/custom-channels/{channel}"),
        ("PATCH", f"/conversations/v3/custom-channels/{channel}/channel-accounts/{accounts['tg']}"),
    ]
    patched = fake.recorded[-1].json()
    assert patched == {"authorized": True}
    assert fake.channels[channel]["webhookUrl"] == f"{PUBLIC}/hooks/hubspot"


async def test_cli_connect_with_a_pasted_code_stores_the_refresh_token(
    aiohttp_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = await _fake(aiohttp_server)
    fake.codes["pasted-code-1"] = "http://127.0.0.1:8765/oauth-callback"
    path = tmp_path / "relay.toml"
    path.write_text(dump_toml(_workspace(fake.base, refresh_token=None)))
    monkeypatch.setenv("RELAY_MASTER_KEY", "test-master-key-0123456789")
    secrets_file = tmp_path / "secrets.json"
    argv = ["hubspot", "connect", "--config", str(path), "--code", "pasted-code-1", "--secrets-file", str(secrets_file)]
    assert await asyncio.to_thread(main, argv) == 0
    out = capsys.readouterr().out
    stored = load_secrets(secrets_file, "test-master-key-0123456789")["HUBSPOT_REFRESH_TOKEN"]
    assert stored in fake.refresh_tokens and stored not in out
    assert 'refresh_token = "${HUBSPOT_REFRESH_TOKEN}"' in out and "[connectors.hubspot.accounts]" in out
    assert f'channel_id = "{next(iter(fake.channels))}"' in out
    assert (await asyncio.to_thread(main, [*argv[:4], "--code", "used-twice"])) == 1
    assert "refused the authorization code" in capsys.readouterr().err


def test_channel_capabilities_are_the_weakest_messengers() -> None:
    tg = Capabilities(files=True, max_file_bytes=50 << 20, max_files=10)
    wa = Capabilities(files=True, max_file_bytes=16 << 20, max_files=1)
    both = channel_capabilities({"tg": tg, "wa": wa})
    assert both["outgoingAttachmentTypes"] == ["FILE"] and both["maxFileAttachmentSizeBytes"] == 16 << 20
    assert both["maxFileAttachmentCount"] == 1 and both["allowConversationStart"] is False
    assert channel_capabilities({"tg": tg, "chat": Capabilities()})["outgoingAttachmentTypes"] == []
