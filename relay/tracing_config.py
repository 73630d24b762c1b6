"""The `[tracing]` section: where spans go over OTLP, checked without importing OpenTelemetry."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from yarl import URL

from relay.secret import Secret

PROTOCOLS = ("http/protobuf", "grpc")
TRACES_PATH = "/v1/traces"


class TracingConfig(BaseModel):
    """OTLP export of content-free spans; absent means no tracing and no OpenTelemetry import."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str
    protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    service_name: str = Field(default="relay", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    headers: dict[str, Secret] = {}
    timeout: float = Field(default=10.0, gt=0, le=60)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        try:
            url = URL(value)
        except ValueError:
            url = URL()
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError('this is not an http(s) URL; write e.g. endpoint = "http://otel-collector:4318"')
        if url.user or url.password or url.query_string or url.fragment:
            raise ValueError("the endpoint takes no credentials, query or fragment; put an API key in tracing.headers")
        return value

    def traces_url(self) -> str:
        """The URL spans are posted to: the endpoint itself when it names a path, else its /v1/traces."""
        url = URL(self.endpoint)
        if self.protocol == "http/protobuf" and url.path in ("", "/"):
            return str(url.with_path(TRACES_PATH))
        return self.endpoint
