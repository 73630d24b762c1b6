"""Delivery engine: dedup under concurrent redelivery, retry-after, deadlines, back-pressure, notices, drain."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from relay import config
from relay.app import create_app
from relay.state import MemoryStateStore
from tests.conftest import RelayFactory, chat_token, webhook_workspace


async def _post(client: Any, chat: dict[str, str], mid: str, text: str = "hi") -> Any:
    return await client.post("/hooks/webchat/api/messages", json={"id": mid, "text": text}, headers=chat)


async def test_concurrent_redeliveries_are_forwarded_once(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    sink.delay = 0.3
    client, relay = await start_relay(webhook_workspace(url))
    chat = await chat_token(client)
    responses = await asyncio.gather(*[_post(client, chat, "dup") for _ in range(10)])
    assert [r.status for r in responses] == [200] * 10
    statuses = sorted([(await r.json())["status"] for r in responses])
    assert statuses == ["delivered"] + ["duplicate"] * 9
    assert len(sink.messages()) == 1
    assert relay.metrics.value("relay_dedup_hits_total", connector="webchat") == 9


async def test_retry_after_is_honoured(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    sink.fail_status, sink.fail_times, sink.retry_after = 429, 1, 1
    client, _relay = await start_relay(webhook_workspace(url))
    chat = await chat_token(client)
    resp = await _post(client, chat, "r1")
    assert resp.status == 200, await resp.text()
    assert len(sink.call_times) == 2
    assert sink.call_times[1] - sink.call_times[0] >= 1.0
    assert len(sink.messages()) == 1


async def test_crm_500_is_retried_with_backoff(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    sink.fail_status, sink.fail_times = 500, 2
    client, _ = await start_relay(webhook_workspace(url))
    chat = await chat_token(client)
    resp = await _post(client, chat, "b1")
    assert resp.status == 200
    assert sink.calls == 3 and len(sink.messages()) == 1


async def test_deadline_exceeded_tells_the_source_to_redeliver(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    sink.delay = 1.0
    raw = webhook_workspace(url)
    raw["connectors"]["webchat"]["ack_deadline"] = 0.5
    client, _ = await start_relay(raw)
    chat = await chat_token(client)
    first = await _post(client, chat, "slow")
    assert first.status == 503
    assert "Retry-After" in first.headers
    assert (await first.json())["reason"] == "deadline_exceeded"
    await asyncio.sleep(0.8)
    again = await _post(client, chat, "slow")
    assert again.status == 200
    assert (await again.json())["status"] == "duplicate"
    assert len(sink.messages()) == 1


async def test_full_inflight_answers_503_with_retry_after(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    sink.delay = 0.5
    client, _ = await start_relay(
        webhook_workspace(
            url,
        )
        | {"server": {"max_inflight": 2}}
    )
    chat = await chat_token(client)
    responses = await asyncio.gather(*[_post(client, chat, f"m{i}") for i in range(5)])
    codes = sorted(r.status for r in responses)
    assert codes.count(200) == 2 and codes.count(503) == 3
    rejected = [r for r in responses if r.status == 503]
    assert all(r.headers["Retry-After"] == "1" for r in rejected)
    assert {(await r.json())["status"] for r in rejected} == {"overloaded"}


async def _capped(start_relay: RelayFactory, crm_sink: Any, per_destination: int, delay: float) -> Any:
    """A relay whose CRM takes `delay` seconds to answer and at most `per_destination` messages at once."""
    sink, url = crm_sink
    sink.delay = delay
    client, relay = await start_relay(
        webhook_workspace(url) | {"server": {"max_inflight_per_destination": per_destination}}
    )
    return sink, client, relay, await chat_token(client)


async def test_busy_destination_sheds_before_the_body_is_read(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, client, relay, chat = await _capped(start_relay, crm_sink, 2, 0.5)
    pending = [asyncio.ensure_future(_post(client, chat, f"b{i}")) for i in range(2)]
    while relay.engine.inflight < 2:
        await asyncio.sleep(0.01)
    shed = await client.post("/hooks/webchat/api/messages", data=b"{not json", headers=chat)
    assert shed.status == 503, await shed.text()
    assert shed.headers["Retry-After"] == "1"
    assert await shed.json() == {
        "status": "overloaded",
        "reason": "destination_busy",
        "detail": "not delivered yet; redeliver this request",
    }
    assert [r.status for r in await asyncio.gather(*pending)] == [200, 200]
    assert len(sink.messages()) == 2
    assert relay.metrics.value("relay_rejected_total", connector="webchat", reason="destination_busy") == 1
    assert (await _post(client, chat, "after")).status == 200


async def test_destination_cap_counts_from_admission(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, client, relay, chat = await _capped(start_relay, crm_sink, 3, 0.3)
    responses = await asyncio.gather(*[_post(client, chat, f"c{i}") for i in range(10)])
    assert sorted(r.status for r in responses) == [200] * 3 + [503] * 7
    assert {(await r.json())["reason"] for r in responses if r.status == 503} == {"destination_busy"}
    assert len(sink.messages()) == 3
    assert relay.metrics.value("relay_failures_total", reason="destination_busy") == 0
    assert relay.engine.shed_reason("webchat") is None


async def test_failed_delivery_to_crm_gives_the_customer_a_notice(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    sink.mode = "400"
    client, relay = await start_relay(webhook_workspace(url))
    chat = await chat_token(client)
    resp = await _post(client, chat, "n1", "secret text")
    assert resp.status == 200
    assert (await resp.json())["status"] == "failed"
    events = await (await client.get("/hooks/webchat/api/events?since=0&wait=2", headers=chat)).json()
    assert "could not be delivered" in events["items"][0]["html"]
    assert relay.metrics.value("relay_notices_total", connector="webchat") == 1
    assert relay.metrics.value("relay_failures_total", reason="platform_rejected") == 1


async def test_crm_unreachable_asks_for_redelivery(start_relay: RelayFactory) -> None:
    raw = webhook_workspace("http://127.0.0.1:9/crm")
    raw["connectors"]["webchat"]["ack_deadline"] = 1.0
    client, _ = await start_relay(raw)
    chat = await chat_token(client)
    resp = await _post(client, chat, "u1")
    assert resp.status == 503
    assert (await resp.json())["reason"] in ("platform_unreachable", "deadline_exceeded")


async def test_drain_finishes_inflight_work_and_refuses_new(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    sink.delay = 0.5
    client, relay = await start_relay(webhook_workspace(url))
    chat = await chat_token(client)
    pending = asyncio.ensure_future(_post(client, chat, "d1"))
    await asyncio.sleep(0.2)
    left = await relay.engine.drain(5.0)
    assert left == 0
    assert (await pending).status == 200
    late = await _post(client, chat, "d2")
    assert late.status == 503
    assert (await late.json())["reason"] == "shutting_down"
    assert (await client.get("/readyz")).status == 503
    assert len(sink.messages()) == 1


async def test_metrics_have_no_content(start_relay: RelayFactory, crm_sink: Any, canary: str) -> None:
    _sink, url = crm_sink
    client, _ = await start_relay(webhook_workspace(url))
    chat = await chat_token(client)
    await _post(client, chat, "x1", canary)
    text = await (await client.get("/metrics")).text()
    assert 'relay_messages_total{connector="webchat",direction="inbound",kind="text",outcome="delivered"} 1' in text
    assert "relay_latency_seconds_bucket" in text
    assert canary not in text


async def test_state_store_outage_asks_for_redelivery(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    client, relay = await start_relay(webhook_workspace(url))

    async def down(*args: Any) -> bool:
        raise ConnectionError("state store down")

    relay.engine.dedup.store.claim = down  # type: ignore[method-assign,assignment]
    chat = await chat_token(client)
    resp = await _post(client, chat, "s1")
    assert resp.status == 503
    assert (await resp.json())["reason"] == "state_unavailable"
    assert sink.messages() == []


def test_metric_labels_are_escaped_and_bounded() -> None:
    from relay.metrics import Metrics

    metrics = Metrics()
    metrics.inc("relay_failures_total", reason='bad "quote"\\\nline' + "x" * 200)
    line = metrics.render().splitlines()[2]
    assert line.startswith('relay_failures_total{reason="bad \\"quote\\"\\\\\\nline')
    assert len(line) < 120


class _CountingStore(MemoryStateStore):
    """Counts the store calls a delivery makes (each is a round trip on Redis)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def claim(self, key: str, value: str, ttl: float) -> bool:
        self.calls.append("claim")
        return await super().claim(key, value, ttl)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self.calls.append("set")
        await super().set(key, value, ttl)

    async def set_many(self, items: Sequence[tuple[str, str, float]]) -> None:
        self.calls.append(f"set_many:{len(items)}")
        await super().set_many(items)


async def test_a_delivery_records_its_outcome_and_ids_in_one_write(aiohttp_client: Any, crm_sink: Any) -> None:
    _sink, url = crm_sink
    store = _CountingStore()
    app = await create_app(config.parse(webhook_workspace(url), "<test>"), store)
    client = await aiohttp_client(app)
    chat = await chat_token(client)
    store.calls.clear()
    resp = await _post(client, chat, "w1")
    assert (await resp.json())["status"] == "delivered"
    assert store.calls == ["claim", "set_many:3"]
