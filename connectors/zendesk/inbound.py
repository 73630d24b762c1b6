"""The SunCo integration webhook: the shared secret checked in constant time, then the batch of events parsed."""

from __future__ import annotations

import hmac
import logging

from pydantic import ValidationError

from connectors.zendesk.convert import Envelope, MessagePayload, reference, relayable, to_message
from relay.connector import HookRequest, Inbound
from relay.errors import AuthError, BadRequest
from relay.http import parse_json
from relay.model import Message
from relay.seal import Sealer

API_KEY_HEADER = "X-API-Key"


def authenticate(secret: bytes, request: HookRequest) -> None:
    """X-API-Key must equal the webhook's shared secret (constant-time); 401 otherwise, which SunCo does
    not retry."""
    given = request.headers.get(API_KEY_HEADER)
    if not given:
        raise AuthError(f"missing {API_KEY_HEADER} header", 401)
    if not hmac.compare_digest(given.encode(), secret):
        raise AuthError(f"{API_KEY_HEADER} does not match the webhook secret", 401)


def _envelope(raw: bytes) -> Envelope:
    try:
        return Envelope.model_validate(parse_json(raw))
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        raise BadRequest(f"invalid fields: {', '.join(fields[:10])}") from None


def parse(instance: str, app_id: str, sealer: Sealer, log: logging.Logger, request: HookRequest) -> Inbound:
    """Business messages in the relay's conversations, grouped per conversation (in order within one); every
    other event (user messages, which include the relay's own posts, activities, other triggers) is ignored."""
    envelope = _envelope(request.body)
    if envelope.app.get("id") != app_id:
        raise BadRequest("app.id is not this connector's app_id; check the webhook's app", 400)
    version = envelope.webhook.get("version")
    if version not in (None, "v2"):
        raise BadRequest("the webhook sends payload version v1; create it with version v2", 400)
    groups: dict[str, list[Message]] = {}
    for event in envelope.events:
        if event.type != "conversation:message":
            continue
        try:
            payload = MessagePayload.model_validate(event.payload)
        except ValidationError:
            log.warning("webhook event skipped", extra={"connector": instance, "reason": "malformed_event"})
            continue
        sealed = reference(payload)
        if sealed is None and payload.message.author.type == "business":
            log.debug("webhook event ignored", extra={"connector": instance, "reason": "not_a_relay_conversation"})
        if sealed is None or not relayable(payload):
            continue
        try:
            address = sealer.open(sealed)
        except AuthError:
            log.warning("webhook event skipped", extra={"connector": instance, "reason": "reference_invalid"})
            continue
        groups.setdefault(payload.conversation.id, []).append(to_message(event.id, payload, instance, address))
    return Inbound(tuple(tuple(group) for group in groups.values()))
