"""Slack -> relay over the Events API route: signatures, url_verification, bad bodies, bots, threads."""

from __future__ import annotations

import json
import logging
import time

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from relay.connector import HookRequest
from tests.conftest import RelayFactory
from tests.connectors.slack.conftest import URL, post_event, slack_to_crm
from tests.connectors.slack.fake_slack import SIGNING_SECRET, FakeSlack, payload, signed
from tests.support.crm_sink import CrmSink


async def test_message_reaches_crm_with_sender(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(slack_to_crm(fake_slack, url, include_email=True))
    resp = await post_event(client, payload("message_im"))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "delivered"
    [got] = sink.messages()
    assert (
        got["message"]["markdown"] == "Can you check [order 1234](https://shop.example.com/o/1234)? **urgent** & thanks"
    )
    assert got["sender"] == {
        "id": "U2147483697",
        "name": "Dana",
        "username": "dana",
        "email": "dana@customer.example",
        "language": "en-US",
        "is_bot": False,
    }
    assert got["message"]["id"] == "D024BE91L:1736935200.000200"
    assert fake_slack.calls_to("auth.test") and fake_slack.calls_to("users.info")


async def test_email_only_when_configured(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(slack_to_crm(fake_slack, url))
    assert (await post_event(client, payload("message_im"))).status == 200
    assert "email" not in sink.messages()[0]["sender"]


@pytest.mark.parametrize("case", ["stale", "future", "one_byte", "unsigned", "wrong_secret", "garbled"])
async def test_bad_signatures_are_refused_and_nothing_is_forwarded(
    start_relay: RelayFactory,
    fake_slack: FakeSlack,
    crm_sink: tuple[CrmSink, str],
    canary: str,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    sink, url = crm_sink
    client, _ = await start_relay(slack_to_crm(fake_slack, url))
    raw = json.dumps(payload("message_im", text=canary)).encode()
    headers = signed(raw)
    if case == "stale":
        headers = signed(raw, stamp=int(time.time()) - 301)
    elif case == "future":
        headers = signed(raw, stamp=int(time.time()) + 301)
    elif case == "one_byte":
        raw = raw.replace(b"Ev08MFMKH6A", b"Ev08MFMKH6B")
    elif case == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif case == "wrong_secret":
        headers = signed(raw, secret="another-signing-secret-000000000")
    else:
        headers["X-Slack-Signature"] = "v0=zz"
    resp = await client.post(URL, data=raw, headers=headers)
    assert resp.status == 401
    assert canary not in await resp.text()
    assert sink.calls == 0
    assert fake_slack.calls == []
    assert canary not in caplog.text


async def test_url_verification_needs_a_signature(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(slack_to_crm(fake_slack, url))
    body = payload("url_verification")
    raw = json.dumps(body).encode()
    unsigned = await client.post("/hooks/slack/", data=raw, headers={"Content-Type": "application/json"})
    assert unsigned.status == 401
    assert body["challenge"] not in await unsigned.text()
    resp = await client.post("/hooks/slack/", data=raw, headers=signed(raw))
    assert resp.status == 200
    assert body["challenge"] in await resp.text()
    assert sink.calls == 0


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"type": "event_callback", "event": "x"}', 400),
        (b'{"type": "app_rate_limited", "minute_rate_limited": 1}', 200),
    ],
)
async def test_signed_but_malformed_bodies_get_a_clear_4xx(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str], raw: bytes, status: int
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(slack_to_crm(fake_slack, url))
    resp = await client.post(URL, data=raw, headers=signed(raw))
    assert resp.status == status
    assert sink.calls == 0


async def test_interactivity_payloads_are_refused_without_their_content(
    start_relay: RelayFactory,
    fake_slack: FakeSlack,
    crm_sink: tuple[CrmSink, str],
    canary: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _, url = crm_sink
    client, _ = await start_relay(slack_to_crm(fake_slack, url))
    raw = b"payload=" + json.dumps({"type": "block_actions", "user": {"name": canary}}).encode()
    headers = signed(raw)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    resp = await client.post(URL, data=raw, headers=headers)
    assert resp.status == 404
    assert canary not in await resp.text()
    assert canary not in caplog.text


@pytest.mark.parametrize("name", ["own_bot_echo", "other_bot"])
async def test_bot_messages_are_not_relayed(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str], name: str
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(slack_to_crm(fake_slack, url))
    resp = await post_event(client, payload(name))
    assert resp.status == 200
    own_user = payload("message_im", user="U0RELAYBOT")
    own_user["event_id"] = "Ev08OWNUSER1"
    assert (await post_event(client, own_user)).status == 200
    assert sink.calls == 0


async def test_channel_filter_keeps_dms(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(slack_to_crm(fake_slack, url, channels=["C0OTHER001"]))
    assert (await post_event(client, payload("message_channel"))).status == 200
    assert sink.calls == 0
    assert (await post_event(client, payload("message_im"))).status == 200
    assert len(sink.messages()) == 1


async def test_threads_edits_deletes_reactions(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(slack_to_crm(fake_slack, url))
    for name in (
        "message_channel",
        "thread_reply",
        "message_im",
        "message_changed",
        "reaction_added",
        "message_deleted",
    ):
        resp = await post_event(client, payload(name))
        assert resp.status == 200, (name, await resp.text())
    top, reply, dm = sink.messages()
    assert top["conversation"] != reply["conversation"] != dm["conversation"]
    assert reply["message"]["text"] == "A reply in the thread"
    [edit] = sink.messages("edit")
    [reaction] = sink.messages("reaction")
    [delete] = sink.messages("delete")
    assert edit["conversation"] == reaction["conversation"] == delete["conversation"] == dm["conversation"]
    assert edit["message"]["reply_to"] == "crm-3"
    assert edit["message"]["text"] == "Can you check order 1235?"
    assert reaction["message"]["reaction"] == "👍"
    assert delete["message"]["reply_to"] == "crm-3"


async def test_unfurl_only_change_is_ignored(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(slack_to_crm(fake_slack, url))
    body = payload("message_changed")
    body["event"]["message"]["text"] = body["event"]["previous_message"]["text"]
    assert (await post_event(client, body)).status == 200
    assert sink.calls == 0


async def test_signature_helper_matches_slack_docs_example() -> None:
    from connectors.slack.inbound import authenticate

    secret = b"8f742231b10e8888abcd99yyyzzz85a5"
    raw = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
        b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
        b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    authenticate(secret, HookRequest(CIMultiDictProxy(CIMultiDict(headers)), {}, raw), now=1531420618 + 10)
    assert secret.decode() == SIGNING_SECRET
