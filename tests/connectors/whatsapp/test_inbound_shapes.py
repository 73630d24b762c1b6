"""Recorded-shape inbound messages beyond text: a completed flow, a template's quick-reply button, and a
customer who changed their number (a notice in the same conversation; replies follow the new number)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from connectors.whatsapp.compose import answers
from connectors.whatsapp.convert import NUMBER_CHANGED
from connectors.whatsapp.inbound import parse_payload
from relay.http import sign
from relay.model import Kind
from tests.connectors.whatsapp.helpers import CUSTOMER, load, payload, signature, text_payload
from tests.support.crm_sink import SINK_SECRET

NEW = "5511922223333"
NEW_BSUID = "BR.55120099887766554"
OLD_BSUID = "BR.88120034455667788"
NEW_USERNAME_BSUID = "US.77001122334455667788"


async def _inbound(env: Any, raw: bytes) -> None:
    resp = await env.client.post("/hooks/wa", data=raw, headers=signature(raw))
    assert resp.status == 200, await resp.text()


async def _answer(env: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode()
    resp = await env.client.post("/hooks/crm", data=raw, headers={"X-Relay-Signature": sign(SINK_SECRET.encode(), raw)})
    return resp.status, await resp.json()


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return caplog.text + " ".join(str(r.__dict__) for r in caplog.records)


async def test_a_completed_flow_and_a_quick_reply_reach_the_crm_as_choices(
    make_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = await make_env()
    await _inbound(env, payload("flow_replies.json"))
    flow, button, address = (m["message"] for m in env.sink.messages())
    assert flow["text"] == "Sent\ndelivery_email: ana.lima@example.com\ncard_last4: 4242"
    assert flow["choice"] == {"id": "flow", "title": "Sent"}, "the answers are the text's, minimised like any text"
    assert button["text"] == "Change the date" and button["choice"] == {"id": "RESCHEDULE", "title": "Change the date"}
    assert address["text"] == "Sent\ncity: Campinas" and address["choice"]["id"] == "address_message"
    assert all("reason" not in m for m in (flow, button, address))
    assert "ft-7731" not in json.dumps(env.sink.received) and "flow_token" not in json.dumps(env.sink.received)
    logged = _logged(caplog)
    for secret in ("ft-7731", "ana.lima", "4242", "Campinas", "response_json"):
        assert secret not in logged


async def test_a_changed_number_is_a_notice_in_the_conversation_and_replies_follow_it(
    make_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = await make_env()
    await _inbound(env, text_payload("wamid.IN1", "is my order ready?"))
    conversation = env.sink.messages()[0]["conversation"]
    await _inbound(env, payload("user_changed_number.json"))
    [notice] = env.sink.messages("notice")
    assert notice["conversation"] == conversation
    assert notice["message"]["text"] == NUMBER_CHANGED
    assert notice["sender"]["id"] == NEW_BSUID and notice["sender"]["phone"] == NEW
    assert CUSTOMER not in notice["message"]["text"] and NEW not in json.dumps(notice["message"])
    status, result = await _answer(env, {"conversation": conversation, "id": "crm-1", "text": "Yes, it is"})
    assert status == 200 and result["status"] == "delivered", result
    assert env.graph.sent[-1]["to"] == NEW and env.graph.texts(NEW) == ["Yes, it is"]
    assert env.graph.attempts[CUSTOMER] == 0
    assert NEW not in _logged(caplog) and CUSTOMER not in _logged(caplog)


async def test_a_username_user_who_changes_number_is_answered_at_their_new_user_id(make_env: Any) -> None:
    env = await make_env()
    await _inbound(env, payload("bsuid_text.json"))
    conversation = env.sink.messages()[0]["conversation"]
    data = json.loads(payload("user_changed_number.json"))
    message = data["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["from"]
    message["from_user_id"] = env.sink.messages()[0]["sender"]["id"]
    message["system"] = {"user_id": NEW_USERNAME_BSUID, "type": "user_changed_number"}
    await _inbound(env, json.dumps(data).encode())
    [notice] = env.sink.messages("notice")
    assert notice["conversation"] == conversation and "phone" not in notice["sender"]
    assert notice["sender"]["id"] == NEW_USERNAME_BSUID
    status, result = await _answer(env, {"conversation": conversation, "id": "crm-1", "text": "Noted"})
    assert status == 200, result
    assert env.graph.sent[-1]["recipient"] == NEW_USERNAME_BSUID and "to" not in env.graph.sent[-1]


async def _reply_to_both(env: Any, first: str, later: str, tag: str) -> list[str]:
    for conversation in (first, later):
        status, result = await _answer(
            env, {"conversation": conversation, "id": f"crm-{tag}{len(env.graph.sent)}", "text": "ok"}
        )
        assert status == 200, result
    return [m["to"] for m in env.graph.sent[-2:]]


async def test_the_new_number_writes_in_its_own_conversation_and_changing_back_does_not_loop(make_env: Any) -> None:
    env = await make_env()
    await _inbound(env, text_payload("wamid.IN1", "hello"))
    first = env.sink.messages()[0]["conversation"]
    await _inbound(env, payload("user_changed_number.json"))
    await _inbound(env, text_payload("wamid.IN2", "hi from the new phone", wa_id=NEW))
    later = env.sink.messages()[-1]["conversation"]
    assert later != first
    assert await _reply_to_both(env, first, later, "a") == [NEW, NEW]
    back = json.loads(payload("user_changed_number.json"))
    message = back["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update({"from": NEW, "from_user_id": NEW_BSUID, "id": "wamid.BACK1"})
    message["system"].update({"wa_id": CUSTOMER, "user_id": OLD_BSUID})
    await _inbound(env, json.dumps(back).encode())
    assert [n["conversation"] for n in env.sink.messages("notice")] == [first, later]
    assert await _reply_to_both(env, first, later, "b") == [CUSTOMER, CUSTOMER]


def test_other_system_messages_and_malformed_changes_stay_unsupported() -> None:
    data = load("user_changed_number.json")
    message = data["entry"][0]["changes"][0]["value"]["messages"][0]
    for system in (
        {"type": "user_identity_changed", "identity": "x"},
        {"type": "user_changed_number"},
        {"type": "user_changed_number", "wa_id": "not a number"},
    ):
        message["system"] = system
        [found], _ = parse_payload(data, "wa", "109876543210")
        assert found.moved_to is None and found.message.kind is Kind.TEXT
        assert found.message.reason == "unsupported"


def test_flow_answers_become_lines_without_the_flow_token() -> None:
    raw = json.dumps(
        {"flow_token": "t", "name": "Ana\nLima", "slots": ["9:00", "10:00"], "opt_in": True, "addr": {"zip": 1}}
    )
    assert answers(raw) == ["name: Ana Lima", "slots: 9:00, 10:00", "opt_in: yes", "addr.zip: 1"]
    assert answers(json.dumps({f"f{n}": n for n in range(80)}), limit=3) == ["f0: 0", "f1: 1", "f2: 2"]
    assert answers("not json") == answers(json.dumps(["a"])) == answers(None) == []
