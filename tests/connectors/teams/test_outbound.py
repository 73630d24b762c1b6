"""Outbound: replies into the right conversation/thread, tokens from msal, error codes, check()."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from relay.errors import DeliveryError
from relay.model import Address, Attachment, Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText, from_markdown
from relay.seal import legacy_handle
from tests.conftest import RelayFactory, workspace
from tests.connectors.teams.conftest import Setup, teams_config
from tests.connectors.teams.fakes import APP_ID, SECRET, TENANT, BotFramework, Entra, payload, rsa_key
from tests.core.test_seal import SEALED_C1_TEAMS

PERSONAL = "a:1XyZPersonalChat"
CHANNEL = "19:c0ffee00supportchannel@thread.tacv2;messageid=1736935000001"


def address(setup: Setup, chat: str = PERSONAL, service: str | None = None) -> Address:
    thread = chat.partition(";messageid=")[2] or None
    return Address("teams", chat, thread, legacy_handle(service or setup.service, "personal"))


def message(setup: Setup, text: str | RichText = "Shipped **today**", **kw: Any) -> Message:
    rich = from_markdown(text) if isinstance(text, str) else text
    fields: dict[str, Any] = {
        "kind": Kind.TEXT,
        "id": "crm-1",
        "origin": "inbox",
        "conversation": address(setup),
        "text": rich,
    }
    fields.update(kw)
    return Message(**fields)


async def test_reply_in_personal_chat(setup: Setup) -> None:
    pid = await setup.teams.send(message(setup, ref="1736935200123"))
    assert pid == "act-1"
    sent = setup.cloud.sent[0]
    assert (sent.method, sent.conversation, sent.reply_to) == ("POST", PERSONAL, "1736935200123")
    assert sent.auth == "Bearer fake-bot-token-1"
    assert sent.body == {
        "type": "message",
        "textFormat": "markdown",
        "text": "Shipped **today**",
        "replyToId": "1736935200123",
    }
    form = setup.entra.forms[0]
    assert form["grant_type"] == "client_credentials" and form["client_id"] == APP_ID
    assert form["client_secret"] == SECRET and form["scope"] == "https://api.botframework.com/.default"


async def test_message_in_channel_thread_keeps_the_thread(setup: Setup) -> None:
    await setup.teams.send(message(setup, conversation=address(setup, CHANNEL)))
    sent = setup.cloud.sent[0]
    assert sent.conversation == CHANNEL and sent.reply_to is None


async def test_hundred_sends_need_one_token_request(setup: Setup) -> None:
    ids = await asyncio.gather(*[setup.teams.send(message(setup, id=f"m{i}")) for i in range(100)])
    assert len(set(ids)) == 100
    assert setup.entra.token_requests == 1
    assert {s.auth for s in setup.cloud.sent} == {"Bearer fake-bot-token-1"}


async def test_429_is_retryable_with_retry_after(setup: Setup) -> None:
    setup.cloud.failures.append((429, {"Retry-After": "7"}, {"error": {"code": "Throttled"}}))
    with pytest.raises(DeliveryError) as err:
        await setup.teams.send(message(setup))
    assert (err.value.retryable, err.value.retry_after, err.value.scope) == (True, 7.0, "chat")


@pytest.mark.parametrize("status", [412, 502, 503, 504])
async def test_transient_statuses_are_retryable(setup: Setup, status: int) -> None:
    setup.cloud.failures.append((status, {}, {"error": {"code": "ServiceError"}}))
    with pytest.raises(DeliveryError) as err:
        await setup.teams.send(message(setup))
    assert err.value.retryable and err.value.scope == "chat"


@pytest.mark.parametrize(
    ("status", "reason", "detail"),
    [
        (400, Reason.PLATFORM_REJECTED, "NotEnoughPermissions"),
        (401, Reason.PLATFORM_AUTH_FAILED, "401"),
        (404, Reason.PLATFORM_REJECTED, "NotEnoughPermissions"),
        (413, Reason.MESSAGE_TOO_LARGE, "413"),
        (500, Reason.PLATFORM_REJECTED, "NotEnoughPermissions"),
        (403, Reason.PLATFORM_REJECTED, "NotEnoughPermissions"),
    ],
)
async def test_permanent_statuses_are_not_retried(setup: Setup, status: int, reason: Reason, detail: str) -> None:
    setup.cloud.failures.append((status, {}, {"error": {"code": "NotEnoughPermissions"}}))
    with pytest.raises(DeliveryError) as err:
        await setup.teams.send(message(setup))
    assert (err.value.retryable, err.value.reason, err.value.unreachable) == (False, reason, False)
    assert err.value.detail == detail


@pytest.mark.parametrize("code", ["ConversationBlockedByUser", "BotNotInConversationRoster", "BotDisabledByAdmin"])
async def test_403_blocked_stops_sending_until_the_user_writes_again(setup: Setup, code: str) -> None:
    setup.cloud.failures.append((403, {}, {"error": {"code": code, "message": "x"}}))
    with pytest.raises(DeliveryError) as err:
        await setup.teams.send(message(setup))
    assert (err.value.reason, err.value.unreachable, err.value.retryable) == (Reason.RECIPIENT_UNREACHABLE, True, False)
    assert err.value.detail == code
    with pytest.raises(DeliveryError):
        await setup.teams.send(message(setup, id="crm-2"))
    assert len(setup.cloud.sent) == 1
    other = await setup.teams.send(message(setup, conversation=address(setup, CHANNEL)))
    assert other and len(setup.cloud.sent) == 2

    assert (await setup.post(payload("personal_message", setup.service))).status == 200
    assert await setup.teams.send(message(setup, id="crm-3"))
    assert len(setup.cloud.sent) == 3


async def test_blocked_conversation_fails_the_crm_message(setup: Setup) -> None:
    assert (await setup.post(payload("personal_message", setup.service))).status == 200
    ref = (await setup.conversations())[0]["conversation"]
    setup.cloud.failures.append((403, {}, {"error": {"code": "ConversationBlockedByUser"}}))
    resp = await setup.reply(ref, "hello")
    assert resp.status == 422
    body = await resp.json()
    assert (body["status"], body["reason"]) == ("failed", "recipient_unreachable")


async def test_token_never_goes_to_an_unknown_service_url(setup: Setup) -> None:
    for service in ("https://evil.example.com/", "http://smba.trafficmanager.net/emea/"):
        with pytest.raises(DeliveryError) as err:
            await setup.teams.send(message(setup, conversation=address(setup, service=service)))
        assert (err.value.reason, err.value.detail) == (Reason.HOST_NOT_ALLOWED, "service_url")
    assert setup.entra.token_requests == 0 and setup.cloud.sent == []


async def test_edit_and_delete(setup: Setup) -> None:
    await setup.teams.send(message(setup, kind=Kind.EDIT, ref="act-9", text="fixed"))
    await setup.teams.send(message(setup, kind=Kind.DELETE, ref="act-9", text=""))
    edit, delete = setup.cloud.sent
    assert (edit.method, edit.reply_to, edit.body and edit.body["id"]) == ("PUT", "act-9", "act-9")
    assert (delete.method, delete.reply_to) == ("DELETE", "act-9")


async def test_image_inline_and_file_as_link(setup: Setup) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    atts = (
        Attachment(name="photo.png", mime="image/png", size=len(png), data=png),
        Attachment(name="terms.pdf", mime="application/pdf", url="https://crm.example.com/terms.pdf"),
    )
    await setup.teams.send(message(setup, kind=Kind.MEDIA, text="see", attachments=atts))
    body = setup.cloud.sent[0].body
    assert body is not None
    assert body["attachments"] == [
        {
            "contentType": "image/png",
            "name": "photo.png",
            "contentUrl": "data:image/png;base64," + base64.b64encode(png).decode(),
        }
    ]
    assert body["text"] == "see\n\n[📎 terms.pdf](https://crm.example.com/terms.pdf)"


async def test_oversized_markup_falls_back_to_plain_text(setup: Setup) -> None:
    text = "*" * 12_000
    await setup.teams.send(message(setup, text=RichText.of(text)))
    body = setup.cloud.sent[0].body
    assert body is not None and body["textFormat"] == "plain" and body["text"] == text


async def test_check_reports_whether_a_token_can_be_obtained(setup: Setup) -> None:
    checks = await setup.teams.check()
    assert checks[0].what == "token" and checks[0].ok and checks[0].detail == "obtained"
    assert checks[1].ok


async def test_check_reports_a_refused_credential(setup: Setup) -> None:
    setup.entra.refuse = True
    checks = await setup.teams.check()
    assert (checks[0].ok, checks[0].detail) == (False, "invalid_client")
    assert SECRET not in repr(checks)
    with pytest.raises(DeliveryError) as err:
        await setup.teams.send(message(setup))
    assert (err.value.reason, err.value.detail) == (Reason.PLATFORM_AUTH_FAILED, "invalid_client")
    assert not err.value.retryable


async def test_certificate_credential_gets_a_token(
    start_relay: RelayFactory, cloud: BotFramework, entra: Entra
) -> None:
    pem = rsa_key("client-cert").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert = {"private_key_pem": pem.decode(), "thumbprint": "0f" * 20}
    config = teams_config(cloud, entra, app_secret=None, certificate=cert)
    raw = workspace({"teams": config, "inbox": {"type": "inbox"}}, [{"from": ["teams"], "to": "inbox"}])
    _, relay = await start_relay(raw)
    checks = await relay.connectors["teams"].check()
    assert (checks[0].ok, checks[0].detail) == (True, "obtained")
    form = entra.forms[0]
    assert "client_secret" not in form
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    header = jwt.get_unverified_header(form["client_assertion"])
    assert header["alg"] == "RS256" and header["x5t"]


async def test_check_reports_an_unreachable_authority(
    start_relay: RelayFactory, cloud: BotFramework, entra: Entra
) -> None:
    config = teams_config(cloud, entra, authority=f"https://127.0.0.1:1/{TENANT}")
    raw = workspace({"teams": config, "inbox": {"type": "inbox"}}, [{"from": ["teams"], "to": "inbox"}])
    _, relay = await start_relay(raw)
    checks = await relay.connectors["teams"].check()
    assert (checks[0].what, checks[0].ok) == ("token", False)
    assert checks[0].detail in ("token_endpoint_unreachable", "authority_or_credential_invalid")


async def test_a_reference_sealed_in_the_first_format_still_answers(setup: Setup) -> None:
    """A c1 reference (instance, chat, thread, service URL, tenant, chat type) still reaches the Bot Connector;
    its service URL is pointed at the fake by sealing it again exactly as the first format did."""
    sealer = setup.relay.sealer
    fields = sealer._open("c1", SEALED_C1_TEAMS)
    assert fields[3:] == ["https://smba.trafficmanager.net/emea/", "tenant-1", "channel"]
    assert sealer._seal("c1", fields) == SEALED_C1_TEAMS, "re-sealing gives the first format's exact string"
    fields[3] = setup.service
    legacy = sealer._seal("c1", fields)
    assert sealer.open(legacy).handle == legacy_handle(setup.service, "channel")
    resp = await setup.reply(legacy, "still answering")
    assert resp.status == 200, await resp.text()
    sent = setup.cloud.posted
    assert [(s.method, s.conversation, s.reply_to) for s in sent] == [("POST", "19:abc;messageid=42", None)]
    assert sent[0].body and sent[0].body["text"] == "still answering"
    assert sent[0].auth == "Bearer fake-bot-token-1"
