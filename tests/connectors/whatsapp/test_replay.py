"""A validly signed body about a message or status older than Meta's 7-day redelivery window is a replay:
acknowledged (200, so nobody retries it), not delivered, counted, and logged without content."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from tests.connectors.whatsapp.helpers import CUSTOMER, signature, status_payload, text_payload

DAY = 24 * 3600


async def post(env: Any, raw: bytes) -> Any:
    return await env.client.post("/hooks/wa", data=raw, headers=signature(raw))


async def test_a_month_old_signed_message_is_acknowledged_not_delivered(
    make_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env = await make_env()
    caplog.set_level(logging.INFO)
    secret = "replayed text from a month ago"
    resp = await post(env, text_payload("wamid.OLD1", secret, ts=int(time.time()) - 30 * DAY))
    assert resp.status == 200 and (await resp.json())["status"] == "ignored"
    assert env.sink.received == []
    assert env.relay.metrics.value("relay_rejected_total", connector="wa", reason="too_old") == 1
    assert 'relay_rejected_total{connector="wa",reason="too_old"} 1' in env.relay.metrics.render()
    assert not await env.wa.policy.window_open(CUSTOMER), "a replay must not reopen the 24-hour window"
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "too_old" in logged
    assert secret not in logged and CUSTOMER not in logged and "wamid.OLD1" not in logged


async def test_old_statuses_are_dropped_and_recent_messages_still_delivered(make_env: Any) -> None:
    env = await make_env()
    data = json.loads(status_payload("wamid.OUT9", "delivered"))
    data["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"] = str(int(time.time()) - 8 * DAY)
    old = json.dumps(data).encode()
    assert (await post(env, old)).status == 200
    assert env.sink.messages("status") == []
    assert (await post(env, text_payload("wamid.NEW1", "six days late", ts=int(time.time()) - 6 * DAY))).status == 200
    assert [m["message"]["text"] for m in env.sink.messages()] == ["six days late"]
    assert env.relay.metrics.value("relay_rejected_total", connector="wa", reason="too_old") == 1
