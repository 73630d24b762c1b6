"""Inbound: webhook secret, every update type to the CRM, redelivery, and long polling with its offset."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest

from connectors.telegram import TelegramConnector
from relay import config
from relay.app import RELAY_KEY, create_app
from relay.state import MemoryStateStore
from tests.conftest import RelayFactory
from tests.connectors.telegram.fake_api import SECRET, TOKEN, FakeTelegram
from tests.connectors.telegram.helpers import SECRET_HEADER, payload, to_crm
from tests.support.crm_sink import CrmSink

Fake = tuple[FakeTelegram, str]
Sink = tuple[CrmSink, str]
HEADERS = {SECRET_HEADER: SECRET}


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < end, "condition not reached"
        await asyncio.sleep(0.02)


async def test_start_registers_webhook_with_secret_and_no_token_in_path(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    fake, api = fake_tg
    await start_relay(to_crm(api, crm_sink[1]))
    assert fake.webhook["url"].endswith("/hooks/tg/")
    assert TOKEN not in fake.webhook["url"] and TOKEN.split(":")[1] not in fake.webhook["url"]
    assert fake.webhook["secret_token"] == SECRET
    assert set(fake.webhook["allowed_updates"]) == {"message", "edited_message", "callback_query", "message_reaction"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {SECRET_HEADER: "wrong-secret"},
        {SECRET_HEADER: SECRET + "x"},
        {SECRET_HEADER: ""},
        {"X-Telegram-Bot-Api-Secret": SECRET},
    ],
)
async def test_wrong_or_missing_secret_is_403_and_nothing_forwarded(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink, headers: dict[str, str]
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(fake_tg[1], url))
    resp = await client.post("/hooks/tg/", json=payload("text"), headers=headers)
    assert resp.status == 403
    assert sink.calls == 0 and sink.received == []


async def test_not_an_update_is_400_after_authentication(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    client, _ = await start_relay(to_crm(fake_tg[1], crm_sink[1]))
    assert (await client.post("/hooks/tg/", data=b"{oops", headers=HEADERS)).status == 400
    assert (await client.post("/hooks/tg/", json={"message": {}}, headers=HEADERS)).status == 400
    assert crm_sink[0].calls == 0


TEXT = payload("text")["message"]


@pytest.mark.parametrize(
    "message",
    [
        "Hallo",
        TEXT | {"chat": "123456789"},
        TEXT | {"chat": {"id": "123456789", "type": "private"}},
        TEXT | {"message_id": "42"},
        TEXT | {"text": 42},
        TEXT | {"from": ["Ana"]},
        TEXT | {"date": 10**30},
    ],
)
async def test_odd_update_after_authentication_is_ignored(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink, message: Any
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(fake_tg[1], url))
    resp = await client.post("/hooks/tg/", json={"update_id": 583920200, "message": message}, headers=HEADERS)
    assert resp.status == 200 and await resp.json() == {"status": "ignored"}
    assert sink.calls == 0


async def test_junk_entities_still_deliver_the_text(start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(fake_tg[1], url))
    junk = [None, 3, "bold", {"type": "bold", "offset": "0", "length": 4}, {"type": "italic", "offset": 0, "length": 5}]
    body = payload("text", message=TEXT | {"entities": junk})
    resp = await client.post("/hooks/tg/", json=body, headers=HEADERS)
    assert resp.status == 200 and (await resp.json())["status"] == "delivered"
    (got,) = sink.received
    assert got["message"]["text"] == TEXT["text"] and got["message"]["markdown"].startswith("*Hallo*")


async def test_a_failing_conversion_is_logged_and_ignored(
    start_relay: RelayFactory,
    fake_tg: Fake,
    crm_sink: Sink,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_: Any) -> None:
        raise ValueError("odd update")

    monkeypatch.setattr("connectors.telegram.inbound.to_message", broken)
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(fake_tg[1], url))
    resp = await client.post("/hooks/tg/", json=payload("text"), headers=HEADERS)
    assert resp.status == 200 and await resp.json() == {"status": "ignored"}
    assert sink.calls == 0
    assert [r.getMessage() for r in caplog.records if getattr(r, "error", None) == "ValueError"] == [
        "update not understood"
    ]


async def test_every_inbound_type_reaches_the_crm(start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink) -> None:
    sink, url = crm_sink
    client, relay = await start_relay(to_crm(fake_tg[1], url))
    names = [
        "start",
        "text",
        "photo",
        "document",
        "voice",
        "audio",
        "video",
        "sticker",
        "location",
        "contact",
        "reply",
        "edited",
    ]
    for name in names:
        resp = await client.post("/hooks/tg/", json=payload(name), headers=HEADERS)
        assert resp.status == 200, (name, await resp.text())
        assert (await resp.json())["status"] == "delivered", name
    by_id = {b["message"]["id"]: b for b in sink.received}
    assert len(sink.received) == len(names)
    assert by_id["123456789:1"]["message"]["text"] == "/start"
    text = by_id["123456789:42"]
    assert text["type"] == "message" and text["message"]["markdown"].endswith("**bold**")
    assert text["sender"] == {
        "id": "123456789",
        "name": "Ana Lima",
        "username": "ana_l",
        "language": "de",
        "is_bot": False,
    }
    assert {b["conversation"] for b in sink.received} == {text["conversation"]}
    for mid, mime in (
        ("43", "image/jpeg"),
        ("44", "application/pdf"),
        ("45", "audio/ogg"),
        ("46", "audio/mpeg"),
        ("47", "video/mp4"),
    ):
        (att,) = by_id[f"123456789:{mid}"]["message"]["attachments"]
        assert att["mime"] == mime and att["url"].startswith(relay.public_url + "/media/")
        assert TOKEN not in att["url"] and "file/bot" not in att["url"]
    assert by_id["123456789:48"]["message"]["text"] == "[sticker 😀]"
    assert "maps.google.com" in by_id["123456789:49"]["message"]["text"]
    assert "+49301234567" in by_id["123456789:50"]["message"]["text"]
    assert by_id["123456789:51"]["message"]["reply_to"] == "123456789:1001"
    edit = sink.messages("edit")[0]
    assert edit["message"]["reply_to"] == "crm-2" and edit["message"]["text"] == "Hallo, wo ist meine Lieferung?"


async def test_redelivered_update_is_acknowledged_and_forwarded_once(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(fake_tg[1], url))
    first = await asyncio.gather(*[client.post("/hooks/tg/", json=payload("text"), headers=HEADERS) for _ in range(4)])
    later = await client.post("/hooks/tg/", json=payload("text"), headers=HEADERS)
    assert [r.status for r in [*first, later]] == [200] * 5
    assert (await later.json())["status"] == "duplicate"
    assert len(sink.received) == 1


async def test_groups_are_ignored_unless_accepted(start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(fake_tg[1], url))
    resp = await client.post("/hooks/tg/", json=payload("group_text"), headers=HEADERS)
    assert resp.status == 200 and (await resp.json())["status"] == "ignored"
    assert sink.calls == 0
    client2, _ = await start_relay(to_crm(fake_tg[1], url, {"accept_groups": True}))
    resp = await client2.post("/hooks/tg/", json=payload("group_text"), headers=HEADERS)
    assert (await resp.json())["status"] == "delivered"
    assert sink.received[0]["message"]["id"] == "-1001234567890:77"


async def test_crm_down_means_503_and_the_redelivery_is_forwarded(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(to_crm(fake_tg[1], url, {"ack_deadline": 0.6}))
    sink.mode = "500"
    resp = await client.post("/hooks/tg/", json=payload("text"), headers=HEADERS)
    assert resp.status == 503 and "Retry-After" in resp.headers
    sink.mode = "ok"
    resp = await client.post("/hooks/tg/", json=payload("text"), headers=HEADERS)
    assert resp.status == 200 and (await resp.json())["status"] == "delivered"
    assert len(sink.received) == 1


async def test_polling_removes_webhook_and_delivers_in_order(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    fake.webhook = {"url": "https://old.example/hook"}
    for name in ("start", "text", "photo"):
        fake.push(payload(name))
    client, relay = await start_relay(to_crm(api, url, {"mode": "polling", "secret_token": None}))
    assert relay.connectors["tg"].routes() == ()
    await eventually(lambda: len(sink.received) == 3)
    assert [b["message"]["id"] for b in sink.received] == ["123456789:1", "123456789:42", "123456789:43"]
    assert fake.methods().index("deleteWebhook") < fake.methods().index("getUpdates")
    await eventually(lambda: 583920115 in fake.offsets)
    assert (await client.post("/hooks/tg/", json=payload("text"), headers=HEADERS)).status == 404


async def test_polling_offset_not_advanced_past_a_failed_delivery(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    sink.mode = "500"
    fake.push(payload("text"))
    await start_relay(to_crm(api, url, {"mode": "polling", "secret_token": None, "ack_deadline": 0.4}))
    await eventually(lambda: sink.calls >= 2 and len(fake.offsets) >= 3)
    assert 583920114 not in fake.offsets
    assert fake.updates and fake.updates[0]["update_id"] == 583920113
    sink.mode = "ok"
    await eventually(lambda: 583920114 in fake.offsets)
    assert [b["message"]["id"] for b in sink.received] == ["123456789:42"]


async def test_one_chat_failing_does_not_hold_back_another(
    start_relay: RelayFactory, fake_tg: Fake, crm_sink: Sink
) -> None:
    api = fake_tg[1]
    sink, url = crm_sink
    _, relay = await start_relay(to_crm(api, url, {"mode": "polling", "secret_token": None, "accept_groups": True}))
    poller = cast(TelegramConnector, relay.connectors["tg"]).poller
    assert poller is not None
    sink.fail_times, sink.fail_status = 1, 400
    ok = await poller.deliver([payload("text"), payload("group_text")])
    assert ok and len(sink.received) == 1


async def test_only_one_replica_polls(
    aiohttp_client: Callable[..., Awaitable[Any]], fake_tg: Fake, crm_sink: Sink
) -> None:
    fake, api = fake_tg
    sink, url = crm_sink
    store = MemoryStateStore()
    loaded = config.parse(to_crm(api, url, {"mode": "polling", "secret_token": None}), "<test>")
    first = await create_app(loaded, store)
    await aiohttp_client(first)
    poller1 = cast(TelegramConnector, first[RELAY_KEY].connectors["tg"]).poller
    await eventually(lambda: poller1 is not None and poller1.polls >= 1)
    second = await create_app(loaded, store)
    await aiohttp_client(second)
    poller2 = cast(TelegramConnector, second[RELAY_KEY].connectors["tg"]).poller
    fake.push(payload("text"))
    fake.push(payload("sticker"))
    await eventually(lambda: len(sink.received) == 2)
    assert poller1 is not None and poller2 is not None
    assert poller2.polls == 0 and poller2.lease.holder != poller1.lease.holder
