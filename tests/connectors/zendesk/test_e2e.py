"""End to end through the SunCo fake: customers in, agents out, echoes, secrets, limits, redeliveries."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from relay.seal import Sealer
from relay.state import MemoryStateStore
from tests.connectors.zendesk.conftest import StartZd, eventually

TOO_MANY = {"errors": [{"code": "too_many_requests", "title": "Too many requests"}]}


def _users_by_channel(sealer: Sealer, users: dict[str, dict[str, Any]]) -> dict[str, str]:
    """instance -> externalId of the SunCo users the relay created (each opens to a messenger address)."""
    return {sealer.open(ext).instance: ext for ext in users}


async def test_each_customer_message_appears_once_in_its_own_conversation(start_zd: StartZd) -> None:
    zd = await start_zd(instances=("webchat", "chat2"))
    ana, bo = await zd.customer("webchat"), await zd.customer("chat2")
    assert (await zd.say(ana, "m1", "where is my order?"))[0] == 200
    assert (await zd.say(bo, "m1", "hello from the other messenger", "chat2"))[0] == 200
    assert (await zd.say(ana, "m2", "it was due Monday"))[0] == 200
    status, body = await zd.say(ana, "m2", "it was due Monday")
    assert (status, body["status"]) == (200, "duplicate")
    users = _users_by_channel(zd.relay.sealer, zd.fake.users)
    assert set(users) == {"webchat", "chat2"}
    by_user = {c["participants"][0]["userExternalId"]: c for c in zd.fake.conversations.values()}
    assert [m["content"]["text"] for m in by_user[users["webchat"]]["messages"]] == [
        "where is my order?",
        "it was due Monday",
    ]
    assert [m["content"]["text"] for m in by_user[users["chat2"]]["messages"]] == ["hello from the other messenger"]
    for conv in zd.fake.conversations.values():
        assert all(m["author"]["type"] == "user" and m["metadata"]["relay_id"] for m in conv["messages"])
        assert zd.relay.sealer.open(conv["metadata"]["relay_conversation"]).instance in ("webchat", "chat2")
    visitor = ana["X-Webchat-Token"].split(".")[0]
    assert not any(visitor in r.path or visitor.encode() in r.body for r in zd.fake.recorded)


async def test_an_agent_reply_from_agent_workspace_reaches_the_customer(start_zd: StartZd) -> None:
    zd = await start_zd()
    ana = await zd.customer()
    await zd.say(ana, "m1", "hello")
    zd.fake.agent_reply(zd.conversation(), "Hi Ana, your order shipped.")
    await zd.fake.settle()
    items = await zd.replies(ana)
    assert [i["html"] for i in items] == ["Hi Ana, your order shipped."]
    assert [d.status for d in zd.fake.deliveries if d.status != 200] == []


async def test_an_agent_file_is_streamed_from_sunco_through_a_relay_link(start_zd: StartZd) -> None:
    zd = await start_zd()
    ana = await zd.customer()
    await zd.say(ana, "m1", "send me the label")
    label = b"%PDF-1.4 label" + bytes(range(256)) * 8
    zd.fake.agent_reply(zd.conversation(), "Here it is", media=(label, "application/pdf", "label.pdf"))
    await zd.fake.settle()
    items = await zd.replies(ana)
    assert len(items) == 1 and items[0]["html"].startswith("Here it is\n")
    found = re.search(r'href="([^"]+)"', items[0]["html"])
    assert found is not None
    link = found.group(1)
    assert link.startswith(zd.relay.public_url + "/media/") and zd.base not in link
    resp = await zd.client.get(link.removeprefix(zd.relay.public_url))
    assert resp.status == 200 and await resp.read() == label


async def test_the_relays_own_posts_coming_back_are_not_echoed(start_zd: StartZd) -> None:
    zd = await start_zd()
    ana = await zd.customer()
    for i in range(3):
        await zd.say(ana, f"m{i}", f"message {i}")
    await zd.fake.settle()
    assert len(zd.fake.deliveries) == 3 and all(d.status == 200 for d in zd.fake.deliveries)
    zd.fake.agent_reply(zd.conversation(), "ticket closed", subtypes=["activity"])
    await zd.fake.settle()
    assert await zd.replies(ana, wait=0.3) == []
    assert zd.relay.metrics.value("relay_messages_total", connector="zd") == 0


async def test_a_wrong_webhook_secret_is_refused_and_not_retried(start_zd: StartZd) -> None:
    zd = await start_zd(hook=False)
    zd.fake.add_webhook(str(zd.client.make_url("/hooks/zd")), secret="not-the-configured-secret")
    ana = await zd.customer()
    await zd.say(ana, "m1", "hello")
    zd.fake.agent_reply(zd.conversation(), "you should not see this")
    await zd.fake.settle()
    assert [d.status for d in zd.fake.deliveries] == [401, 401]
    assert await zd.replies(ana, wait=0.3) == []
    resp = await zd.client.post("/hooks/zd", json={"app": {"id": "x"}, "events": []})
    assert resp.status == 401 and "X-API-Key" in (await resp.json())["error"]


async def test_a_429_waits_for_retry_after_and_posts_once(start_zd: StartZd) -> None:
    zd = await start_zd()
    zd.fake.fail("/v2/apps/*/conversations/*/messages", 429, TOO_MANY, headers={"Retry-After": "1"}, method="POST")
    zd.fake.fail("/v2/apps/*/conversations/*/messages", 429, TOO_MANY, method="POST")
    ana = await zd.customer()
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, body = await zd.say(ana, "m1", "hello")
    assert (status, body["status"]) == (200, "delivered")
    assert loop.time() - started >= 1.0
    assert zd.fake.texts() == ["hello"]
    assert len(zd.fake.requests("/v2/apps/*/messages", "POST")) == 3


async def test_a_full_conversation_is_refused_for_good_and_the_customer_told(start_zd: StartZd) -> None:
    zd = await start_zd()
    zd.fake.message_limit = 1
    ana = await zd.customer()
    await zd.say(ana, "m1", "first")
    status, body = await zd.say(ana, "m2", "second")
    assert (status, body["status"], body["reason"], body["code"]) == (
        200,
        "failed",
        "platform_rejected",
        "423 conversation full",
    )
    assert zd.fake.texts() == ["first"]
    posts = zd.fake.requests("/v2/apps/*/messages", "POST")
    assert len(posts) == 2
    notices = await zd.replies(ana)
    assert len(notices) == 1 and "could not be delivered" in notices[0]["html"]


async def test_refused_credentials_are_an_auth_failure_not_retried(start_zd: StartZd) -> None:
    zd = await start_zd(key_secret="a-wrong-secret-0123456789")
    ana = await zd.customer()
    status, body = await zd.say(ana, "m1", "hello")
    assert (status, body["status"], body["reason"]) == (200, "failed", "platform_auth_failed")
    assert len(zd.fake.requests("/v2/apps/*")) == 1


async def test_jwt_authentication_posts_too(start_zd: StartZd) -> None:
    zd = await start_zd(auth="jwt")
    ana = await zd.customer()
    assert (await zd.say(ana, "m1", "signed with a JWT"))[1]["status"] == "delivered"
    assert zd.fake.recorded[0].headers["Authorization"].startswith("Bearer ey")
    assert zd.fake.texts() == ["signed with a JWT"]


async def test_sunco_committing_then_answering_late_is_not_posted_twice(start_zd: StartZd) -> None:
    zd = await start_zd(timeout=0.5)
    zd.fake.fail("/v2/apps/*/conversations/*/messages", 0, delay=1.5, method="POST", after=True)
    ana = await zd.customer()
    status, body = await zd.say(ana, "m1", "only once please")
    assert (status, body["status"]) == (200, "delivered")
    assert zd.fake.texts() == ["only once please"]
    assert len(zd.fake.requests("/v2/apps/*/messages", "GET")) == 1


async def test_a_lost_answer_is_checked_before_posting_again(start_zd: StartZd) -> None:
    zd = await start_zd()
    zd.fake.fail("/v2/apps/*/conversations/*/messages", 0, method="POST", after=True, drop=True)
    ana = await zd.customer()
    assert (await zd.say(ana, "m1", "only once please"))[1]["status"] == "delivered"
    assert zd.fake.texts() == ["only once please"]
    assert len(zd.fake.requests("/v2/apps/*/messages", "GET")) == 1


class SharedStore(MemoryStateStore):
    """State two relays share, as replicas share Redis: one relay stopping does not clear it."""

    async def close(self) -> None:
        return None


async def test_a_relay_killed_mid_post_leaves_one_message_after_redelivery(start_zd: StartZd) -> None:
    shared = SharedStore()
    first = await start_zd(store=shared, hook=False, server={"shutdown_grace": 0})
    second = await start_zd(store=shared, hook=False)
    first.fake.fail("/v2/apps/*/conversations/*/messages", 0, delay=2.0, method="POST", after=True)
    ana = await first.customer()
    post = asyncio.ensure_future(first.say(ana, "m1", "sent while the relay died"))
    await eventually(lambda: len(first.fake.texts()) == 1)
    await first.client.close()
    post.cancel()
    await asyncio.gather(post, return_exceptions=True)
    for _ in range(40):
        status, body = await second.say(ana, "m1", "sent while the relay died")
        if status == 200:
            break
        await asyncio.sleep(0.1)
    assert (status, body["status"]) == (200, "delivered")
    assert first.fake.texts() == ["sent while the relay died"]
    assert len(first.fake.requests("/v2/apps/*/messages", "GET")) == 1


async def test_a_read_receipt_becomes_conversation_read(start_zd: StartZd) -> None:
    from relay.model import Address, Kind, Message, Status

    zd = await start_zd()
    ana = await zd.customer()
    await zd.say(ana, "m1", "hello")
    address = Address("webchat", ana["X-Webchat-Token"].split(".")[0])
    read = Message(kind=Kind.STATUS, id="r1", origin="webchat", conversation=address, status=Status.READ, ref="x")
    assert await zd.conn.send(read) == ""
    assert zd.fake.conversations[zd.conversation()]["activities"] == ["conversation:read"]
    unknown = Message(kind=Kind.STATUS, id="r2", origin="webchat", conversation=Address("webchat", "nobody"))
    assert await zd.conn.send(unknown.with_(status=Status.READ)) == ""


async def test_telegram_customers_land_once_and_agent_replies_reach_telegram(
    start_zd: StartZd, aiohttp_server: Any
) -> None:
    from bench.reliability.fakes import BOT_SECRET, BOT_TOKEN, FakeBotApi
    from bench.reliability.source import telegram_update

    bot = FakeBotApi()
    bot_url = str((await aiohttp_server(bot.app())).make_url("")).rstrip("/")
    tg = {"type": "telegram", "token": BOT_TOKEN, "secret_token": BOT_SECRET, "api_base_url": f"{bot_url}/bot"}
    zd = await start_zd(instances=(), messengers={"tg": tg})
    for update, chat, text in ((1, 4242, "hi from telegram"), (2, 4343, "another chat"), (1, 4242, "hi from telegram")):
        path, body, headers = telegram_update(update, chat, text)()
        assert (
            await zd.client.post(path.replace("/hooks/tg/", "/hooks/tg/"), data=body, headers=headers)
        ).status == 200
    chats = {zd.relay.sealer.open(c["metadata"]["relay_conversation"]).chat: c for c in zd.fake.conversations.values()}
    assert {k: [m["content"]["text"] for m in c["messages"]] for k, c in chats.items()} == {
        "4242": ["hi from telegram"],
        "4343": ["another chat"],
    }
    zd.fake.agent_reply(chats["4242"]["id"], "Hello from Zendesk")
    await zd.fake.settle()
    assert bot.sent == ["Hello from Zendesk"]


async def test_a_customer_file_is_streamed_into_sunco_attachments(start_zd: StartZd) -> None:
    from relay.model import Address, Attachment, Kind, Message

    zd = await start_zd()
    ana = await zd.customer()
    await zd.say(ana, "m1", "a photo follows")
    address = Address("webchat", ana["X-Webchat-Token"].split(".")[0])
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
    att = Attachment(name="photo.png", mime="image/png", size=len(photo), data=photo)
    msg = Message(kind=Kind.MEDIA, id="m2", origin="webchat", conversation=address, attachments=(att,))
    assert await zd.conn.send(msg)
    upload = zd.fake.requests("/v2/apps/*/attachments", "POST")[0]
    assert upload.query == {"access": "public", "for": "message", "conversationId": zd.conversation()}
    assert upload.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in upload.headers
    posted = zd.fake.conversations[zd.conversation()]["messages"][-1]
    assert posted["content"]["type"] == "image" and posted["content"]["altText"] == "photo.png"
    media = posted["content"]["mediaUrl"].split("/media/")[1].split("/")[0]
    assert zd.fake.attachments[media] == (photo, "image/png")


async def test_a_failed_reply_leaves_the_agent_a_notice_that_is_not_relayed(start_zd: StartZd) -> None:
    from relay.model import Address, Kind, Message, Status

    zd = await start_zd()
    ana = await zd.customer()
    await zd.say(ana, "m1", "hello")
    address = Address("webchat", ana["X-Webchat-Token"].split(".")[0])
    failed = Message(
        kind=Kind.STATUS,
        id="s1",
        origin="zd",
        conversation=address,
        status=Status.FAILED,
        reason="recipient_unreachable",
    )
    assert await zd.conn.send(failed)
    await zd.fake.settle()
    notice = zd.fake.conversations[zd.conversation()]["messages"][-1]
    assert notice["author"]["type"] == "business" and "recipient_unreachable" in notice["content"]["text"]
    assert notice["metadata"] == {"relay_notice": "recipient_unreachable"}
    assert await zd.replies(ana, wait=0.3) == []


async def test_a_card_number_reaches_zendesk_masked_and_the_metadata_says_so(start_zd: StartZd) -> None:
    zd = await start_zd()
    ana = await zd.customer()
    assert (await zd.say(ana, "m1", "my card is 4111 1111 1111 1111"))[1]["status"] == "delivered"
    (posted,) = zd.fake.conversations[zd.conversation()]["messages"]
    assert posted["content"]["text"] == "my card is •••• •••• •••• 1111"
    assert posted["metadata"]["relay_masked_card"] == 1
