"""Outbound and inbound logic against a tiny local fake of BottleCRM (fast, no peer)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from connectors.bottlecrm.connector import BottleCrmConnector
from connectors.bottlecrm.convert import marker_in
from relay.errors import DeliveryError
from relay.http import sign
from relay.model import Address, Kind, Message, Party, Status
from relay.richtext import RichText
from tests.conftest import RelayFactory, chat_token, workspace
from tests.connectors.bottlecrm.fake import AGENT_PROFILE, SECRET, TOKEN, FakeCrm, payload, signed


@pytest.fixture
async def fake(aiohttp_server: Any) -> tuple[FakeCrm, str]:
    crm = FakeCrm()
    server = await aiohttp_server(crm.app())
    return crm, str(server.make_url("")).rstrip("/")


async def relay_for(start_relay: RelayFactory, url: str, **extra: Any) -> tuple[Any, Any, BottleCrmConnector]:
    cfg = {"type": "bottlecrm", "api_base_url": url, "api_token": TOKEN, "webhook_secret": SECRET, **extra}
    raw = workspace({"webchat": {"type": "webchat"}, "crm": cfg}, [{"from": ["webchat"], "to": "crm"}])
    client, relay = await start_relay(raw)
    conn = relay.connectors["crm"]
    assert isinstance(conn, BottleCrmConnector)
    return client, relay, conn


def customer(chat: str = "v1", **sender: Any) -> Message:
    return Message(
        kind=Kind.TEXT,
        id=f"{chat}:m",
        origin="webchat",
        conversation=Address("webchat", chat),
        sender=Party(id=chat, **sender),
        text=RichText.of("hello"),
    )


async def events(client: Any, chat: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await (await client.get("/hooks/webchat/api/events?since=-1", headers=chat)).json())[
        "items"
    ]
    return items


async def test_new_sender_gets_contact_with_marker_and_is_found_again(start_relay: RelayFactory, fake: Any) -> None:
    crm, url = fake
    _, relay, conn = await relay_for(start_relay, url)
    first = await conn.send(customer(name="Ana"))
    (contact,) = crm.records["contact"].values()
    assert marker_in(contact["description"]) == relay.sealer.seal(Address("webchat", "v1"))
    assert contact["last_name"].startswith("[r")
    await relay.store.close()
    second = await conn.send(customer(name="Ana"))
    assert len(crm.records["contact"]) == 1 and first != second
    assert [i["contact"] for i in crm.interactions] == [contact["id"]] * 2
    assert all(i["direction"] == "inbound" and i["kind"] == "sms" for i in crm.interactions)


async def test_phone_match_reuses_contact_and_keeps_its_notes(start_relay: RelayFactory, fake: Any) -> None:
    crm, url = fake
    rid = crm.add("contact", first_name="Rui", last_name="Costa", phone="+351913000111", description="VIP")
    _, relay, conn = await relay_for(start_relay, url)
    await conn.send(customer(phone="+351913000111"))
    assert len(crm.records["contact"]) == 1
    notes = crm.records["contact"][rid]["description"]
    assert notes.startswith("VIP\n") and marker_in(notes) == relay.sealer.seal(Address("webchat", "v1"))
    await conn.send(customer(phone="+351913000111"))
    assert crm.calls.count(f"PATCH /api/contacts/{rid}/") == 1


async def test_lead_mode_creates_lead(start_relay: RelayFactory, fake: Any) -> None:
    crm, url = fake
    _, _, conn = await relay_for(start_relay, url, record="lead", interaction_kind={"webchat": "whatsapp"})
    await conn.send(customer(email="rita@example.org"))
    (lead,) = crm.records["lead"].values()
    assert lead["email"] == "rita@example.org" and crm.interactions[0]["lead"] == lead["id"]
    assert crm.interactions[0]["kind"] == "whatsapp"


@pytest.mark.parametrize(
    ("status", "retryable", "reason"),
    [
        (429, True, "throttled"),
        (503, True, "throttled"),
        (500, False, "platform_busy"),
        (403, False, "platform_auth_failed"),
        (400, False, "platform_rejected"),
    ],
)
async def test_send_errors(start_relay: RelayFactory, fake: Any, status: int, retryable: bool, reason: str) -> None:
    crm, url = fake
    _, _, conn = await relay_for(start_relay, url)
    crm.script("/api/interactions/", status)
    with pytest.raises(DeliveryError) as exc:
        await conn.send(customer())
    assert (exc.value.retryable, exc.value.reason, exc.value.detail) == (retryable, reason, str(status))
    if status == 429:
        assert exc.value.retry_after == 7 and exc.value.scope == "connector"


async def test_unreachable_crm_is_retryable(start_relay: RelayFactory) -> None:
    _, _, conn = await relay_for(start_relay, "http://127.0.0.1:9")
    with pytest.raises(DeliveryError) as exc:
        await conn.send(customer())
    assert exc.value.retryable and exc.value.reason == "platform_unreachable"


async def test_failure_status_becomes_a_comment(start_relay: RelayFactory, fake: Any) -> None:
    crm, url = fake
    _, _, conn = await relay_for(start_relay, url)
    await conn.send(customer())
    status = Message(
        kind=Kind.STATUS,
        id="s1",
        origin="crm",
        conversation=Address("webchat", "v1"),
        ref="i1",
        status=Status.FAILED,
        reason="recipient_unreachable",
    )
    await conn.send(status)
    ((rid, text),) = crm.comments
    assert rid in crm.records["contact"] and "recipient_unreachable" in text
    assert await conn.send(status.with_(status=Status.DELIVERED)) == "status:s1"
    assert len(crm.comments) == 1


async def test_check_reports_token_and_unknown_webhook(start_relay: RelayFactory, fake: Any) -> None:
    _, url = fake
    _, _, conn = await relay_for(start_relay, url)
    checks = {c.what: c for c in await conn.check()}
    assert checks["API token"].ok and checks["webhook secret"].ok
    assert checks["webhook registered"].ok is None and "cannot read webhooks" in checks["webhook registered"].detail
    _, _, bad = await relay_for(start_relay, url, api_token="bcrm_pat_wrong-0123456789")
    assert [c.ok for c in await bad.check()] == [False]


async def _reply_setup(start_relay: RelayFactory, fake: Any, **extra: Any) -> tuple[Any, dict[str, str], FakeCrm, str]:
    crm, url = fake
    client, _, _ = await relay_for(start_relay, url, **extra)
    chat = await chat_token(client)
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "m1", "text": "hi"}, headers=chat)
    assert (await resp.json())["status"] == "delivered"
    (rid,) = crm.records["contact"]
    return client, chat, crm, rid


async def test_agent_reply_delivered_once_and_forgeries_refused(start_relay: RelayFactory, fake: Any) -> None:
    client, chat, _, rid = await _reply_setup(start_relay, fake)
    body = payload("interaction_created")
    body["data"]["contact_id"] = rid
    raw, headers = signed(body)
    stale = {**headers, "X-BottleCRM-Signature": sign(SECRET.encode(), raw, now=int(time.time()) - 3600)}
    forged = {**headers, "X-BottleCRM-Signature": sign(b"whsec_other-secret-0123", raw)}
    for bad in ({"Content-Type": "application/json"}, stale, forged):
        assert (await client.post("/hooks/crm/", data=raw, headers=bad)).status == 401
    assert await events(client, chat) == []
    for _ in range(3):
        resp = await client.post("/hooks/crm/", data=raw, headers=headers)
        assert resp.status == 200, await resp.text()
    assert [i["html"] for i in await events(client, chat)] == ["Shipped today"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"direction": "inbound"}, "not_outbound"),
        ({"logged_by": "bbbbbbbb-0000-4000-8000-000000000002"}, "relay_own"),
        ({"kind": "call"}, "not_a_text_kind"),
    ],
)
async def test_non_replies_are_ignored(
    start_relay: RelayFactory, fake: Any, change: dict[str, str], reason: str
) -> None:
    client, chat, _, rid = await _reply_setup(start_relay, fake)
    body = payload("interaction_created")
    body["data"].update(contact_id=rid, **change)
    raw, headers = signed(body)
    resp = await client.post("/hooks/crm/", data=raw, headers=headers)
    assert resp.status == 200 and (await resp.json()) == {"status": "ignored", "reason": reason}
    raw, headers = signed(payload("ping"))
    assert (await (await client.post("/hooks/crm/", data=raw, headers=headers)).json())["status"] == "ignored"
    assert await events(client, chat) == []


async def test_unreadable_record_asks_for_redelivery(start_relay: RelayFactory, fake: Any) -> None:
    client, chat, crm, rid = await _reply_setup(start_relay, fake)
    body = payload("interaction_created")
    body["data"]["contact_id"] = rid
    raw, headers = signed(body)
    crm.script(f"/api/contacts/{rid}/", 500)
    resp = await client.post("/hooks/crm/", data=raw, headers=headers)
    assert resp.status == 503 and "Retry-After" in resp.headers
    assert await events(client, chat) == []
    assert (await client.post("/hooks/crm/", data=raw, headers=headers)).status == 200
    assert len(await events(client, chat)) == 1


async def test_contact_without_marker_or_with_bad_marker_is_ignored(start_relay: RelayFactory, fake: Any) -> None:
    client, chat, crm, _ = await _reply_setup(start_relay, fake)
    plain = crm.add("contact", first_name="X", last_name="Y", description="no marker")
    bad = crm.add("contact", first_name="X", last_name="Z", description="relay-conversation: c1.k1.forged")
    for rid, reason in ((plain, "no_conversation"), (bad, "invalid_conversation_reference")):
        body = payload("interaction_created")
        body["data"]["contact_id"] = rid
        raw, headers = signed(body)
        assert (await (await client.post("/hooks/crm/", data=raw, headers=headers)).json())["reason"] == reason
    assert await events(client, chat) == []


async def test_comment_mode_reads_the_ticket_contact(start_relay: RelayFactory, fake: Any) -> None:
    client, chat, crm, rid = await _reply_setup(start_relay, fake, reply_source="comment")
    body = payload("ticket_comment_added")
    crm.records["case"][body["data"]["ticket_id"]] = {
        "id": body["data"]["ticket_id"],
        "description": None,
        "contacts": [{"id": rid}],
    }
    raw, headers = signed(body)
    assert (await client.post("/hooks/crm/", data=raw, headers=headers)).status == 200
    assert [i["html"] for i in await events(client, chat)] == ["We sent a replacement"]
    raw, headers = signed(payload("interaction_created"))
    assert (await (await client.post("/hooks/crm/", data=raw, headers=headers)).json())["status"] == "ignored"
    assert body["data"]["commented_by"] == AGENT_PROFILE and json.dumps(body)


async def test_reference_sealed_by_the_first_format_still_answers(start_relay: RelayFactory, fake: Any) -> None:
    crm, url = fake
    client, relay, _ = await relay_for(start_relay, url)
    chat = await chat_token(client)
    visitor = chat["X-Webchat-Token"].split(".")[0]
    # Written into the notes by the relay before references held a handle (c1: six fields).
    legacy = relay.sealer._seal("c1", ["webchat", visitor, None, None, None, None])
    rid = crm.add("contact", first_name="Old", last_name="Timer", description=f"VIP\nrelay-conversation: {legacy}")
    body = payload("interaction_created")
    body["data"]["contact_id"] = rid
    raw, headers = signed(body)
    resp = await client.post("/hooks/crm/", data=raw, headers=headers)
    assert resp.status == 200 and (await resp.json())["status"] == "delivered", await resp.text()
    assert [i["html"] for i in await events(client, chat)] == ["Shipped today"]
