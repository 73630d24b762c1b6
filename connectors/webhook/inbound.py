"""The CRM -> relay webhook: the signature checked on the raw body, then the answer parsed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from connectors.webhook.convert import InboundBody, from_body
from relay.connector import HookRequest, Inbound
from relay.errors import BadRequest
from relay.http import parse_json, verify
from relay.media import host_allowed
from relay.seal import Sealer

SIGNATURE_HEADER = "X-Relay-Signature"


def authenticate(key: bytes, request: HookRequest) -> None:
    """X-Relay-Signature (`t=,v1=` HMAC-SHA256 with a 5-minute window) over the raw body."""
    verify(key, request.headers.get(SIGNATURE_HEADER), request.body)


def parse(instance: str, sealer: Sealer, allowlist: Sequence[str], request: HookRequest, _: Any = None) -> Inbound:
    """A CRM user's answer as a Message for the conversation it quotes; 4xx naming what is wrong."""
    try:
        body = InboundBody.model_validate(parse_json(request.body))
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        raise BadRequest(f"invalid fields: {', '.join(fields)}") from None
    address = sealer.open(body.conversation)
    if body.type == "message" and not body.text and not body.attachments:
        raise BadRequest("a message needs text or attachments")
    for i, att in enumerate(body.attachments):
        if not host_allowed(att.url, allowlist):
            raise BadRequest(
                f"attachments[{i}].url: host is not in media.allowlist; ask the relay admin to add it", 422
            )
    return Inbound.of(from_body(body, instance, address))
