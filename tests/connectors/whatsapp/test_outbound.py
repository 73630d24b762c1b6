"""Sends against the fake Graph API: text, replies, reactions, the 24-hour window, limits, opt-out, check."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from relay.connector import Outcome
from relay.errors import DeliveryError
from relay.http import sign
from relay.model import Address, Kind, Message
from relay.richtext import RichText, from_markdown
from tests.connectors.whatsapp.fake_graph import TOKEN, graph_error
from tests.connectors.whatsapp.helpers import CUSTOMER, OTHER, payload, signature, status_payload, text_payload
from tests.support.crm_sink import SINK_SECRET

# Address("wa", CUSTOMER) sealed by the first reference format (c1) for the test workspace, before an
# address carried an opaque handle: CRMs still hold such references.
SEALED_C1 = "c1.k1.eKNsgIU-Gz4176xcOIS71crAXslrG6fFICmSvnnVuzUkPvZ6nT1bDCiPsbbVlFXeQRSYii6RMPGh3Q"


def out(text: str, to: str = CUSTOMER, mid: str = "crm-1", **kw: Any) -> Message:
    return Message(
        kind=kw.pop("kind", Kind.TEXT),
        id=mid,
        origin="crm",
        conversation=Address("wa", to),
        text=from_markdown(text),
        **kw,
    )


async def webhook(env: Any, raw: bytes) -> None:
    resp = await env.client.post("/hooks/wa", data=raw, headers=signature(raw))
    assert resp.status == 200, await resp.text()


async def test_text_reply_reaction_and_notice(make_env: Any) -> None:
    env = await make_env()
    await webhook(env, text_payload("wamid.IN1", "hello"))
    wamid = await env.wa.send(out("Your order **shipped**, see [tracking](https://t.example/1)", ref="wamid.IN1"))
    assert wamid == "wamid.OUT1"
    sent = env.graph.sent[0]
    assert sent["to"] == CUSTOMER and sent["type"] == "text" and sent["context"] == {"message_id": "wamid.IN1"}
    assert sent["text"]["body"] == "Your order *shipped*, see tracking (https://t.example/1)"
    await env.wa.send(out("", kind=Kind.REACTION, ref="wamid.IN1", reaction="❤️"))
    assert env.graph.sent[1]["reaction"] == {"message_id": "wamid.IN1", "emoji": "❤️"}
    await env.wa.send(out("Could not deliver", kind=Kind.NOTICE))
    assert env.graph.sent[2]["text"]["body"] == "Could not deliver"


async def test_window_closed_refuses_free_form_and_tells_the_crm(make_env: Any) -> None:
    env = await make_env()
    with pytest.raises(DeliveryError) as caught:
        await env.wa.send(out("hi"))
    assert caught.value.reason == "template_required" and not caught.value.retryable
    await webhook(env, payload("text.json", fresh=False))
    result = await env.relay.engine.deliver(out("are you there?", mid="crm-2"))
    assert result.outcome is Outcome.FAILED and result.reason == "template_required"
    assert env.graph.sent == []
    await asyncio.sleep(0.3)
    assert env.sink.messages("status") == [], "the answer is the one channel for this failure"
    await webhook(env, payload("text.json"))
    assert (await env.relay.engine.deliver(out("now it works", mid="crm-3"))).outcome is Outcome.DELIVERED


async def test_configured_template_outside_the_window(make_env: Any) -> None:
    env = await make_env(template={"name": "reply_waiting", "language": "pt_BR"})
    assert await env.wa.send(out("Your **order** is\nready")) == "wamid.OUT1"
    tpl = env.graph.sent[0]["template"]
    assert env.graph.sent[0]["type"] == "template" and tpl["name"] == "reply_waiting"
    assert tpl["language"] == {"code": "pt_BR"}
    assert tpl["components"][0]["parameters"][0]["text"] == "Your order is ready"
    with pytest.raises(DeliveryError, match="template_required"):
        await env.wa.send(out("", kind=Kind.REACTION, ref="wamid.X", reaction="👍"))


async def test_fixed_template_is_a_nudge_sent_once(make_env: Any) -> None:
    env = await make_env(template={"name": "please_reply", "parameter": "none"})
    with pytest.raises(DeliveryError, match="template_sent"):
        await env.wa.send(out("first"))
    with pytest.raises(DeliveryError, match="template_required"):
        await env.wa.send(out("second"))
    assert [m["type"] for m in env.graph.sent] == ["template"]
    assert "components" not in env.graph.sent[0]["template"]


async def test_131047_sync_and_as_a_failed_status(make_env: Any) -> None:
    env = await make_env()
    await webhook(env, text_payload("wamid.IN1", "hello"))
    env.graph.script[CUSTOMER].append(graph_error(131047))
    with pytest.raises(DeliveryError, match="template_required"):
        await env.wa.send(out("late"))
    assert not await env.wa.policy.window_open(CUSTOMER)
    await webhook(env, text_payload("wamid.IN2", "back again"))
    assert await env.wa.send(out("welcome back")) == "wamid.OUT1"
    await webhook(env, status_payload("wamid.OUT1", "failed", code=131047))
    status = env.sink.messages("status")[-1]["message"]
    assert status["status"] == "failed" and status["reason"] == "template_required"
    assert not await env.wa.policy.window_open(CUSTOMER)


async def test_pair_rate_limit_slows_only_that_recipient(make_env: Any) -> None:
    env = await make_env()
    await webhook(env, text_payload("wamid.A1", "hi", CUSTOMER))
    await webhook(env, text_payload("wamid.B1", "hi", OTHER))
    env.graph.script[CUSTOMER] += [graph_error(131056)] * 3
    engine = env.relay.engine
    first = await engine.deliver(out("to A", CUSTOMER, "m1"), deadline=1.0)
    assert first.outcome is Outcome.RETRY and first.reason == "pair_rate_limited"
    assert first.retry_after == 6.0
    assert (await engine.deliver(out("to B", OTHER, "m2"), deadline=1.0)).outcome is Outcome.DELIVERED
    again = await engine.deliver(out("to A again", CUSTOMER, "m3"), deadline=1.0)
    assert again.outcome is Outcome.RETRY and env.graph.attempts[CUSTOMER] == 1
    assert (await engine.deliver(out("B again", OTHER, "m4"), deadline=1.0)).outcome is Outcome.DELIVERED
    assert env.graph.texts() == ["to B", "B again"]
    with pytest.raises(DeliveryError) as caught:
        await env.wa.send(out("direct", CUSTOMER, "m5"))
    assert caught.value.retry_after == 16.0 and caught.value.scope == "chat"


async def test_throughput_limit_slows_the_whole_number(make_env: Any) -> None:
    env = await make_env()
    await webhook(env, text_payload("wamid.A1", "hi", CUSTOMER))
    await webhook(env, text_payload("wamid.B1", "hi", OTHER))
    env.graph.script[CUSTOMER].append(graph_error(130429, headers={"Retry-After": "3"}))
    first = await env.relay.engine.deliver(out("to A", CUSTOMER, "m1"), deadline=1.0)
    assert first.outcome is Outcome.RETRY and first.retry_after == 3.0
    other = await env.relay.engine.deliver(out("to B", OTHER, "m2"), deadline=1.0)
    assert other.outcome is Outcome.RETRY and env.graph.attempts[OTHER] == 0


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (131026, "recipient_unreachable"),
        (190, "platform_auth_failed"),
        (131030, "invalid_recipient"),
        (368, "platform_rejected"),
    ],
)
async def test_terminal_errors_are_not_retried(make_env: Any, code: int, reason: str) -> None:
    env = await make_env()
    await webhook(env, text_payload("wamid.A1", "hi"))
    env.graph.script[CUSTOMER].append(graph_error(code, 401 if code == 190 else 400))
    result = await env.relay.engine.deliver(out("x"), deadline=3.0)
    assert result.outcome is Outcome.FAILED and result.reason == reason and result.detail == str(code)
    assert env.graph.attempts[CUSTOMER] == 1


async def test_opted_out_contact_is_refused_until_opt_in(make_env: Any) -> None:
    env = await make_env()
    await webhook(env, text_payload("wamid.S1", "STOP"))
    result = await env.relay.engine.deliver(out("promo"))
    assert result.outcome is Outcome.FAILED and result.reason == "opted_out"
    assert [m["type"] for m in env.graph.sent] == ["text"], "only the core's one confirmation went out"
    await webhook(env, text_payload("wamid.S2", "start"))
    result = await env.relay.engine.deliver(out("welcome back", mid="crm-2"))
    assert result.outcome is Outcome.DELIVERED


async def test_check_reports_token_and_number(make_env: Any) -> None:
    env = await make_env()
    checks = await env.wa.check()
    assert [(c.what, c.ok) for c in checks] == [("access token", True), ("phone number id", True)]
    assert checks[1].detail == "Acme Support" and "555" not in " ".join(c.detail for c in checks)
    bad_token = await make_env(access_token="EAAG-wrong-token-000")
    checks = await bad_token.wa.check()
    assert [c.ok for c in checks] == [False, False] and "190" in checks[0].detail
    bad_number = await make_env(phone_number_id="123456789")
    assert [c.ok for c in await bad_number.wa.check()] == [True, False]
    gone = await make_env(api_base_url="http://127.0.0.1:9")
    assert [c.ok for c in await gone.wa.check()] == [False, False]
    assert TOKEN not in repr(checks)


async def test_unreachable_platform_is_retryable(make_env: Any) -> None:
    env = await make_env(api_base_url="http://127.0.0.1:9")
    await env.wa.policy.saw_inbound(CUSTOMER, 0)
    with pytest.raises(DeliveryError) as caught:
        await env.wa.send(out("x"))
    assert caught.value.retryable and caught.value.reason == "platform_unreachable"


async def test_empty_text_is_refused(make_env: Any) -> None:
    env = await make_env()
    await env.wa.policy.saw_inbound(CUSTOMER, 0)
    with pytest.raises(DeliveryError, match="empty_message"):
        await env.wa.send(out("").with_(text=RichText()))


async def test_a_reference_sealed_in_the_first_format_still_answers(make_env: Any) -> None:
    env = await make_env()
    await webhook(env, text_payload("wamid.IN1", "hello"))
    body = json.dumps({"conversation": SEALED_C1, "id": "crm-c1", "text": "Still **here**"}).encode()
    headers = {"X-Relay-Signature": sign(SINK_SECRET.encode(), body), "Content-Type": "application/json"}
    resp = await env.client.post("/hooks/crm", data=body, headers=headers)
    assert resp.status == 200, await resp.text()
    assert env.graph.texts(CUSTOMER) == ["Still *here*"]
