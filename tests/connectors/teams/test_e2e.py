"""End to end: Teams fake -> relay -> inbox -> agent reply -> Teams fake, with media, splitting and no disk writes."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest

from relay.errors import MediaError
from relay.richtext import utf16_len
from tests.connectors.teams.conftest import Setup
from tests.connectors.teams.fakes import payload

WRITES: list[str] = []
AUDITING = [False]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if AUDITING[0] and event == "open" and isinstance(args[1], str) and any(c in args[1] for c in "wax+"):
        WRITES.append(str(args[0]))


sys.addaudithook(_audit)


async def round_trip(setup: Setup, name: str, answer: str) -> tuple[str, list[Any]]:
    resp = await setup.post(payload(name, setup.service))
    assert resp.status == 200, await resp.text()
    ref = (await setup.conversations())[0]["conversation"]
    resp = await setup.reply(ref, answer)
    assert resp.status == 200, await resp.text()
    return ref, setup.cloud.posted


async def test_personal_chat_round_trip(setup: Setup, canary: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    activity = payload("personal_message", setup.service, text=f"Order status? {canary}")
    AUDITING[0] = True
    try:
        assert (await setup.post(activity)).status == 200
        ref = (await setup.conversations())[0]["conversation"]
        thread = await setup.thread(ref)
        assert canary in thread["messages"][0]["html"]
        assert thread["messages"][0]["sender"]
        resp = await setup.reply(ref, f"Shipped *today* {canary}")
        assert resp.status == 200, await resp.text()
    finally:
        AUDITING[0] = False
    assert WRITES == []
    sent = setup.cloud.posted
    assert len(sent) == 1
    assert sent[0].conversation == "a:1XyZPersonalChat" and sent[0].reply_to is None
    assert sent[0].body == {"type": "message", "textFormat": "markdown", "text": f"Shipped _today_ {canary}"}
    assert sent[0].auth == "Bearer fake-bot-token-1"
    for record in caplog.records:
        dump = f"{record.getMessage()} {record.__dict__}"
        assert canary not in dump and "fake-bot-token" not in dump


async def test_channel_thread_round_trip(setup: Setup) -> None:
    _, sent = await round_trip(setup, "channel_message", "On it")
    assert len(sent) == 1
    assert sent[0].conversation == "19:c0ffee00supportchannel@thread.tacv2;messageid=1736935000001"
    assert sent[0].body and sent[0].body["text"] == "On it"


async def test_group_chat_round_trip(setup: Setup) -> None:
    ref, sent = await round_trip(setup, "group_message", "Hello all")
    assert sent[0].conversation == "19:meeting_groupchat0@thread.v2"
    thread = await setup.thread(ref)
    assert thread["messages"][0]["html"] == "hi @Chris"


async def test_long_answer_is_split_under_the_budget(setup: Setup) -> None:
    answer = "lorem ipsum dolor sit amet " * 1200
    _, sent = await round_trip(setup, "personal_message", answer)
    texts = [s.body["text"] for s in sent if s.body]
    assert len(texts) == 3
    assert all(utf16_len(t) <= 12_000 for t in texts)
    assert "".join(texts) == answer.strip() or "".join(texts) == answer


async def test_429_is_retried_by_the_core(setup: Setup) -> None:
    setup.cloud.failures.append((429, {"Retry-After": "1"}, {"error": {"code": "Throttled"}}))
    _, sent = await round_trip(setup, "personal_message", "after a pause")
    assert len(setup.cloud.sent) == 2 and len(sent) == 1


async def test_edit_and_delete_reach_the_inbox(setup: Setup) -> None:
    assert (await setup.post(payload("personal_message", setup.service))).status == 200
    assert (await setup.post(payload("message_update", setup.service))).status == 200
    ref = (await setup.conversations())[0]["conversation"]
    item = (await setup.thread(ref))["messages"][0]
    assert "order 42" in item["html"]
    assert (await setup.post(payload("message_delete", setup.service))).status == 200
    item = (await setup.thread(ref))["messages"][0]
    assert item["html"] == ""


async def test_files_stream_through_memory_with_the_right_credentials(setup: Setup) -> None:
    setup.cloud.files = {"invoice": b"%PDF-1.4 invoice", "photo": b"\x89PNG\r\n\x1a\nphoto"}
    AUDITING[0] = True
    try:
        assert (await setup.post(payload("file_message", setup.service))).status == 200
        ref = (await setup.conversations())[0]["conversation"]
        atts = (await setup.thread(ref))["messages"][0]["attachments"]
        assert [a["name"] for a in atts] == ["invoice-0042.pdf", "image"]
        assert all("/media/" in a["url"] and setup.cloud.base not in a["url"] for a in atts)
        bodies = []
        for att in atts:
            path = att["url"].split("/media/", 1)[1]
            resp = await setup.client.get(f"/media/{path}")
            assert resp.status == 200
            bodies.append(await resp.read())
    finally:
        AUDITING[0] = False
    assert WRITES == []
    assert bodies == [b"%PDF-1.4 invoice", b"\x89PNG\r\n\x1a\nphoto"]
    assert setup.cloud.file_auth == ["", "Bearer fake-bot-token-1"]


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversized_file_is_refused(setup: Setup, chunked: bool) -> None:
    setup.cloud.files = {"invoice": b"x" * 4096, "photo": b"y"}
    setup.cloud.chunked = chunked
    assert (await setup.post(payload("file_message", setup.service))).status == 200
    ref = (await setup.conversations())[0]["conversation"]
    token = (await setup.thread(ref))["messages"][0]["attachments"][0]["url"].split("/media/")[1]
    file_id = setup.relay.sealer.open_media(token).ref.file_id
    with pytest.raises(MediaError, match="cap"):
        stream = await setup.teams.fetch_media(file_id, 1024)
        async for _ in stream.chunks:
            pass
