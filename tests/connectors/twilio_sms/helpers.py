"""A relay with a Twilio SMS instance (`sms`) in front of the webhook CRM sink, both platforms faked locally."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from relay.app import Relay
from relay.http import sign
from tests.conftest import RelayFactory, workspace
from tests.connectors.twilio_sms.fake import FakeTwilio
from tests.connectors.twilio_sms.fake_account import ACCOUNT, NUMBER, TOKEN
from tests.support.crm_sink import SINK_SECRET, CrmSink

CUSTOMER = "+4915112345678"


def sms_config(base: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "twilio_sms",
        "account_sid": ACCOUNT,
        "auth_token": TOKEN,
        "from_number": NUMBER,
        "api_base_url": base,
        "media_hosts": ["127.0.0.1:*"],
        "reconcile_delay": 0.05,
        **extra,
    }


@dataclass
class Rig:
    client: TestClient[Any, Any]
    relay: Relay
    fake: FakeTwilio
    sink: CrmSink

    async def answer(self, conversation: str, mid: str, text: str, **more: Any) -> Any:
        """The CRM answers a conversation (a signed post to the webhook connector)."""
        raw = json.dumps({"conversation": conversation, "id": mid, "text": text, **more}).encode()
        headers = {"X-Relay-Signature": sign(SINK_SECRET.encode(), raw), "Content-Type": "application/json"}
        return await self.client.post("/hooks/crm", data=raw, headers=headers)


async def make_rig(
    aiohttp_server: Any,
    start_relay: RelayFactory,
    crm_sink: tuple[CrmSink, str],
    *,
    public_url: str | None = None,
    fake: FakeTwilio | None = None,
    crm: dict[str, Any] | None = None,
    consent: dict[str, Any] | None = None,
    **sms: Any,
) -> Rig:
    fake = fake or FakeTwilio()
    server = await aiohttp_server(fake.app())
    base = str(server.make_url("")).rstrip("/")
    sink, url = crm_sink
    connectors = {
        "sms": sms_config(base, **sms),
        "crm": {"type": "webhook", "url": url, "secret": SINK_SECRET, **(crm or {})},
    }
    extra: dict[str, Any] = {
        "media": {"allowlist": ["127.0.0.1:*"]},
        "network": {"allow_private": ["127.0.0.0/8"]},
    }
    if public_url:
        extra["server"] = {"public_url": public_url}
    if consent:
        extra["consent"] = consent
    client, relay = await start_relay(workspace(connectors, [{"from": ["sms"], "to": "crm"}], **extra))
    fake.reach[relay.public_url] = str(client.make_url("")).rstrip("/")
    fake.sms_url = relay.public_url + "/hooks/sms"
    return Rig(client, relay, fake, sink)


class Clock:
    """A wall clock that tests move forward: the relay's reconciliation and the fake's log both read it."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until `check()` holds (polling), or fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
