"""The HubSpot connector's pure parts: v3 signatures, publish and status bodies, answers, webhook events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from connectors.hubspot import convert, inbound
from relay.client import Answer
from relay.connector import HookRequest
from relay.errors import AuthError, BadRequest, DeliveryError
from relay.model import Address, Attachment, Kind, Message, Party, Status
from relay.reasons import Reason
from relay.richtext import RichText
from relay.seal import Sealer, WorkspaceKey
from relay.tokens import TokenRevoked
from tests.connectors.hubspot.sender import v3_headers

KEY = b"test-client-secret-0123456789abcdef"
URL = "https://relay.example.com/hooks/hubspot"
NOW = 1_780_000_000_000


def _request(body: bytes, headers: dict[str, str], query: dict[str, str] | None = None) -> HookRequest:
    return HookRequest(CIMultiDictProxy(CIMultiDict(headers)), query or {}, body)


def _answer(status: int, body: Any, **headers: str) -> Answer:
    raw = json.dumps(body).encode() if body is not None else b""
    return Answer(status, CIMultiDictProxy(CIMultiDict(headers)), raw)


def test_v3_signature_window_and_uri() -> None:
    body = b'{"type":"OUTGOING_CHANNEL_MESSAGE_CREATED"}'
    good = v3_headers(KEY.decode(), URL, body, NOW)
    inbound.authenticate(KEY, URL, _request(body, good), NOW)
    inbound.authenticate(KEY, URL, _request(body, good), NOW + 299_000)
    for headers, now in (
        (good, NOW + 301_000),
        (good, NOW - 301_000),
        ({**good, "X-HubSpot-Signature-v3": good["X-HubSpot-Signature-v3"][::-1]}, NOW),
        ({k: v for k, v in good.items() if k != "X-HubSpot-Request-Timestamp"}, NOW),
        ({k: v for k, v in good.items() if k != "X-HubSpot-Signature-v3"}, NOW),
        (v3_headers(KEY.decode(), URL, body, NOW, method="GET"), NOW),
    ):
        with pytest.raises(AuthError) as caught:
            inbound.authenticate(KEY, URL, _request(body, headers), now)
        assert caught.value.status == 401
    assert inbound.request_uri(URL, {"a": "b:c"}) == URL + "?a=b:c"


def _message(**fields: Any) -> Message:
    base: dict[str, Any] = {"kind": Kind.TEXT, "id": "m1", "origin": "wa", "conversation": Address("wa", "5511")}
    return Message(**(base | fields))


def test_publish_body_identifiers_and_formatting() -> None:
    phone = _message(sender=Party(id="5511", name="Ana", phone="5511987654321"), text=RichText.of("hi"))
    body = convert.publish_body(phone, "2001", "c2.k1.x", "idem", [("f1", "image/png")], "opaque", 901)
    assert body["senders"] == [
        {"deliveryIdentifier": {"type": "HS_PHONE_NUMBER", "value": "+5511987654321"}, "name": "Ana"}
    ]
    assert body["attachments"] == [{"type": "FILE", "fileId": "f1", "fileUsageType": "IMAGE"}]
    assert body["associateWithContactId"] == 901 and body["messageDirection"] == "INCOMING" and "richText" not in body
    mail = convert.delivery_identifier(Party(id="x", email="a@example.org"), "fallback")
    assert mail == {"type": "HS_EMAIL_ADDRESS", "value": "a@example.org"}
    assert convert.delivery_identifier(None, "fallback") == {"type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": "fallback"}
    styled = convert.publish_body(_message(text=RichText.of("a") + RichText.of("")), "1", "t", "i", [], "o")
    assert styled["text"] == "a"
    opted = convert.publish_body(_message(kind=Kind.OPT_OUT), "1", "t", "i", [], "o")
    assert "opted out" in opted["text"]


def test_split_parts_get_their_own_idempotency_key() -> None:
    one, two = _message(text=RichText.of("part one")), _message(text=RichText.of("part two"))
    assert convert.idempotency_source(one) != convert.idempotency_source(two)
    assert convert.idempotency_source(one) == convert.idempotency_source(_message(text=RichText.of("part one")))
    filed = _message(attachments=(Attachment(name="a.png", size=3),))
    assert convert.idempotency_source(filed) != convert.idempotency_source(_message())


def test_status_bodies_are_content_free() -> None:
    read = _message(kind=Kind.STATUS, ref="hs1", status=Status.READ)
    assert convert.status_body(read) == {"statusType": "READ"}
    failed = _message(kind=Kind.STATUS, ref="hs1", status=Status.FAILED, reason="recipient_unreachable")
    assert convert.status_body(failed) == {
        "statusType": "FAILED",
        "errorMessage": "Not delivered: recipient unreachable",
    }
    assert convert.status_body(_message(kind=Kind.STATUS, ref="hs1", status=Status.DELIVERED)) is None
    assert convert.status_body(_message(kind=Kind.STATUS, status=Status.READ)) is None


def test_answers_become_reasons() -> None:
    assert convert.message_id(_answer(200, {"id": "abc"})) == "abc"
    with pytest.raises(DeliveryError) as bad:
        convert.message_id(_answer(200, {}))
    assert bad.value.reason is Reason.PLATFORM_BAD_RESPONSE
    ten = convert.refusal(
        _answer(429, {"policyName": "TEN_SECONDLY_ROLLING"}, **{"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})
    )
    assert (ten.reason, ten.retry_after, ten.scope) == (Reason.THROTTLED, 10.0, "connector")
    assert convert.refusal(_answer(429, {"policyName": "SECONDLY"})).retry_after == 1.0
    assert convert.refusal(_answer(429, {"policyName": "DAILY"})).retry_after == 3600.0
    assert convert.refusal(_answer(429, {}, **{"Retry-After": "3"})).retry_after == 3.0
    validation = convert.refusal(_answer(400, {"category": "VALIDATION_ERROR", "message": "secret text"}))
    assert validation.reason is Reason.PLATFORM_REJECTED and validation.detail == "400 VALIDATION_ERROR"
    assert convert.refusal(_answer(502, None)).retryable


def test_token_answers() -> None:
    grant, rotated = convert.grant_of(_answer(200, {"access_token": "a", "refresh_token": "r", "expires_in": 1800}))
    assert grant.expires_in == 1800 and grant.token.reveal() == "a" and rotated is not None
    assert repr(grant.token) == "***"
    with pytest.raises(TokenRevoked):
        convert.grant_of(_answer(400, {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"}))
    with pytest.raises(TokenRevoked) as revoked:
        convert.grant_of(_answer(400, {"error": "invalid_grant", "error_description": "refresh token is revoked"}))
    assert revoked.value.detail == "invalid_grant"
    camel, _ = convert.grant_of(_answer(200, {"accessToken": "b", "expiresIn": 600}))
    assert camel.token.reveal() == "b" and camel.expires_in == 600
    with pytest.raises(DeliveryError) as busy:
        convert.grant_of(_answer(503, None))
    assert busy.value.reason is Reason.TOKEN_UNAVAILABLE and busy.value.retryable


def _event(**message: Any) -> dict[str, Any]:
    base = {"id": "m9", "direction": "OUTGOING", "channelId": "1001", "text": "hi", "client": {"clientType": "HUBSPOT"}}
    return {"type": convert.OUTGOING, "channelIntegrationThreadIds": ["t"], "message": base | message}


def test_only_agents_messages_on_this_channel_are_relayed() -> None:
    def relayed(raw: dict[str, Any]) -> bool:
        return convert.relayed(convert.event_of(raw), 424242, "1001")

    assert relayed(_event())
    assert not relayed(_event(direction="INCOMING"))
    assert not relayed(_event(client={"clientType": "INTEGRATION", "integrationAppId": 424242}))
    assert relayed(_event(client={"clientType": "INTEGRATION", "integrationAppId": 7}))
    assert not relayed(_event(channelId="1002"))
    assert not relayed({"type": "CHANNEL_ACCOUNT_UPDATED"})
    with pytest.raises(ValueError, match=r"message\.id"):
        convert.event_of({"type": convert.OUTGOING, "message": {"id": ""}})


def test_parse_refuses_forged_references_and_empty_messages() -> None:
    sealer = Sealer("test", [WorkspaceKey("k1", b"test-workspace-key-0123456789abcdef")])
    conversation = sealer.seal(Address("webchat", "v1"))
    raw = _event(attachments=[{"type": "FILE", "fileId": "55", "name": "a.pdf"}])
    raw["channelIntegrationThreadIds"] = [conversation]
    found = inbound.parse("hubspot", sealer, 424242, "1001", _request(json.dumps(raw).encode(), {}))
    (message,) = found.groups[0]
    assert message.kind is Kind.MEDIA and message.conversation == Address("webchat", "v1")
    assert message.attachments[0].mime == "application/pdf" and message.attachments[0].ref is not None
    raw["channelIntegrationThreadIds"] = [conversation[:-4] + "AAAA"]
    with pytest.raises(AuthError):
        inbound.parse("hubspot", sealer, 424242, "1001", _request(json.dumps(raw).encode(), {}))
    empty = _event(text=" ")
    empty["channelIntegrationThreadIds"] = [conversation]
    with pytest.raises(BadRequest):
        inbound.parse("hubspot", sealer, 424242, "1001", _request(json.dumps(empty).encode(), {}))
