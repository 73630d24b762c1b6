"""The BottleCRM webhook: the signature checked on the raw body, agents' replies picked, their conversation
read back from the record the event names (through the core client)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from connectors.bottlecrm import convert
from connectors.bottlecrm.config import BottleCrmConfig
from connectors.bottlecrm.convert import CommentEvent, Envelope, InteractionEvent, Record, marker_in
from relay.client import PlatformClient
from relay.connector import HookRequest, Inbound
from relay.errors import AuthError, BadRequest, DeliveryError
from relay.http import parse_json, verify
from relay.seal import Sealer

SIGNATURE_HEADER = "X-BottleCRM-Signature"
M = TypeVar("M", bound=BaseModel)


@dataclass(slots=True)
class Crm:
    """One BottleCRM instance as the connector reads it: calls described by convert, sent by the core client;
    `profile_id` is the token owner's profile (the relay's own interactions), once known."""

    client: PlatformClient
    config: BottleCrmConfig
    profile_id: str | None = None

    async def ask(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        idempotent: bool | None = None,
        ok: tuple[int, ...] = (),
    ) -> tuple[int, Any]:
        """One API call: (status, JSON) for 2xx and for statuses in `ok`, else a DeliveryError."""
        cfg = self.config
        call = convert.api_call(
            cfg.base,
            cfg.api_token.reveal(),
            method,
            path,
            body,
            params=params,
            timeout=cfg.timeout,
            idempotent=idempotent,
        )
        return convert.read(await self.client.call(call), call.idempotent, ok)

    async def notes_of(self, record: Record) -> str | None:
        """A record's description; None if the record is gone."""
        status, detail = await self.ask("GET", record.path, ok=(404,))
        return None if status == 404 or not isinstance(detail, dict) else convert.notes_in(record.home, detail)

    async def conversation_of(self, home: str | None, record_id: str | None) -> str | None:
        """The sealed reference kept in a contact's or lead's notes."""
        if not home or not record_id:
            return None
        return marker_in(await self.notes_of(Record(home, record_id)))

    async def conversation_of_ticket(self, ticket_id: str) -> str | None:
        """The sealed reference in a ticket's description, else in its first contact's notes."""
        status, detail = await self.ask("GET", f"/api/cases/{ticket_id}/", ok=(404,))
        case = detail.get("cases_obj") if status == 200 and isinstance(detail, dict) else None
        if not isinstance(case, dict):
            return None
        return marker_in(case.get("description")) or await self.conversation_of(
            "contact", convert.first_id(case.get("contacts"))
        )


def authenticate(secret: bytes, request: HookRequest) -> None:
    """X-BottleCRM-Signature (`t=,v1=` HMAC-SHA256 with a 5-minute window) over the raw body."""
    verify(secret, request.headers.get(SIGNATURE_HEADER), request.body)


def _ignored(reason: str) -> Inbound:
    return Inbound(reply=web.json_response({"status": "ignored", "reason": reason}))


def _model(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()})
        raise BadRequest(f"invalid fields: {', '.join(fields)}") from None


async def parse(name: str, crm: Crm, sealer: Sealer, log: logging.Logger, request: HookRequest) -> Inbound:
    """An agent's reply as a Message for the conversation its record holds; other events are ignored with a
    reason. When the record cannot be read, DeliveryError: BottleCRM is asked to redeliver."""
    envelope = _model(Envelope, parse_json(request.body))
    comments = crm.config.reply_source == "comment"
    if envelope.event != crm.config.reply_event:
        return _ignored("ping" if envelope.event == "ping" else "not_a_reply_event")
    event: InteractionEvent | CommentEvent
    event = _model(CommentEvent, envelope.data) if comments else _model(InteractionEvent, envelope.data)
    reason = convert.skip_reason(event, crm.config, crm.profile_id)
    if reason:
        return _ignored(reason)
    try:
        if isinstance(event, CommentEvent):
            sealed = await crm.conversation_of_ticket(event.ticket_id)
            author, text = event.commented_by, event.comment or ""
        else:
            home = "contact" if event.contact_id else "lead"
            sealed = await crm.conversation_of(home, event.contact_id or event.lead_id)
            author, text = event.logged_by, event.body or ""
    except DeliveryError as exc:
        log.warning("crm record not readable", extra={"event_id": envelope.id, "reason": exc.reason})
        raise DeliveryError(
            exc.reason, retry_after=exc.retry_after or 30, scope=exc.scope, detail=exc.detail, retryable=True
        ) from None
    if sealed is None:
        return _ignored("no_conversation")
    try:
        address = sealer.open(sealed)
    except AuthError:
        log.warning("conversation marker invalid", extra={"event_id": envelope.id})
        return _ignored("invalid_conversation_reference")
    return Inbound.of(convert.reply_message(name, envelope.id, event.id, author, text, address))
