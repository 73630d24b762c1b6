"""Two replicas on one PostgreSQL ledger agree at once: an opt-out taken by one blocks the other's sends."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.conftest import RelayFactory, chat_token
from tests.consent.common import consent_workspace, crm_post, keywords_on, spy_sends
from tests.consent.conftest import PG_URL, pg_reachable


async def test_two_replicas_agree(start_relay: RelayFactory, crm_sink: Any, pg_schema: str, canary: str) -> None:
    if not await pg_reachable():
        pytest.skip("no PostgreSQL at " + PG_URL)
    sink, url = crm_sink
    raw = consent_workspace(url, backend="postgres", url=PG_URL, schema=pg_schema)
    client_a, relay_a = await start_relay(raw)
    client_b, relay_b = await start_relay(raw)
    for relay in (relay_a, relay_b):
        keywords_on(relay, "webchat")
    sent_a, sent_b = spy_sends(relay_a, "webchat"), spy_sends(relay_b, "webchat")
    chat = await chat_token(client_a)
    say = "/hooks/webchat/api/messages"
    assert (await client_a.post(say, json={"id": "m1", "text": f"hi {canary}"}, headers=chat)).status == 200
    assert (await client_a.post(say, json={"id": "m2", "text": "stop"}, headers=chat)).status == 200
    conversation = sink.messages()[0]["conversation"]

    resp = await crm_post(client_b, {"conversation": conversation, "id": "crm-1", "text": "still there?"})
    assert resp.status == 422 and (await resp.json())["reason"] == "opted_out"
    assert sent_b == []
    assert (await client_b.post(say, json={"id": "m3", "text": "START"}, headers=chat)).status == 200
    assert [m.reason for m in sent_b] == ["opt_in"]
    resp = await crm_post(client_a, {"conversation": conversation, "id": "crm-2", "text": "welcome back"})
    assert resp.status == 200
    assert [m.text.plain for m in sent_a] == [
        "You are unsubscribed and will get no more messages. Reply START to resubscribe.",
        "welcome back",
    ]

    visitor = chat["X-Webchat-Token"].split(".")[0]
    conn = await asyncpg.connect(PG_URL)
    try:
        rows = await conn.fetch(f'SELECT * FROM "{pg_schema}".consent_state')
        rows += await conn.fetch(f'SELECT * FROM "{pg_schema}".consent_events')
    finally:
        await conn.close()
    assert len(rows) == 3
    dumped = repr([dict(r) for r in rows])
    for needle in (canary, visitor, "stop", "START", "welcome"):
        assert needle not in dumped
