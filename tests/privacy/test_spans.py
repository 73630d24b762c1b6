"""Canaries both ways through each messenger connector with tracing on: every span, as the in-memory
exporter holds it and as it reached a real OTLP receiver, holds no text, phone, e-mail, token or secret."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import RelayFactory, workspace
from tests.privacy.common import email_of, phone_of, scan_spans, secrets_of
from tests.privacy.test_connectors import DRIVERS, INBOX, INBOX_KEY
from tests.support.otlp_receiver import OtlpReceiver

WITHOUT_CALLS = {
    "slack": "chat.postMessage goes through slack-sdk's own client",
    "telegram": "sendMessage goes through python-telegram-bot's own client",
    "webchat": "served to a browser",
}
SECRET_KEYS = ("token", "secret", "key", "password", "verify")


def config_secrets(cfg: dict[str, Any]) -> list[str]:
    """String values of a connector config that are credentials (bot tokens, signing secrets, keys)."""
    return [v for k, v in cfg.items() if isinstance(v, str) and any(s in k for s in SECRET_KEYS) and len(v) >= 8]


@pytest.mark.parametrize("kind", sorted(DRIVERS))
async def test_spans_of_canaries_both_ways_hold_nothing(
    kind: str, aiohttp_server: Any, start_relay: RelayFactory, relay_logs: io.StringIO, canary: str
) -> None:
    receiver = OtlpReceiver()
    endpoint = str((await aiohttp_server(receiver.app())).make_url("")).rstrip("/")
    driver = await DRIVERS[kind](aiohttp_server)
    raw = workspace(
        {driver.instance: driver.config, "inbox": {"type": "inbox", "access_key": INBOX_KEY}},
        [{"from": [driver.instance], "to": "inbox"}],
        tracing={"endpoint": endpoint},
    )
    client, relay = await start_relay(raw)
    memory = InMemorySpanExporter()
    assert relay.tracing is not None
    relay.tracing.provider.add_span_processor(SimpleSpanProcessor(memory))
    said = f"{canary} call {phone_of(canary)} mail {email_of(canary)}"
    assert await driver.inbound(client, said) == 200
    ref = (await (await client.get("/hooks/inbox/api/conversations", headers=INBOX)).json())["conversations"][0]
    answer = {"text": f"answer {canary[::-1]}"}
    path = f"/hooks/inbox/api/conversations/{ref['conversation']}/messages"
    assert (await client.post(path, json=answer, headers=INBOX)).status == 200
    assert any(canary[::-1] in text for text in await driver.sent(client))
    for _ in range(50):  # a span may end just after a flush (the inbound one, once its answer is sent)
        assert await asyncio.to_thread(relay.tracing.provider.force_flush)
        spans = memory.get_finished_spans()
        if len(receiver.spans) == len(spans):
            break
        await asyncio.sleep(0.1)
    names = {s.name for s in spans}
    assert {"relay.inbound", "relay.deliver", "relay.send"} <= names
    assert "relay.call" in names or kind in WITHOUT_CALLS
    exported = [body.decode("latin-1") for body in receiver.bodies]
    assert len(receiver.spans) == len(spans)
    needles = [*secrets_of(canary), canary[::-1], *driver.needles, *config_secrets(driver.config), INBOX_KEY]
    assert scan_spans([s.to_json() for s in spans] + exported, needles) == []
