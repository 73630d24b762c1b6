"""The CRM -> relay route: verify the signature on the raw body, then parse, open, deliver."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import ValidationError

from connectors.webhook.convert import InboundBody, from_body
from relay.errors import BadRequest
from relay.http import parse_json, read_body, respond, verify
from relay.media import host_allowed

if TYPE_CHECKING:
    from connectors.webhook.connector import WebhookConnector

SIGNATURE_HEADER = "X-Relay-Signature"


async def handle(conn: WebhookConnector, request: web.Request) -> web.Response:
    """POST /hooks/<instance>: a CRM user's answer."""
    raw = await read_body(request)
    verify(conn.inbound_key, request.headers.get(SIGNATURE_HEADER), raw)
    data = parse_json(raw)
    try:
        body = InboundBody.model_validate(data)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        raise BadRequest(f"invalid fields: {', '.join(fields)}") from None
    address = conn.ctx.sealer.open(body.conversation)
    if body.type == "message" and not body.text and not body.attachments:
        raise BadRequest("a message needs text or attachments")
    for i, att in enumerate(body.attachments):
        if not host_allowed(att.url, conn.ctx.media.allowlist):
            raise BadRequest(
                f"attachments[{i}].url: host is not in media.allowlist; ask the relay admin to add it", 422
            )
    result = await conn.ctx.deliver(from_body(body, conn.name, address))
    return respond(result, failed_status=422)
