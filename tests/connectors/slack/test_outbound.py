"""CRM -> relay -> Slack: threads, mrkdwn, edits, deletes, files from memory, ok:false, 429."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from relay.app import Relay
from relay.http import sign
from relay.model import Address
from tests.conftest import RelayFactory
from tests.connectors.slack.conftest import no_writes, slack_to_crm
from tests.connectors.slack.fake_slack import FakeSlack
from tests.support.crm_sink import SINK_SECRET, CrmSink

CHANNEL, THREAD = "C0SHARED01", "1736935300.000100"


async def crm_says(client: Any, relay: Relay, address: Address, **body: Any) -> Any:
    doc = {"type": "message", "conversation": relay.sealer.seal(address), **body}
    raw = json.dumps(doc).encode()
    headers = {"Content-Type": "application/json", "X-Relay-Signature": sign(SINK_SECRET.encode(), raw)}
    return await client.post("/hooks/crm", data=raw, headers=headers)


async def start(start_relay: RelayFactory, fake: FakeSlack, crm: tuple[CrmSink, str]) -> tuple[Any, Relay]:
    return await start_relay(slack_to_crm(fake, crm[1]))


async def test_thread_and_channel_replies_render_mrkdwn(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    client, relay = await start(start_relay, fake_slack, crm_sink)
    text = "**Shipped** <today> & [track it](https://track.example/t?a=1&b=2)"
    resp = await crm_says(client, relay, Address("slack", CHANNEL, THREAD), id="crm-1", text=text)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["id"] == f"{CHANNEL}:1736940000.000001"
    resp = await crm_says(client, relay, Address("slack", CHANNEL), id="crm-2", text="top level")
    assert resp.status == 200
    in_thread, top = fake_slack.calls_to("chat.postMessage")
    assert in_thread["thread_ts"] == THREAD and in_thread["channel"] == CHANNEL
    assert in_thread["text"] == "*Shipped* &lt;today&gt; &amp; <https://track.example/t?a=1&amp;b=2|track it>"
    assert in_thread["unfurl_links"] is False
    assert "thread_ts" not in top


async def test_edit_and_delete_use_chat_update_and_delete(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    client, relay = await start(start_relay, fake_slack, crm_sink)
    address = Address("slack", CHANNEL, THREAD)
    assert (await crm_says(client, relay, address, id="crm-1", text="first")).status == 200
    ts = fake_slack.calls_to("chat.postMessage")[0]
    resp = await crm_says(client, relay, address, type="edit", id="crm-1-e", reply_to="crm-1", text="_second_")
    assert resp.status == 200, await resp.text()
    resp = await crm_says(client, relay, address, type="delete", id="crm-1-d", reply_to="crm-1")
    assert resp.status == 200, await resp.text()
    [update] = fake_slack.calls_to("chat.update")
    [delete] = fake_slack.calls_to("chat.delete")
    assert update["ts"] == delete["ts"] == "1736940000.000001" and update["channel"] == CHANNEL
    assert update["text"] == "_second_"
    assert ts["text"] == "first"


async def test_ok_false_is_a_failure_with_the_error_name(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    client, relay = await start(start_relay, fake_slack, crm_sink)
    fake_slack.fail("chat.postMessage", body={"ok": False, "error": "channel_not_found"})
    resp = await crm_says(client, relay, Address("slack", "C0GONE0001"), id="crm-1", text="hello")
    assert resp.status == 422
    assert (await resp.json())["reason"] == "slack_channel_not_found"
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


async def test_server_error_is_not_retried_blindly(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    client, relay = await start(start_relay, fake_slack, crm_sink)
    fake_slack.fail("chat.postMessage", status=500, body={"ok": False})
    resp = await crm_says(client, relay, Address("slack", CHANNEL), id="crm-1", text="hello")
    assert resp.status == 422
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


async def test_429_retry_after_is_honoured(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    client, relay = await start(start_relay, fake_slack, crm_sink)
    fake_slack.fail(
        "chat.postMessage", status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"}
    )
    resp = await crm_says(client, relay, Address("slack", CHANNEL), id="crm-1", text="hello")
    assert resp.status == 200, await resp.text()
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


async def test_long_retry_after_blocks_the_channel(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    client, relay = await start(start_relay, fake_slack, crm_sink)
    fake_slack.fail(
        "chat.postMessage", status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"}
    )
    resp = await crm_says(client, relay, Address("slack", CHANNEL), id="crm-1", text="hello")
    assert resp.status == 503
    assert int(resp.headers["Retry-After"]) >= 30
    again = await crm_says(client, relay, Address("slack", CHANNEL), id="crm-2", text="hello again")
    assert again.status == 503
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    other = await crm_says(client, relay, Address("slack", "C0OTHER001"), id="crm-3", text="elsewhere")
    assert other.status == 200


async def test_files_are_uploaded_from_memory_in_three_steps(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str], aiohttp_server: Any
) -> None:
    content = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=content, content_type="image/png")

    files = web.Application()
    files.router.add_get("/chart.png", serve)
    server = await aiohttp_server(files)
    client, relay = await start(start_relay, fake_slack, crm_sink)
    attachment = {"url": str(server.make_url("/chart.png")), "name": "chart.png", "mime": "image/png"}
    with no_writes():
        resp = await crm_says(
            client, relay, Address("slack", CHANNEL, THREAD), id="crm-1", text="see *chart*", attachments=[attachment]
        )
    assert resp.status == 200, await resp.text()
    [asked] = fake_slack.calls_to("files.getUploadURLExternal")
    assert asked == {"filename": "chart.png", "length": str(len(content))}
    [fid] = fake_slack.uploads
    assert fake_slack.uploads[fid] == content
    [done] = fake_slack.calls_to("files.completeUploadExternal")
    assert json.loads(done["files"]) == [{"id": fid, "title": "chart.png"}]
    assert done["channel_id"] == CHANNEL and done["thread_ts"] == THREAD
    assert done["initial_comment"] == "see _chart_"
    assert (await resp.json())["id"].startswith(f"{CHANNEL}:1736940000.")
    assert fake_slack.calls_to("chat.postMessage") == []
    assert not any(name == "files.upload" for name, _ in fake_slack.calls)


async def test_upload_url_on_a_private_address_gets_no_bytes(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str], aiohttp_server: Any
) -> None:
    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\nchart", content_type="image/png")

    files = web.Application()
    files.router.add_get("/chart.png", serve)
    server = await aiohttp_server(files, host="127.0.0.2")
    raw = slack_to_crm(fake_slack, crm_sink[1])
    raw |= {"media": {"allowlist": ["127.0.0.2:*"]}, "network": {"allow_private": ["127.0.0.2/32"]}}
    client, relay = await start_relay(raw)
    attachment = {"url": str(server.make_url("/chart.png")), "name": "chart.png", "mime": "image/png"}
    resp = await crm_says(client, relay, Address("slack", CHANNEL), id="crm-1", text="chart", attachments=[attachment])
    assert (await resp.json())["reason"] == "slack_upload_url_refused"
    assert len(fake_slack.calls_to("files.getUploadURLExternal")) == 1
    assert fake_slack.uploads == {}
