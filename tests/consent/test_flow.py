"""Keywords through the core, end to end: STOP recorded, confirmed once, the CRM told without the text;
after a restart and a Redis flush an agent reply is blocked before the messenger is called; START reopens."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

from relay.consent import State
from relay.model import Kind
from tests.conftest import RelayFactory, chat_token
from tests.consent.common import consent_workspace, crm_post, keywords_on, spy_sends
from tests.state.conftest import REDIS_URL, drop_prefix


async def _statuses(sink: Any) -> list[dict[str, Any]]:
    """The CRM's status events, once the engine's background notice has arrived."""
    for _ in range(100):
        if sink.messages("status"):
            break
        await asyncio.sleep(0.02)
    return list(sink.messages("status"))


async def _say(client: Any, chat: dict[str, str], mid: str, text: str) -> Any:
    return await client.post("/hooks/webchat/api/messages", json={"id": mid, "text": text}, headers=chat)


async def test_stop_survives_a_restart_and_a_redis_flush(
    start_relay: RelayFactory, crm_sink: Any, tmp_path: Path, canary: str
) -> None:
    sink, url = crm_sink
    raw = consent_workspace(url, tmp_path / "consent.sqlite3")
    raw["workspace"]["id"] = "consent-" + secrets.token_hex(4)
    raw["state"] = {"backend": "redis", "url": REDIS_URL}
    prefix = f"relay:{raw['workspace']['id']}:"
    client, relay = await start_relay(raw)
    keywords_on(relay, "webchat")
    replies = spy_sends(relay, "webchat")
    chat = await chat_token(client)
    assert (await _say(client, chat, "m1", f"hello {canary}")).status == 200
    assert (await _say(client, chat, "m2", "  Stop ")).status == 200
    assert (await _say(client, chat, "m3", "STOP")).status == 200
    assert (await _say(client, chat, "m4", f"Stop texting me {canary}")).status == 200
    conversation = sink.messages()[0]["conversation"]
    opt_outs = sink.messages("opt_out")
    assert len(opt_outs) == 2
    assert all(e["message"]["text"] == "" and e["message"]["reason"] == "keyword" for e in opt_outs)
    assert all(e["conversation"] == conversation for e in opt_outs)
    assert [m["message"]["text"] for m in sink.messages()] == [f"hello {canary}", f"Stop texting me {canary}"]
    assert [m.kind for m in replies] == [Kind.NOTICE] and "unsubscribed" in replies[0].text.plain
    await client.close()
    assert await drop_prefix(REDIS_URL, prefix)

    client, relay = await start_relay(raw)
    keywords_on(relay, "webchat")
    replies = spy_sends(relay, "webchat")
    resp = await crm_post(client, {"conversation": conversation, "id": "crm-1", "text": f"answer {canary}"})
    assert resp.status == 422 and (await resp.json()) == {"status": "failed", "reason": "opted_out"}
    assert replies == []
    assert await _statuses(sink) == [], "the 422 answer is the one channel for this failure"
    assert relay.metrics.value("relay_failures_total", reason="opted_out") == 1

    chat = await chat_token(client)
    visitor = relay.connectors["webchat"]
    opened = relay.sealer.open(conversation)
    token = f"{opened.chat}.{visitor.ctx.sealer.digest('webchat:webchat:' + opened.chat)}"
    assert (await _say(client, {"X-Webchat-Token": token}, "m5", "start")).status == 200
    assert [e["message"]["reason"] for e in sink.messages("opt_in")] == ["keyword"]
    assert len(replies) == 1 and "subscribed again" in replies[0].text.plain
    resp = await crm_post(client, {"conversation": conversation, "id": "crm-2", "text": "welcome back"})
    assert resp.status == 200 and (await resp.json())["status"] == "delivered"
    assert replies[-1].text.plain == "welcome back"
    await client.close()
    await drop_prefix(REDIS_URL, prefix)
    data = (tmp_path / "consent.sqlite3").read_bytes()
    for needle in (canary, opened.chat, "STOP", "Stop", "start", "unsubscribed"):
        assert needle.encode() not in data


async def test_yes_is_ordinary_unless_opted_out_and_help_is_answered(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, relay = await start_relay(consent_workspace(url, help_reply="ACME support: reply STOP to opt out."))
    keywords_on(relay, "webchat")
    replies = spy_sends(relay, "webchat")
    chat = await chat_token(client)
    assert (await _say(client, chat, "y1", "Yes")).status == 200
    assert (await _say(client, chat, "h1", "HELP")).status == 200
    assert [m["message"]["text"] for m in sink.messages()] == ["Yes", "HELP"]
    assert sink.messages("opt_in") == []
    assert [r.text.plain for r in replies] == ["ACME support: reply STOP to opt out."]
    assert relay.ledger.kind == "memory"


async def test_a_messenger_without_keywords_forwards_stop_as_text(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(consent_workspace(url))
    chat = await chat_token(client)
    assert (await _say(client, chat, "s1", "STOP")).status == 200
    assert [m["message"]["text"] for m in sink.messages()] == ["STOP"] and sink.messages("opt_out") == []


async def test_the_crm_opts_a_contact_out_and_in(start_relay: RelayFactory, crm_sink: Any, tmp_path: Path) -> None:
    sink, url = crm_sink
    client, relay = await start_relay(consent_workspace(url, tmp_path / "c.sqlite3"))
    replies = spy_sends(relay, "webchat")
    chat = await chat_token(client)
    await _say(client, chat, "m1", "hi")
    conversation = sink.messages()[0]["conversation"]
    resp = await crm_post(client, {"type": "opt_out", "conversation": conversation, "id": "act-1"})
    assert resp.status == 200 and (await resp.json())["status"] == "delivered"
    assert relay.engine.guard is not None
    found = await relay.ledger.state(relay.engine.guard.subjects.of("webchat", relay.sealer.open(conversation).chat))
    assert found is not None and found.state is State.OPTED_OUT and found.how.value == "crm"
    resp = await crm_post(client, {"conversation": conversation, "id": "crm-1", "text": "hello?"})
    assert resp.status == 422 and (await resp.json())["reason"] == "opted_out"
    assert replies == []
    resp = await crm_post(client, {"type": "opt_in", "conversation": conversation, "id": "act-2"})
    assert resp.status == 200
    resp = await crm_post(client, {"conversation": conversation, "id": "crm-2", "text": "hello again"})
    assert resp.status == 200 and [m.text.plain for m in replies] == ["hello again"]
    forged = await crm_post(client, {"type": "opt_out", "conversation": "c2.k1.forged", "id": "act-3"})
    assert forged.status == 403
    assert sink.messages("opt_out") == [] and relay.metrics.value("relay_consent_total", how="crm") == 2


async def test_a_ledger_that_cannot_answer_blocks_sends(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, relay = await start_relay(consent_workspace(url))
    replies = spy_sends(relay, "webchat")
    chat = await chat_token(client)
    await _say(client, chat, "m1", "hi")
    conversation = sink.messages()[0]["conversation"]

    async def broken(subjects: Any) -> None:
        raise OSError("database gone")

    relay.ledger.state = broken  # type: ignore[method-assign]
    resp = await crm_post(client, {"conversation": conversation, "id": "crm-1", "text": "hello?"})
    assert resp.status == 503 and (await resp.json())["reason"] == "consent_unavailable"
    assert replies == []


async def test_opted_out_customers_get_no_could_not_deliver_notice(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, relay = await start_relay(consent_workspace(url))
    keywords_on(relay, "webchat")
    replies = spy_sends(relay, "webchat")
    chat = await chat_token(client)
    await _say(client, chat, "m1", "stop")
    sink.mode = "400"
    assert (await _say(client, chat, "m2", "one more thing")).status == 200
    await relay.engine.drain(1.0)
    assert [r.reason for r in replies] == ["opt_out"]
