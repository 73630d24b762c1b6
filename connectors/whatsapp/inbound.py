"""Webhook routes: the GET verification handshake and signed POST notifications."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from connectors.whatsapp.convert import Incoming, Receipt, parse_payload, too_old
from relay.connector import Outcome, Result, Route
from relay.credential import header_credential, same
from relay.errors import AuthError, BadRequest
from relay.http import parse_json, read_body, respond
from relay.model import Kind, Status

if TYPE_CHECKING:
    from connectors.whatsapp.connector import WhatsAppConnector

SIGNATURE_HEADER = "X-Hub-Signature-256"


def verify_signature(secret: bytes, header: str | None, raw: bytes) -> None:
    """X-Hub-Signature-256 = "sha256=" + HMAC-SHA256(app secret, raw body), compared in constant time."""
    if not header:
        raise AuthError("missing X-Hub-Signature-256 header", 401)
    scheme, _, given = header_credential(header, "X-Hub-Signature-256 header").strip().partition(b"=")
    expected = hmac.new(secret, raw, hashlib.sha256).hexdigest().encode()
    if not same(given.lower(), expected) or scheme.lower() != b"sha256":
        raise AuthError("X-Hub-Signature-256 does not match", 403)


def routes(conn: WhatsAppConnector) -> Sequence[Route]:
    async def handshake(request: web.Request) -> web.Response:
        query = request.query
        matches = same(query.get("hub.verify_token", ""), conn.config.verify_token.reveal())
        if query.get("hub.mode") != "subscribe" or not matches:
            raise AuthError("hub.mode or hub.verify_token does not match", 403)
        challenge = query.get("hub.challenge", "")
        if not challenge or len(challenge) > 256:
            raise BadRequest("hub.challenge is missing or too long")
        return web.Response(text=challenge, content_type="text/plain")

    async def webhook(request: web.Request) -> web.Response:
        return await handle(conn, request)

    return (
        Route("GET", "", handshake),
        Route("GET", "/", handshake),
        Route("POST", "", webhook),
        Route("POST", "/", webhook),
    )


async def handle(conn: WhatsAppConnector, request: web.Request) -> web.Response:
    """POST /hooks/<instance>: authenticate the raw bytes, then deliver every message and status."""
    raw = await read_body(request)
    verify_signature(conn.app_secret, request.headers.get(SIGNATURE_HEADER), raw)
    incoming, receipts = parse_payload(parse_json(raw), conn.name, conn.config.phone_number_id)
    incoming, receipts = _recent(conn, incoming, receipts)
    if not incoming and not receipts:
        return web.json_response({"status": "ignored"})
    groups: dict[str, list[Receipt]] = {}
    for receipt in receipts:
        groups.setdefault(receipt.wamid, []).append(receipt)
    jobs = [_message(conn, item) for item in incoming]
    jobs += [_statuses(conn, sorted(g, key=lambda r: (r.timestamp, r.rank))) for g in groups.values()]
    results = await asyncio.gather(*jobs)
    conn.ctx.log.info("webhook handled", extra={"connector": conn.name, "count": len(results)})
    pending = [r for r in results if not r.acknowledged]
    if pending:
        return respond(max(pending, key=lambda r: r.retry_after or 0))
    return respond(Result(Outcome.DELIVERED))


def _recent(
    conn: WhatsAppConnector, incoming: list[Incoming], receipts: list[Receipt]
) -> tuple[list[Incoming], list[Receipt]]:
    """Messages and statuses young enough for Meta to still be delivering them; older ones are replays,
    acknowledged (so nobody retries them) but not delivered, counted and logged without content."""
    now = time.time()
    fresh = [i for i in incoming if not too_old(i.timestamp, now)]
    current = [r for r in receipts if not too_old(r.timestamp, now)]
    dropped = len(incoming) - len(fresh) + len(receipts) - len(current)
    if dropped:
        for _ in range(dropped):
            conn.ctx.metrics.inc("relay_rejected_total", connector=conn.name, reason="too_old")
        conn.ctx.log.warning(
            "webhook items older than Meta's 7-day redelivery window dropped",
            extra={"connector": conn.name, "count": dropped, "reason": "too_old"},
        )
    return fresh, current


async def _message(conn: WhatsAppConnector, item: Incoming) -> Result:
    policy = conn.policy
    await policy.saw_inbound(item.wa_id, item.timestamp)
    message = item.message
    if item.keyword is not None and item.keyword in conn.opt_out:
        await policy.set_consent(item.wa_id, "out", item.timestamp)
        message = message.with_(kind=Kind.OPT_OUT)
    elif item.keyword is not None and item.keyword in conn.opt_in:
        state, ts = await policy.consent(item.wa_id)
        if state == "out" or (state == "in" and ts == item.timestamp):
            await policy.set_consent(item.wa_id, "in", item.timestamp)
            message = message.with_(kind=Kind.OPT_IN)
    return await conn.ctx.deliver(message)


async def _statuses(conn: WhatsAppConnector, group: list[Receipt]) -> Result:
    """One wamid's statuses in order; one that is older than a status already forwarded is dropped."""
    result = Result(Outcome.DELIVERED)
    for receipt in group:
        message = receipt.message
        if message.status is Status.FAILED and receipt.code == 131047:
            await conn.policy.close_window(message.conversation.chat)
        if receipt.rank and not await conn.policy.status_fresh(receipt.wamid, receipt.rank):
            continue
        result = await conn.ctx.deliver(message)
        if not result.acknowledged:
            return result
    return result
