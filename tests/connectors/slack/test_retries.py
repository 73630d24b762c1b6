"""Slack's retries and deadlines on the Events route: dedup by event id, answers in time, 503 while the CRM is down."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.conftest import RelayFactory
from tests.connectors.slack.conftest import post_event, slack_to_crm
from tests.connectors.slack.fake_slack import FakeSlack, payload
from tests.support.crm_sink import CrmSink


async def test_retry_is_deduplicated_by_event_id(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(slack_to_crm(fake_slack, url))
    body = payload("message_im")
    first, racing = await asyncio.gather(
        post_event(client, body),
        post_event(client, body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}),
    )
    later = await post_event(client, body, **{"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"})
    assert [first.status, racing.status, later.status] == [200, 200, 200]
    assert (await later.json())["status"] == "duplicate"
    assert len(sink.messages()) == 1


async def test_retry_for_an_event_never_seen_is_processed(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(slack_to_crm(fake_slack, url))
    resp = await post_event(
        client, payload("message_im"), **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    )
    assert (await resp.json())["status"] == "delivered"
    assert len(sink.messages()) == 1


async def test_stalled_crm_still_gets_slack_its_answer_in_time(
    start_relay: RelayFactory, fake_slack: FakeSlack, aiohttp_server: Any
) -> None:
    sink = CrmSink(delay=10.0)
    server = await aiohttp_server(sink.app())
    client, _ = await start_relay(slack_to_crm(fake_slack, str(server.make_url("/crm")), crm={"timeout": 20}))
    body = payload("message_im")
    started = time.monotonic()
    first = await post_event(client, body)
    assert time.monotonic() - started < 3.0
    assert first.status == 503
    assert (await first.json())["status"] == "retry"
    started = time.monotonic()
    immediate = await post_event(client, body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})
    assert time.monotonic() - started < 3.0
    assert immediate.status == 503
    for _ in range(300):
        if sink.received:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    later = await post_event(client, body, **{"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    assert later.status == 200
    assert (await later.json())["status"] == "duplicate"
    assert len(sink.messages()) == 1


async def test_slow_slack_lookups_do_not_delay_the_answer(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    fake_slack.slow = {"auth.test": 1.5, "users.info": 1.5}
    client, _ = await start_relay(slack_to_crm(fake_slack, url))
    started = time.monotonic()
    resp = await post_event(client, payload("message_im"))
    assert time.monotonic() - started < 3.0
    assert (await resp.json())["status"] == "delivered"
    assert sink.messages()[0]["sender"] == {"id": "U2147483697", "is_bot": False}


async def test_crm_down_means_503_so_slack_retries(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, url = crm_sink
    sink.mode = "500"
    client, _ = await start_relay(slack_to_crm(fake_slack, url))
    resp = await post_event(client, payload("message_im"))
    assert resp.status == 503
    assert "Retry-After" in resp.headers
    sink.mode = "ok"
    again = await post_event(client, payload("message_im"), **{"X-Slack-Retry-Num": "1"})
    assert (await again.json())["status"] == "delivered"
    assert len(sink.messages()) == 1
