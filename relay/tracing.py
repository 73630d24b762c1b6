"""Spans without content: inbound hook, engine delivery, platform call; imported only when tracing is on."""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from relay.client import Answer, Call, PlatformClient
from relay.connector import Connector, Outcome, Result
from relay.errors import ConfigError, DeliveryError
from relay.http import Handler
from relay.model import Message
from relay.seal import Sealer
from relay.stream import MediaStream
from relay.tracing_config import TracingConfig

Deliver = Callable[[Message], Awaitable[Result]]
EXPORTERS = {"http/protobuf": "http", "grpc": "grpc"}
QUIET: dict[str, Any] = {"record_exception": False, "set_status_on_exception": False}


def exporter_for(cfg: TracingConfig) -> SpanExporter:
    """The OTLP exporter `cfg` names; ConfigError naming the package to install when it is missing."""
    kind = EXPORTERS[cfg.protocol]
    package = f"opentelemetry-exporter-otlp-proto-{kind}"
    try:
        module = importlib.import_module(f"opentelemetry.exporter.otlp.proto.{kind}.trace_exporter")
    except ImportError:
        raise ConfigError(
            [f'tracing.protocol = "{cfg.protocol}" needs the {package} package: pip install {package}']
        ) from None
    headers = {k: v.reveal() for k, v in cfg.headers.items()}
    exporter: SpanExporter = module.OTLPSpanExporter(
        endpoint=cfg.traces_url(), headers=headers or None, timeout=cfg.timeout
    )
    return exporter


class Tracing:
    """Makes the spans: attributes are instance names, kinds, reasons, counts, times and keyed digests only."""

    def __init__(self, sealer: Sealer, processor: SpanProcessor, ratio: float = 1.0, service: str = "relay") -> None:
        self.sealer = sealer
        self.provider = TracerProvider(
            sampler=ParentBased(TraceIdRatioBased(ratio)),
            resource=Resource.create({"service.name": service}),
            shutdown_on_exit=False,
        )
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("relay")
        self.propagator = TraceContextTextMapPropagator()

    @classmethod
    def configured(cls, cfg: TracingConfig, sealer: Sealer) -> Tracing:
        """Tracing that batches spans to the OTLP endpoint of `cfg`."""
        processor = BatchSpanProcessor(exporter_for(cfg))
        return cls(sealer, processor, cfg.sample_ratio, cfg.service_name)

    def shutdown(self) -> None:
        """Export what is left and stop (blocking: run it in a thread)."""
        self.provider.shutdown()

    def conversation(self, message: Message) -> str:
        """A keyed digest of the conversation: the same for every message of it, revealing nothing."""
        conv = message.conversation
        return self.sealer.digest(f"trace:{conv.instance}:{conv.chat}")

    def inbound(self, serve: Handler, instance: str) -> Handler:
        """`serve` in a server span that continues an incoming `traceparent` (a `tracestate` is not taken)."""
        tracer, extract = self.tracer, self.propagator.extract

        async def run(request: web.Request) -> web.StreamResponse:
            found = request.headers.get("traceparent")
            parent = extract({"traceparent": found}) if found is not None else None
            attrs = {"relay.instance": instance, "http.request.method": request.method}
            with tracer.start_as_current_span(
                "relay.inbound", parent, SpanKind.SERVER, attributes=attrs, **QUIET
            ) as span:
                started = time.perf_counter()
                try:
                    response = await serve(request)
                except web.HTTPException as exc:
                    _close(span, started, exc.status, exc.status >= 500)
                    raise
                except BaseException as exc:
                    span.set_attribute("relay.error", type(exc).__name__)
                    _close(span, started, 500, True)
                    raise
                _close(span, started, response.status, response.status >= 500)
                return response

        return run

    def deliver(self, deliver: Callable[[Message, float | None], Awaitable[Result]], instance: str) -> Deliver:
        """The engine's `deliver` for messages from `instance`, in a span with the outcome and its reason."""
        tracer = self.tracer

        async def run(message: Message, deadline: float | None = None) -> Result:
            if _unsampled():
                return await deliver(message, deadline)
            with tracer.start_as_current_span("relay.deliver", kind=SpanKind.INTERNAL, **QUIET) as span:
                started = time.perf_counter()
                if span.is_recording():
                    span.set_attributes(
                        {
                            "relay.instance": instance,
                            "relay.kind": message.kind.value,
                            "relay.conversation": self.conversation(message),
                            "relay.message": self.sealer.digest(message.dedup_id)[:16],
                        }
                    )
                result = await deliver(message, deadline)
                span.set_attribute("relay.outcome", result.outcome.value)
                if result.reason is not None:
                    span.set_attribute("relay.reason", result.reason.value)
                _close(span, started, None, result.outcome in (Outcome.FAILED, Outcome.RETRY, Outcome.OVERLOADED))
                return result

        return run

    async def send(self, dest: Connector, part: Message, attempt: int) -> str:
        """The engine's send of one part to `dest`, in a span with the attempt (from 1) and the reason."""
        if _unsampled():
            return await dest.send(part)
        attrs: dict[str, AttributeValue] = {"relay.instance": dest.name, "relay.kind": part.kind.value}
        attrs["relay.attempt"] = attempt + 1
        with self.tracer.start_as_current_span("relay.send", kind=SpanKind.INTERNAL, attributes=attrs, **QUIET) as span:
            started = time.perf_counter()
            try:
                platform_id = await dest.send(part)
            except DeliveryError as exc:
                span.set_attribute("relay.reason", exc.reason.value)
                _close(span, started, None, True)
                raise
            except BaseException as exc:
                span.set_attribute("relay.error", type(exc).__name__)
                _close(span, started, None, True)
                raise
            _close(span, started, None, False)
            return platform_id

    def propagate(self, call: Call) -> Call:
        """`call` with the current span's `traceparent` (sampled or not, so the CRM follows the decision)."""
        headers = dict(call.headers)
        self.propagator.inject(headers)
        return dataclasses.replace(call, headers=headers)

    def client(self, inner: PlatformClient, instance: str, crm: bool) -> PlatformClient:
        """`inner` for one connector instance: each call in a client span; to a CRM, with `traceparent`."""
        return TracedClient(inner, self, instance, crm)

    async def outbound(self, send: Callable[[Call], Awaitable[Answer]], call: Call, instance: str, crm: bool) -> Answer:
        """One platform call in a client span: method, status, reason; never its URL or headers."""
        if _unsampled():
            return await send(self.propagate(call) if crm else call)
        attrs: dict[str, AttributeValue] = {"relay.instance": instance, "http.request.method": call.method}
        with self.tracer.start_as_current_span("relay.call", kind=SpanKind.CLIENT, attributes=attrs, **QUIET) as span:
            if crm:
                call = self.propagate(call)
            started = time.perf_counter()
            try:
                answer = await send(call)
            except DeliveryError as exc:
                span.set_attribute("relay.reason", exc.reason.value)
                _close(span, started, None, True)
                raise
            except BaseException as exc:
                span.set_attribute("relay.error", type(exc).__name__)
                _close(span, started, None, True)
                raise
            _close(span, started, answer.status, not answer.ok)
            return answer


def _unsampled() -> bool:
    """Whether the current trace was decided against: its children would record nothing, so none is made."""
    found = get_current_span().get_span_context()
    return found.is_valid and not found.trace_flags.sampled


def _close(span: Span, started: float, status: int | None, failed: bool) -> None:
    """The latency, HTTP status and error flag of a span about to end."""
    span.set_attribute("relay.latency_ms", round((time.perf_counter() - started) * 1000, 3))
    if status is not None:
        span.set_attribute("http.response.status_code", status)
    if failed:
        span.set_status(Status(StatusCode.ERROR))


class TracedClient(PlatformClient):
    """A connector's platform client with each call traced; everything else is the shared client's."""

    def __init__(self, inner: PlatformClient, tracing: Tracing, instance: str, crm: bool) -> None:
        self.inner = inner
        self.tracing = tracing
        self.instance = instance
        self.crm = crm

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    async def call(self, call: Call) -> Answer:
        return await self.tracing.outbound(self.inner.call, call, self.instance, self.crm)

    async def stream(
        self, call: Call, limit: int, *, mime: str | None = None, name: str = "file", sha256: str | None = None
    ) -> MediaStream:
        return await self.inner.stream(call, limit, mime=mime, name=name, sha256=sha256)
