"""Traces of one message through the relay: spans, their attributes, traceparent to the CRM, OTLP export."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import threading
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from relay import config
from relay.app import create_app
from relay.errors import ConfigError
from relay.exposure import Exposure
from tests.conftest import RelayFactory, chat_token, webhook_workspace, workspace
from tests.support.otlp_receiver import OtlpReceiver

INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
async def receiver(aiohttp_server: Any) -> tuple[OtlpReceiver, str]:
    found = OtlpReceiver()
    server = await aiohttp_server(found.app())
    return found, str(server.make_url("")).rstrip("/")


async def traced_relay(
    start_relay: RelayFactory, crm_url: str, endpoint: str, **tracing: Any
) -> tuple[Any, Any, InMemorySpanExporter]:
    raw = webhook_workspace(crm_url)
    raw["tracing"] = {"endpoint": endpoint, **tracing}
    client, relay = await start_relay(raw)
    memory = InMemorySpanExporter()
    assert relay.tracing is not None
    relay.tracing.provider.add_span_processor(SimpleSpanProcessor(memory))
    return client, relay, memory


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


def shown(spans: tuple[ReadableSpan, ...]) -> list[dict[str, Any]]:
    """The spans as docs/deploy.md shows them: name, kind, parent, attributes (latency rounded away)."""
    ids = {span.context.span_id: span.name for span in spans if span.context is not None}
    rows = []
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        attrs = {k: v for k, v in (span.attributes or {}).items() if k != "relay.latency_ms"}
        parent = ids.get(span.parent.span_id) if span.parent is not None else None
        rows.append({"name": span.name, "kind": span.kind.name, "parent": parent, "attributes": attrs})
    return rows


async def test_one_message_makes_three_spans_in_one_trace(
    receiver: tuple[OtlpReceiver, str], crm_sink: tuple[Any, str], start_relay: RelayFactory
) -> None:
    _sink, url = crm_sink
    client, _relay, memory = await traced_relay(start_relay, url, receiver[1])
    headers = {**await chat_token(client), "traceparent": INCOMING}
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "m1", "text": "hello there"}, headers=headers)
    assert resp.status == 200
    spans = memory.get_finished_spans()
    named = by_name(spans)
    assert set(named) == {"relay.inbound", "relay.deliver", "relay.send", "relay.call"}
    inbound, deliver, send, call = (named[n] for n in ("relay.inbound", "relay.deliver", "relay.send", "relay.call"))
    assert {s.context.trace_id for s in spans if s.context} == {int(INCOMING.split("-")[1], 16)}
    assert deliver.parent is not None and inbound.context is not None
    assert deliver.parent.span_id == inbound.context.span_id
    assert send.parent is not None and deliver.context is not None
    assert send.parent.span_id == deliver.context.span_id
    assert call.parent is not None and send.context is not None
    assert call.parent.span_id == send.context.span_id
    assert inbound.kind is SpanKind.SERVER and call.kind is SpanKind.CLIENT
    assert inbound.attributes is not None and deliver.attributes is not None
    assert send.attributes is not None and call.attributes is not None
    assert inbound.attributes["relay.instance"] == "webchat"
    assert inbound.attributes["http.response.status_code"] == 200
    assert deliver.attributes["relay.instance"] == "webchat"
    assert deliver.attributes["relay.kind"] == "text"
    assert deliver.attributes["relay.outcome"] == "delivered"
    assert len(str(deliver.attributes["relay.conversation"])) == 32
    assert send.attributes["relay.instance"] == "crm"
    assert send.attributes["relay.attempt"] == 1
    assert call.attributes["relay.instance"] == "crm"
    assert call.attributes["http.response.status_code"] == 200
    assert all(isinstance(s.attributes and s.attributes["relay.latency_ms"], float) for s in spans)
    print(json.dumps(shown(spans), indent=2))


async def test_the_crm_gets_a_traceparent_of_the_call_span(
    receiver: tuple[OtlpReceiver, str], crm_sink: tuple[Any, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    client, _relay, memory = await traced_relay(start_relay, url, receiver[1])
    headers = {**await chat_token(client), "traceparent": INCOMING, "tracestate": "vendor=+4915112345678"}
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "m1", "text": "hi"}, headers=headers)
    assert resp.status == 200
    call = by_name(memory.get_finished_spans())["relay.call"]
    posted = [r for r in sink.requests() if r.method == "POST"]
    assert len(posted) == 1
    assert call.context is not None and not call.context.trace_state, "a caller's tracestate is not taken"
    assert "tracestate" not in posted[0].headers
    assert (
        posted[0].headers["traceparent"]
        == f"00-{call.context.trace_id:032x}-{call.context.span_id:016x}-{call.context.trace_flags:02x}"
    )


async def test_a_retried_call_counts_its_attempts_and_reasons(
    receiver: tuple[OtlpReceiver, str], crm_sink: tuple[Any, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    sink.fail_times, sink.fail_status, sink.retry_after = 1, 429, 0
    client, _relay, memory = await traced_relay(start_relay, url, receiver[1])
    headers = await chat_token(client)
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "m1", "text": "hi"}, headers=headers)
    assert resp.status == 200
    spans = memory.get_finished_spans()
    sends = [s for s in spans if s.name == "relay.send"]
    calls = [s for s in spans if s.name == "relay.call"]
    assert [s.attributes and s.attributes["relay.attempt"] for s in sends] == [1, 2]
    assert [s.attributes and s.attributes.get("relay.reason") for s in sends] == ["throttled", None]
    assert [s.attributes and s.attributes["http.response.status_code"] for s in calls] == [429, 200]


async def test_a_refused_message_carries_its_reason(
    receiver: tuple[OtlpReceiver, str], crm_sink: tuple[Any, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    sink.mode = "400"
    client, _relay, memory = await traced_relay(start_relay, url, receiver[1])
    headers = await chat_token(client)
    await client.post("/hooks/webchat/api/messages", json={"id": "m1", "text": "hi"}, headers=headers)
    deliver = by_name(memory.get_finished_spans())["relay.deliver"]
    assert deliver.attributes is not None
    assert deliver.attributes["relay.outcome"] == "failed"
    assert deliver.attributes["relay.reason"] == "platform_rejected"


async def test_spans_reach_a_real_otlp_http_receiver(
    receiver: tuple[OtlpReceiver, str], crm_sink: tuple[Any, str], start_relay: RelayFactory
) -> None:
    found, endpoint = receiver
    _sink, url = crm_sink
    client, relay, _ = await traced_relay(
        start_relay, url, endpoint, service_name="relay-eu1", headers={"x-api-key": "otlp-key-0123456789"}
    )
    headers = await chat_token(client)
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "m1", "text": "hi"}, headers=headers)
    assert resp.status == 200
    assert relay.tracing is not None
    assert await asyncio.to_thread(relay.tracing.provider.force_flush)
    assert {s["name"] for s in found.spans} == {"relay.inbound", "relay.deliver", "relay.send", "relay.call"}
    assert {s["resource"]["service.name"] for s in found.spans} == {"relay-eu1"}
    assert found.headers[0]["x-api-key"] == "otlp-key-0123456789"
    deliver = next(s for s in found.spans if s["name"] == "relay.deliver")
    assert deliver["attributes"]["relay.outcome"] == "delivered"


async def test_a_zero_sample_ratio_exports_nothing_and_tells_the_crm_not_sampled(
    receiver: tuple[OtlpReceiver, str], crm_sink: tuple[Any, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    client, _relay, memory = await traced_relay(start_relay, url, receiver[1], sample_ratio=0.0)
    headers = await chat_token(client)
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "m1", "text": "hi"}, headers=headers)
    assert resp.status == 200
    assert memory.get_finished_spans() == ()
    traceparent = next(r for r in sink.requests() if r.method == "POST").headers["traceparent"]
    assert int(traceparent.rsplit("-", 1)[1], 16) & 1 == 0


@pytest.mark.parametrize(
    ("tracing", "words"),
    [
        ({}, "tracing.endpoint"),
        ({"endpoint": "collector:4318"}, "is not an http(s) URL"),
        ({"endpoint": "http://c:4318/?token=x"}, "takes no credentials, query or fragment"),
        ({"endpoint": "http://c:4318", "protocol": "udp"}, "tracing.protocol"),
        ({"endpoint": "http://c:4318", "sample_ratio": 1.5}, "tracing.sample_ratio"),
        ({"endpoint": "http://c:4318", "colour": "red"}, "tracing.colour"),
    ],
)
def test_tracing_config_errors_are_clear(tracing: dict[str, Any], words: str) -> None:
    raw = webhook_workspace("https://crm.example.com/hook")
    raw["tracing"] = tracing
    with pytest.raises(ConfigError) as caught:
        config.parse(raw, "relay.toml")
    assert words in str(caught.value)


async def test_grpc_without_its_exporter_names_the_package(start_relay: RelayFactory) -> None:
    raw = webhook_workspace("https://crm.example.com/hook")
    raw["tracing"] = {"endpoint": "http://collector:4317", "protocol": "grpc"}
    if importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is not None:
        pytest.skip("the gRPC exporter is installed")
    with pytest.raises(ConfigError) as caught:
        await start_relay(raw)
    assert "pip install opentelemetry-exporter-otlp-proto-grpc" in str(caught.value)


def test_without_tracing_opentelemetry_is_never_imported() -> None:
    script = (
        "import asyncio, sys\n"
        "from relay import config\n"
        "from relay.app import create_app\n"
        "from tests.conftest import webhook_workspace\n"
        "async def main():\n"
        "    app = await create_app(config.parse(webhook_workspace('https://crm.example.com/hook')))\n"
        "    print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


async def test_a_sampled_caller_is_traced_whatever_the_ratio(
    receiver: tuple[OtlpReceiver, str], crm_sink: tuple[Any, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    client, _relay, memory = await traced_relay(start_relay, url, receiver[1], sample_ratio=0.0)
    unsampled = INCOMING[:-2] + "00"
    for n, traceparent in enumerate((INCOMING, unsampled)):
        headers = {**await chat_token(client), "traceparent": traceparent}
        resp = await client.post("/hooks/webchat/api/messages", json={"id": f"m{n}", "text": "hi"}, headers=headers)
        assert resp.status == 200
    names = sorted(s.name for s in memory.get_finished_spans())
    assert names == ["relay.call", "relay.deliver", "relay.inbound", "relay.send"]
    sent = [r.headers["traceparent"] for r in sink.requests() if r.method == "POST"]
    assert [t.split("-")[1] for t in sent] == [INCOMING.split("-")[1]] * 2
    assert [t.split("-")[3] for t in sent] == ["01", "00"]


async def test_a_relay_refused_at_start_leaves_no_export_thread(receiver: tuple[OtlpReceiver, str]) -> None:
    connectors = {"webchat": {"type": "webchat"}, "inbox": {"type": "inbox"}}
    raw = workspace(connectors, [{"from": ["webchat"], "to": "inbox"}])
    raw["tracing"] = {"endpoint": receiver[1]}
    loaded = config.parse(raw, "relay.toml")
    before = set(threading.enumerate())
    with pytest.raises(ConfigError, match=r"connectors\.inbox\.access_key"):
        await create_app(loaded, exposure=Exposure("0.0.0.0", None, loaded.source))
    assert [t.name for t in set(threading.enumerate()) - before] == []
