"""Slack -> relay -> inbox -> agent reply -> Slack, through the HTTP APIs; and `relay check`."""

from __future__ import annotations

import json
import logging

import pytest

from tests.conftest import RelayFactory, workspace
from tests.connectors.slack.conftest import slack_config
from tests.connectors.slack.fake_slack import FakeSlack, payload, signed

INBOX_AUTH = {"Authorization": "Bearer inbox-test-key-123456"}


def slack_to_inbox(fake: FakeSlack) -> dict[str, object]:
    return workspace(
        {"slack": slack_config(fake), "inbox": {"type": "inbox", "access_key": "inbox-test-key-123456"}},
        [{"from": ["slack"], "to": "inbox"}],
    )


async def test_thread_message_round_trip_through_the_inbox(
    start_relay: RelayFactory, fake_slack: FakeSlack, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, _ = await start_relay(slack_to_inbox(fake_slack))
    raw = json.dumps(payload("thread_reply", text=f"Where is my order? {canary}")).encode()
    resp = await client.post("/hooks/slack/events", data=raw, headers=signed(raw))
    assert resp.status == 200, await resp.text()

    convs = (await (await client.get("/hooks/inbox/api/conversations", headers=INBOX_AUTH)).json())["conversations"]
    [conv] = convs
    ref = conv["conversation"]
    thread = await (await client.get(f"/hooks/inbox/api/conversations/{ref}", headers=INBOX_AUTH)).json()
    assert canary in thread["messages"][0]["html"]

    answer = f"It ships **today** {canary}"
    resp = await client.post(
        f"/hooks/inbox/api/conversations/{ref}/messages", json={"text": answer}, headers=INBOX_AUTH
    )
    assert resp.status == 200, await resp.text()
    [posted] = fake_slack.calls_to("chat.postMessage")
    assert posted["channel"] == "C0SHARED01"
    assert posted["thread_ts"] == "1736935300.000100"
    assert posted["text"] == f"It ships *today* {canary}"
    assert canary not in caplog.text


async def test_check_reports_auth_test(start_relay: RelayFactory, fake_slack: FakeSlack) -> None:
    _, relay = await start_relay(slack_to_inbox(fake_slack))
    [check] = await relay.connectors["slack"].check()
    assert (check.what, check.ok) == ("auth.test", True)
    assert "Acme Support" in check.detail
    fake_slack.fail("auth.test", body={"ok": False, "error": "invalid_auth"})
    [check] = await relay.connectors["slack"].check()
    assert (check.what, check.ok, check.detail) == ("auth.test", False, "platform_auth_failed (invalid_auth)")


async def test_check_never_raises_when_slack_is_unreachable(start_relay: RelayFactory, fake_slack: FakeSlack) -> None:
    raw = slack_to_inbox(fake_slack)
    raw["connectors"]["slack"]["api_base_url"] = "http://127.0.0.1:9/api/"  # type: ignore[index]
    _, relay = await start_relay(raw)
    [check] = await relay.connectors["slack"].check()
    assert not check.ok and check.detail == "platform_unreachable"


async def test_ack_deadline_comes_from_the_manifest_unless_configured(
    start_relay: RelayFactory, fake_slack: FakeSlack
) -> None:
    _, relay = await start_relay(slack_to_inbox(fake_slack))
    assert relay.connectors["slack"].capabilities.ack_deadline == 2.5
    raw = slack_to_inbox(fake_slack)
    raw["connectors"]["slack"]["ack_deadline"] = 2.0  # type: ignore[index]
    _, relay = await start_relay(raw)
    assert relay.connectors["slack"].capabilities.ack_deadline == 2.0
