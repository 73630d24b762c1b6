"""Socket Mode against a local fake: envelopes in, acks only once delivered."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from relay.app import Relay
from tests.conftest import RelayFactory
from tests.connectors.slack.conftest import slack_to_crm
from tests.connectors.slack.fake_slack import APP_TOKEN, PAYLOADS, FakeSlack, payload
from tests.support.crm_sink import CrmSink


async def until(condition: Any, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def socket_relay(start_relay: RelayFactory, fake: FakeSlack, crm_url: str) -> tuple[Any, Relay]:
    raw = slack_to_crm(fake, crm_url, mode="socket", app_token=APP_TOKEN)
    del raw["connectors"]["slack"]["signing_secret"]
    client, relay = await start_relay(raw)
    await asyncio.wait_for(fake.connected.wait(), 10)
    return client, relay


async def test_socket_mode_acks_delivered_envelopes(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    _client, relay = await socket_relay(start_relay, fake_slack, url)
    assert relay.connectors["slack"].routes() == ()
    assert fake_slack.calls_to("apps.connections.open") == [{}]
    await fake_slack.push(payload("thread_reply"), "env-1")
    await until(lambda: fake_slack.acks)
    assert fake_slack.acks == [{"envelope_id": "env-1"}]
    [got] = sink.messages()
    assert got["message"]["text"] == "A reply in the thread"
    await fake_slack.push(payload("own_bot_echo"), "env-echo")
    await until(lambda: len(fake_slack.acks) == 2)
    assert fake_slack.acks[1] == {"envelope_id": "env-echo"}
    assert len(sink.messages()) == 1
    checks = await relay.connectors["slack"].check()
    assert [(c.what, c.ok) for c in checks] == [("auth.test", True), ("apps.connections.open", True)]


async def test_socket_mode_takes_a_click_as_an_interactive_envelope(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    await socket_relay(start_relay, fake_slack, url)
    click = json.loads((PAYLOADS / "block_actions.json").read_text())
    await fake_slack.push(click, "env-click", kind="interactive")
    await until(lambda: fake_slack.acks)
    assert fake_slack.acks == [{"envelope_id": "env-click"}]
    [got] = sink.messages()
    assert got["message"]["text"] == "Friday"


async def test_socket_mode_leaves_undelivered_envelopes_unacked(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    sink.mode = "500"
    _client, relay = await socket_relay(start_relay, fake_slack, url)
    await fake_slack.push(payload("message_im"), "env-1")
    await until(lambda: sink.calls > 0)
    await until(lambda: relay.engine.inflight == 0)
    await asyncio.sleep(0.1)
    assert fake_slack.acks == []
    sink.mode = "ok"
    await fake_slack.push(payload("message_im"), "env-2", retry_attempt=1)
    await until(lambda: fake_slack.acks)
    assert fake_slack.acks == [{"envelope_id": "env-2"}]
    assert len(sink.messages()) == 1


async def test_library_log_lines_carry_no_body(
    start_relay: RelayFactory,
    fake_slack: FakeSlack,
    crm_sink: tuple[CrmSink, str],
    canary: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_slack.fail("apps.connections.open", body={"ok": False, "error": "invalid_auth", "needed": canary})
    raw = slack_to_crm(fake_slack, crm_sink[1], mode="socket", app_token=APP_TOKEN)
    del raw["connectors"]["slack"]["signing_secret"]
    await start_relay(raw)
    await until(lambda: "slack library: Failed to connect" in caplog.text)
    assert "slack library: Failed to retrieve WSS URL" in caplog.text
    assert canary not in caplog.text and "fake-ticket" not in caplog.text
