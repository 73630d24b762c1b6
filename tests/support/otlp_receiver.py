"""A local OTLP/HTTP trace receiver: accepts protobuf posts on /v1/traces and decodes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"


@dataclass
class OtlpReceiver:
    """Records every exported span as a dict (attributes flattened to name -> value), with its resource."""

    spans: list[dict[str, Any]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        if request.content_type != PROTOBUF:
            return web.Response(status=415)
        raw = await request.read()
        self.bodies.append(raw)
        self.headers.append(dict(request.headers))
        export = ExportTraceServiceRequest()
        export.ParseFromString(raw)
        for resource_spans in export.resource_spans:
            resource = _attributes(MessageToDict(resource_spans.resource).get("attributes", []))
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    found = MessageToDict(span)
                    found["attributes"] = _attributes(found.get("attributes", []))
                    found["resource"] = resource
                    self.spans.append(found)
        body = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=body, content_type=PROTOBUF)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/traces", self.handle)
        return app


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    """OTLP key/value pairs as a plain dict of their values."""
    found: dict[str, Any] = {}
    for item in items:
        value = item.get("value", {})
        found[item["key"]] = next(iter(value.values()), None) if value else None
    return found
