"""Pure conversions: SunCo bodies out, webhook events in, answers to Reasons, the config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import ValidationError

from connectors.zendesk import convert
from connectors.zendesk.config import ZendeskConfig
from connectors.zendesk.connector import MANIFEST
from relay.client import Answer
from relay.model import Address, Attachment, Kind, Message, Party
from relay.reasons import Reason
from relay.richtext import RichText, from_markdown
from tests.connectors.zendesk.contract import zendesk_config

HERE = Path(__file__).parent / "payloads"
ADDRESS = Address("tg", "42")


def _answer(status: int, body: Any = None, **headers: str) -> Answer:
    raw = json.dumps(body).encode() if body is not None else b""
    return Answer(status, CIMultiDictProxy(CIMultiDict(headers)), raw)


def _payload(name: str, sealed: str = "c2.k1.x") -> convert.MessagePayload:
    raw = (HERE / name).read_text().replace("{{conversation}}", sealed)
    event = json.loads(raw)["events"][-1]
    return convert.MessagePayload.model_validate(event["payload"])


def test_the_external_id_is_the_sealed_reference_or_its_digest_past_1024_characters() -> None:
    assert convert.external_id("c2.k1.abc", "d" * 32) == "c2.k1.abc"
    long = "c2.k1." + "a" * 1100
    assert convert.external_id(long, "d" * 32) == "relay-" + "d" * 32


def test_contact_details_reach_sunco_only_where_the_admin_maps_them() -> None:
    ana = Party(id="42", name="Ana", phone="+491511234567", email="ana@example.org", language="de")
    assert convert.user_body("ext", ana, []) == {"externalId": "ext", "profile": {"givenName": "Ana", "locale": "de"}}
    shared = convert.user_body("ext", ana, ["email", "phone"])
    assert shared["profile"]["email"] == "ana@example.org" and shared["metadata"] == {"phone": "+491511234567"}
    assert convert.user_body("ext", None, ["email"]) == {"externalId": "ext"}


def test_a_customer_message_is_posted_as_the_user_with_the_relay_id_in_metadata() -> None:
    msg = Message(
        kind=Kind.TEXT,
        id="1",
        origin="tg",
        conversation=ADDRESS,
        sender=Party(id="42", name="A" * 300),
        text=from_markdown("see **this**"),
    )
    body = convert.message_body(msg, "ext", "rid")
    assert body["author"] == {"type": "user", "userExternalId": "ext", "displayName": "A" * 128}
    assert body["content"] == {"type": "text", "text": "see this", "markdownText": "see **this**"}
    assert body["metadata"] == {"relay_id": "rid"}
    masked = convert.message_body(msg.with_(masked=(("card", 1), ("email", 2))), "ext", "rid")
    assert masked["metadata"] == {"relay_id": "rid", "relay_masked_card": 1, "relay_masked_email": 2}
    image = Attachment(name="x" * 200 + ".png", mime="image/png")
    media = convert.message_body(msg.with_(text=RichText()), "ext", "rid", ("https://m/1", "image", image.name))
    assert media["content"] == {"type": "image", "mediaUrl": "https://m/1", "altText": "x" * 128}
    assert convert.media_kind(image) == "image" and convert.media_kind(Attachment(name="a.pdf")) == "file"


def test_posted_and_listed_messages_are_found_by_id_and_relay_id() -> None:
    assert convert.posted_id(_answer(201, {"messages": [{"id": "m1"}]})) == "m1"
    assert convert.posted_id(_answer(201, {"messages": []})) is None
    listing = {"messages": [{"id": "a", "metadata": {"relay_id": "r1"}}, {"id": "b"}, {"id": "c", "metadata": None}]}
    assert convert.find_posted(listing, "r1") == "a"
    assert convert.find_posted(listing, "r2") is None
    assert convert.find_posted("not json", "r1") is None


def test_a_conversation_is_picked_by_reference_else_a_bare_personal_one_is_adopted() -> None:
    mine = {"id": "c2", "type": "personal", "metadata": {"relay_conversation": "ref"}}
    bare = {"id": "c1", "type": "personal", "metadata": {"lang": "de"}}
    other = {"id": "c0", "type": "personal", "metadata": {"relay_conversation": "another"}}
    assert convert.pick_conversation({"conversations": [bare, other, mine]}, "ref") == ("c2", None)
    assert convert.pick_conversation({"conversations": [other, bare]}, "ref") == (None, bare)
    assert convert.pick_conversation({"conversations": [other]}, "ref") == (None, None)


@pytest.mark.parametrize(
    ("answer", "reason", "retry_after", "retryable"),
    [
        (
            _answer(423, {"errors": [{"code": "locked", "title": "Message limit"}]}),
            Reason.PLATFORM_REJECTED,
            None,
            False,
        ),
        (
            _answer(429, {"errors": [{"code": "too_many_requests"}]}, **{"Retry-After": "3"}),
            Reason.THROTTLED,
            3.0,
            True,
        ),
        (_answer(429), Reason.THROTTLED, None, True),
        (_answer(401, {"errors": [{"code": "unauthorized"}]}), Reason.PLATFORM_AUTH_FAILED, None, False),
        (_answer(403), Reason.PLATFORM_AUTH_FAILED, None, False),
        (_answer(400, {"errors": [{"code": "bad_request"}]}), Reason.PLATFORM_REJECTED, None, False),
        (_answer(503), Reason.PLATFORM_BUSY, None, True),
    ],
)
def test_sunco_answers_map_to_reasons(answer: Answer, reason: Reason, retry_after: float, retryable: bool) -> None:
    exc = convert.refusal(answer)
    assert (exc.reason, exc.retry_after, exc.retryable) == (reason, retry_after, retryable)


def test_only_business_messages_not_posted_by_the_relay_are_relayed() -> None:
    assert convert.relayable(_payload("agent_text.json"))
    assert convert.relayable(_payload("batch.json"))
    assert not convert.relayable(_payload("relay_echo.json"))
    assert not convert.relayable(_payload("activity.json"))
    notice = _payload("agent_text.json")
    notice.message.metadata = {"relay_notice": "recipient_unreachable"}
    assert not convert.relayable(notice)
    assert convert.reference(_payload("native_widget.json")) is None


def test_an_agent_reply_becomes_a_message_with_its_file_held_by_the_connector() -> None:
    text = convert.to_message("e1", _payload("agent_text.json"), "zd", ADDRESS)
    assert (text.kind, text.text.plain, text.event_id, text.conversation) == (
        Kind.TEXT,
        "Hi Ana, your order shipped.",
        "e1",
        ADDRESS,
    )
    assert text.sender is not None and text.sender.name == "Dana Agent"
    image = convert.to_message("e2", _payload("agent_image.json"), "zd", ADDRESS)
    att = image.attachments[0]
    assert (image.kind, att.name, att.mime, att.size) == (Kind.MEDIA, "label.png", "image/png", 48213)
    assert att.ref is not None and att.ref.instance == "zd" and att.ref.file_id.startswith("https://acme.zendesk.com/")
    bot = convert.to_message("e3", _payload("batch.json"), "zd", ADDRESS)
    assert bot.text == from_markdown("Your tracking number is **ZX-1234**.")


def test_config_needs_exactly_one_host_and_builds_the_api_base() -> None:
    cfg = ZendeskConfig.model_validate(zendesk_config("https://api.eu-1.smooch.io/"))
    assert cfg.api_base == "https://api.eu-1.smooch.io"
    sub = zendesk_config("x") | {"subdomain": "acme"}
    del sub["base_url"]
    assert ZendeskConfig.model_validate(sub).api_base == "https://acme.zendesk.com/sc"
    with pytest.raises(ValidationError, match="exactly one of subdomain"):
        ZendeskConfig.model_validate(sub | {"base_url": "https://acme.zendesk.com/sc"})
    with pytest.raises(ValidationError, match="ack_deadline"):
        ZendeskConfig.model_validate(zendesk_config("https://x") | {"ack_deadline": 20})
    assert MANIFEST.capabilities.ack_deadline < 20


def test_jwt_authorization_carries_the_key_id_and_app_scope() -> None:
    cfg = ZendeskConfig.model_validate(zendesk_config("https://x") | {"auth": "jwt"})
    token = cfg.authorization().removeprefix("Bearer ")
    assert jwt.get_unverified_header(token)["kid"] == cfg.key_id
    assert jwt.decode(token, cfg.key_secret.reveal(), algorithms=["HS256"]) == {"scope": "app"}
    assert repr(cfg.key_secret) == "***" and "fake-key-secret" not in repr(cfg)
