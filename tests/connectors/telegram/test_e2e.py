"""End to end: Telegram fake -> relay -> inbox -> agent reply -> Telegram fake; and `relay check`."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from relay.connector import Check
from tests.conftest import RelayFactory
from tests.connectors.telegram.fake_api import SECRET, TOKEN, FakeTelegram
from tests.connectors.telegram.helpers import INBOX_AUTH, SECRET_HEADER, WriteAudit, payload, to_inbox
from tests.connectors.telegram.test_inbound import eventually

Fake = tuple[FakeTelegram, str]


@pytest.mark.parametrize("mode", ["webhook", "polling"])
async def test_customer_to_inbox_and_agent_reply_back(
    start_relay: RelayFactory, fake_tg: Fake, canary: str, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.DEBUG)
    fake, api = fake_tg
    tg: dict[str, Any] = {"mode": mode} if mode == "webhook" else {"mode": "polling", "secret_token": None}
    client, relay = await start_relay(to_inbox(api, tg))
    update = payload("text")
    update["message"]["text"] = f"Where is my order? {canary}"
    del update["message"]["entities"]
    audit = WriteAudit.get()
    audit.on = True
    try:
        if mode == "webhook":
            resp = await client.post("/hooks/tg/", json=update, headers={SECRET_HEADER: SECRET})
            assert resp.status == 200 and (await resp.json())["status"] == "delivered"
        else:
            fake.push(update)
        inbox = relay.connectors["inbox"]
        await eventually(lambda: bool(inbox.inbox.conversations))
        convs = (await (await client.get("/hooks/inbox/api/conversations", headers=INBOX_AUTH)).json())["conversations"]
        ref = convs[0]["conversation"]
        thread = await (await client.get(f"/hooks/inbox/api/conversations/{ref}", headers=INBOX_AUTH)).json()
        assert canary in thread["messages"][0]["html"] and thread["messages"][0]["sender"] == "Ana Lima"
        resp = await client.post(
            f"/hooks/inbox/api/conversations/{ref}/messages",
            json={"text": f"Shipped **today** <3 {canary}"},
            headers=INBOX_AUTH,
        )
        assert resp.status == 200, await resp.text()
    finally:
        audit.on = False
    (sent,) = fake.sent
    assert sent["chat_id"] == 123456789 and sent["text"] == f"Shipped today <3 {canary}"
    assert sent["entities"] == [{"type": "bold", "offset": 8, "length": 5}]
    assert audit.writes == [] and fake.errors == []
    everything = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert canary not in everything
    relay_side = [r for r in caplog.records if "python-telegram-bot" not in r.getMessage()]  # the fake's access log
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in relay_side)
    assert TOKEN not in logged and TOKEN.split(":")[1] not in logged


async def test_check_reports_getme_and_webhook(start_relay: RelayFactory, fake_tg: Fake) -> None:
    fake, api = fake_tg
    _, relay = await start_relay(to_inbox(api))
    checks = await relay.connectors["tg"].check()
    assert checks[0] == Check("getMe", True, "@relay_test_bot")
    assert checks[1].what == "getWebhookInfo" and checks[1].ok and checks[1].detail.startswith("set to this relay")
    fake.webhook["url"] = "https://elsewhere.example/hook"
    checks = await relay.connectors["tg"].check()
    assert not checks[1].ok and "another URL" in checks[1].detail


async def test_check_reports_a_rejected_token(start_relay: RelayFactory, fake_tg: Fake) -> None:
    fake, api = fake_tg
    fake.token = "999999999:AAE-another-token-abcdefghijklmnopqrstuv"
    _, relay = await start_relay(to_inbox(api))
    assert relay.started["tg"] is False
    checks = await relay.connectors["tg"].check()
    assert checks == [Check("getMe", False, "token rejected by Telegram")]
    assert all(TOKEN not in c.detail for c in checks)
