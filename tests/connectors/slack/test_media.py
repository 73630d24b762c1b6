"""Files from Slack: relay link to the CRM, streamed from Slack with the bot token, never written to disk."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import RelayFactory
from tests.connectors.slack.conftest import no_writes, slack_to_crm
from tests.connectors.slack.fake_slack import BOT_TOKEN, PDF, FakeSlack, payload, signed
from tests.support.crm_sink import CrmSink


async def share_file(start_relay: RelayFactory, fake: FakeSlack, crm: tuple[CrmSink, str], **extra: Any) -> Any:
    _sink, url = crm
    raw_config = slack_to_crm(fake, url)
    raw_config.update(extra)
    client, _ = await start_relay(raw_config)
    raw = json.dumps(payload("file_share")).encode()
    resp = await client.post("/hooks/slack/events", data=raw, headers=signed(raw))
    assert resp.status == 200, await resp.text()
    return client


async def test_file_reaches_crm_as_relay_link_and_streams_from_memory(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, _ = crm_sink
    with no_writes():
        client = await share_file(start_relay, fake_slack, crm_sink)
        [got] = sink.messages()
        [att] = got["message"]["attachments"]
        assert att["name"] == "invoice-0042.pdf" and att["mime"] == "application/pdf" and att["size"] == 48213
        assert "files.slack.com" not in json.dumps(got) and BOT_TOKEN not in json.dumps(got)
        assert got["message"]["text"] == "invoice attached"
        resp = await client.get(urlsplit(att["url"]).path)
        assert resp.status == 200
        assert await resp.read() == PDF
        assert resp.headers["Content-Type"].startswith("application/pdf")
    assert fake_slack.calls_to("files.info") == [{"file": "F07ABCDEF12"}]


async def test_login_page_instead_of_file_is_refused(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, _ = crm_sink
    client = await share_file(start_relay, fake_slack, crm_sink)
    fake_slack.login_page = True
    resp = await client.get(urlsplit(sink.messages()[0]["message"]["attachments"][0]["url"]).path)
    assert resp.status == 502
    assert "Sign in" not in await resp.text()


async def test_file_url_on_a_private_address_is_refused(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, _ = crm_sink
    client = await share_file(start_relay, fake_slack, crm_sink, network={})
    resp = await client.get(urlsplit(sink.messages()[0]["message"]["attachments"][0]["url"]).path)
    assert resp.status == 502 and "refused" in await resp.text()


async def test_file_over_the_cap_is_refused(
    start_relay: RelayFactory, fake_slack: FakeSlack, crm_sink: tuple[CrmSink, str]
) -> None:
    sink, _ = crm_sink
    client = await share_file(
        start_relay, fake_slack, crm_sink, media={"allowlist": ["127.0.0.1:*"], "max_bytes": 1000}
    )
    resp = await client.get(urlsplit(sink.messages()[0]["message"]["attachments"][0]["url"]).path)
    assert resp.status == 502
