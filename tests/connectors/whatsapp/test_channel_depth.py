"""WhatsApp fake -> relay -> webhook CRM (signed answers) -> relay -> WhatsApp fake: username users, templates,
new conversations, buttons and the customer's pick, read and typing, reactions both ways."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from relay.http import sign
from tests.connectors.whatsapp.fake_graph import WABA
from tests.connectors.whatsapp.helpers import CUSTOMER, payload, signature, text_payload
from tests.support.crm_sink import SINK_SECRET

BSUID = "US.13491208655302741918"
NEW_PHONE = "+5511955554444"


async def _inbound(env: Any, raw: bytes) -> None:
    resp = await env.client.post("/hooks/wa", data=raw, headers=signature(raw))
    assert resp.status == 200, await resp.text()


async def _answer(env: Any, body: dict[str, Any], path: str = "") -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode()
    resp = await env.client.post(
        f"/hooks/crm{path}", data=raw, headers={"X-Relay-Signature": sign(SINK_SECRET.encode(), raw)}
    )
    return resp.status, await resp.json()


async def test_a_username_only_user_reaches_the_crm_and_the_reply_reaches_them(make_env: Any) -> None:
    env = await make_env()
    await _inbound(env, payload("bsuid_text.json"))
    event = env.sink.messages()[0]
    assert event["sender"]["id"] == BSUID and event["sender"]["username"] == "@samlee"
    assert "phone" not in event["sender"] and event["sender"]["name"] == "Sam Lee"
    status, result = await _answer(env, {"conversation": event["conversation"], "id": "crm-1", "text": "Hello Sam"})
    assert status == 200 and result["status"] == "delivered", result
    sent = env.graph.sent[-1]
    assert sent["recipient"] == BSUID and "to" not in sent and sent["text"]["body"] == "Hello Sam"


async def test_a_template_with_header_body_and_buttons_after_the_window_closed(make_env: Any) -> None:
    env = await make_env()
    await _inbound(env, text_payload("wamid.OLD1", "thanks", ts=int(time.time()) - 25 * 3600))
    conversation = env.sink.messages()[0]["conversation"]
    env.graph.closed.add(CUSTOMER)
    status, result = await _answer(env, {"conversation": conversation, "id": "crm-1", "text": "Any news?"})
    assert status == 422 and result["reason"] == "template_required"
    template: dict[str, Any] = {
        "name": "order_update",
        "language": "en_US",
        "header": [{"type": "image", "value": "https://cdn.example.com/parcel.png"}],
        "body": [{"type": "text", "value": "Ana"}, {"type": "currency", "value": "EUR 12.50", "fallback": "€12.50"}],
        "buttons": [
            {"index": 0, "sub_type": "quick_reply", "parameters": [{"type": "payload", "value": "track-42"}]},
            {"index": 1, "sub_type": "url", "parameters": [{"type": "text", "value": "o/42"}]},
        ],
    }
    answer = {"conversation": conversation, "id": "crm-2", "type": "template", "template": template}
    status, result = await _answer(env, answer)
    assert status == 200 and result["status"] == "delivered", result
    sent = env.graph.sent[-1]["template"]
    header, body, quick, url = sent["components"]
    assert header == {
        "type": "header",
        "parameters": [{"type": "image", "image": {"link": template["header"][0]["value"]}}],
    }
    assert body["parameters"][1]["currency"] == {"fallback_value": "€12.50", "code": "EUR", "amount_1000": 12500}
    assert quick["parameters"] == [{"type": "payload", "payload": "track-42"}] and quick["index"] == "0"
    assert url["sub_type"] == "url" and url["parameters"] == [{"type": "text", "text": "o/42"}]
    for change, code in (({"name": "order_updates"}, 132001), ({"body": template["body"][:1]}, 132000)):
        answer = {"conversation": conversation, "id": f"crm-{code}", "type": "template", "template": template | change}
        status, result = await _answer(env, answer)
        assert status == 422 and result["reason"] == "platform_rejected" and result["code"] == str(code), result


async def test_the_crm_starts_a_conversation_with_a_phone_number(
    make_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = await make_env()
    start = {
        "channel": "wa",
        "phone": NEW_PHONE,
        "id": "start-1",
        "template": {"name": "hello_world", "language": "en_US"},
    }
    status, result = await _answer(env, start, "/conversations")
    assert status == 200 and result["status"] == "delivered", result
    assert env.graph.sent[-1]["to"] == NEW_PHONE.lstrip("+") and env.graph.sent[-1]["type"] == "template"
    conversation = result["conversation"]
    assert NEW_PHONE.lstrip("+") not in conversation
    follow = {"conversation": conversation, "id": "crm-2", "type": "template", "template": start["template"]}
    assert (await _answer(env, follow))[0] == 200
    assert [m["to"] for m in env.graph.sent] == [NEW_PHONE.lstrip("+")] * 2
    assert (await _answer(env, {"conversation": conversation, "id": "crm-3", "type": "opt_out"}))[0] == 200
    status, result = await _answer(env, start | {"id": "start-2"}, "/conversations")
    assert status == 422 and result["reason"] == "opted_out" and "conversation" not in result
    assert len(env.graph.sent) == 2
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert "55554444" not in logged


async def test_buttons_go_out_and_the_tap_comes_back_as_a_reply_with_the_choice(make_env: Any) -> None:
    env = await make_env()
    await _inbound(env, text_payload("wamid.IN1", "When can you come?"))
    conversation = env.sink.messages()[0]["conversation"]
    items = [{"id": "slot-mon", "title": "Monday"}, {"id": "slot-tue", "title": "Tuesday"}]
    answer = {"conversation": conversation, "id": "crm-btn", "text": "Pick a day", "choices": {"items": items}}
    status, result = await _answer(env, answer)
    assert status == 200, result
    sent = env.graph.sent[-1]
    assert sent["type"] == "interactive" and sent["interactive"]["type"] == "button"
    assert [b["reply"]["id"] for b in sent["interactive"]["action"]["buttons"]] == ["slot-mon", "slot-tue"]
    data = json.loads(payload("interactive_replies.json"))
    for m in data["entry"][0]["changes"][0]["value"]["messages"]:
        m["context"]["id"] = "wamid.OUT1"
    await _inbound(env, json.dumps(data).encode())
    picks = env.sink.messages()[1:]
    assert [p["message"]["choice"] for p in picks] == [
        {"id": "slot-mon", "title": "Monday"},
        {"id": "size-m", "title": "Medium"},
        {"id": "confirm-42", "title": "Confirm"},
    ]
    assert picks[0]["message"]["text"] == "Monday" and picks[0]["message"]["reply_to"] == "crm-btn"


async def test_a_list_and_a_link_and_four_buttons_as_text(make_env: Any) -> None:
    env = await make_env()
    await _inbound(env, text_payload("wamid.IN1", "sizes?"))
    conversation = env.sink.messages()[0]["conversation"]
    rows = [{"id": f"s{i}", "title": f"Size {i}", "section": "Shirts" if i < 3 else "Shoes"} for i in range(5)]
    choices: list[dict[str, Any]] = [
        {"style": "list", "items": rows, "button": "Sizes"},
        {"style": "url", "items": [{"id": "o", "title": "Track order", "url": "https://shop.example.com/o/1"}]},
        {"items": [{"id": str(i), "title": f"Option {i}"} for i in range(4)]},
    ]
    for n, offered in enumerate(choices):
        answer = {"conversation": conversation, "id": f"crm-{n}", "text": "Choose", "choices": offered}
        assert (await _answer(env, answer))[0] == 200
    listed, link, text = env.graph.sent
    assert [s["title"] for s in listed["interactive"]["action"]["sections"]] == ["Shirts", "Shoes"]
    assert link["interactive"]["action"]["parameters"]["url"] == "https://shop.example.com/o/1"
    assert text["type"] == "text" and text["text"]["body"].endswith("4. Option 3")


async def test_the_agent_reading_and_typing_show_on_the_customer_side(make_env: Any) -> None:
    env = await make_env()
    await _inbound(env, text_payload("wamid.IN7", "hello?"))
    event = env.sink.messages()[0]
    conversation = event["conversation"]
    assert (await _answer(env, {"conversation": conversation, "id": "t-1", "type": "typing"}))[0] == 200
    up_to = event["message"]["id"]
    assert (await _answer(env, {"conversation": conversation, "id": "r-1", "type": "read", "up_to": up_to}))[0] == 200
    assert env.graph.signals == [
        {"message_id": "wamid.IN7", "typing": True},
        {"message_id": "wamid.IN7", "typing": False},
    ]


async def test_reactions_travel_both_ways(make_env: Any) -> None:
    env = await make_env()
    await _inbound(env, payload("bsuid_text.json"))
    await _inbound(env, payload("reaction.json"))
    reactions = env.sink.messages("reaction")
    assert [r["message"]["reaction"] for r in reactions] == ["❤️", ""]
    conversation = env.sink.messages()[0]["conversation"]
    wamid = env.sink.messages()[0]["message"]["id"]
    for n, emoji in enumerate(("👍", "")):
        answer = {
            "conversation": conversation,
            "id": f"x-{n}",
            "type": "reaction",
            "reply_to": wamid,
            "reaction": emoji,
        }
        status, result = await _answer(env, answer)
        assert status == 200, result
    assert [m["reaction"] for m in env.graph.sent] == [
        {"message_id": wamid, "emoji": "👍"},
        {"message_id": wamid, "emoji": ""},
    ]
    assert all(m["recipient"] == BSUID for m in env.graph.sent)


async def test_the_crm_lists_templates_read_from_the_platform(make_env: Any) -> None:
    env = await make_env(business_account_id=WABA)
    query = "channel=wa"
    headers = {"X-Relay-Signature": sign(SINK_SECRET.encode(), query.encode())}
    resp = await env.client.get(f"/hooks/crm/templates?{query}", headers=headers)
    assert resp.status == 200, await resp.text()
    found = {(t["name"], t["language"]): t for t in (await resp.json())["templates"]}
    assert found["order_update", "en_US"]["components"][0] == {"type": "HEADER", "format": "IMAGE"}
    headers = {"X-Relay-Signature": sign(SINK_SECRET.encode(), b"channel=crm")}
    resp = await env.client.get("/hooks/crm/templates?channel=crm", headers=headers)
    assert resp.status == 422 and (await resp.json())["reason"] == "conversation_not_routed_to_this_crm"
