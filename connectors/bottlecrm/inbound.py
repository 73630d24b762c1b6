"""The BottleCRM webhook route: verify the signature on the raw body, pick agents' replies, deliver them."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from connectors.bottlecrm.convert import CommentEvent, Envelope, InteractionEvent, reply_message, skip_reason
from relay.connector import Outcome, Result
from relay.errors import AuthError, BadRequest, DeliveryError
from relay.http import parse_json, read_body, respond, verify

if TYPE_CHECKING:
    from connectors.bottlecrm.connector import BottleCrmConnector

SIGNATURE_HEADER = "X-BottleCRM-Signature"
M = TypeVar("M", bound=BaseModel)


def _ignored(reason: str) -> web.Response:
    return web.json_response({"status": "ignored", "reason": reason})


def _model(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        raise BadRequest(f"invalid fields: {', '.join(fields)}") from None


async def handle(conn: BottleCrmConnector, request: web.Request) -> web.Response:
    """POST /hooks/<instance>/: one BottleCRM webhook delivery."""
    raw = await read_body(request)
    verify(conn.secret, request.headers.get(SIGNATURE_HEADER), raw)
    envelope = _model(Envelope, parse_json(raw))
    comments = conn.config.reply_source == "comment"
    wanted = "ticket.comment_added" if comments else "interaction.created"
    if envelope.event != wanted:
        return _ignored("ping" if envelope.event == "ping" else "not_a_reply_event")
    event: InteractionEvent | CommentEvent
    event = _model(CommentEvent, envelope.data) if comments else _model(InteractionEvent, envelope.data)
    reason = skip_reason(event, conn.config, conn.profile_id)
    if reason:
        return _ignored(reason)
    try:
        if isinstance(event, CommentEvent):
            sealed = await conn.conversation_of_ticket(event.ticket_id)
            author, text = event.commented_by, event.comment or ""
        else:
            home = "contact" if event.contact_id else "lead"
            sealed = await conn.conversation_of(home, event.contact_id or event.lead_id)
            author, text = event.logged_by, event.body or ""
    except DeliveryError as exc:
        conn.ctx.log.warning("crm record not readable", extra={"event_id": envelope.id, "reason": exc.reason})
        return respond(Result(Outcome.RETRY, exc.reason, retry_after=exc.retry_after or 30))
    if sealed is None:
        return _ignored("no_conversation")
    try:
        address = conn.ctx.sealer.open(sealed)
    except AuthError:
        conn.ctx.log.warning("conversation marker invalid", extra={"event_id": envelope.id})
        return _ignored("invalid_conversation_reference")
    message = reply_message(conn.name, envelope.id, event.id, author, text, address)
    return respond(await conn.ctx.deliver(message))
