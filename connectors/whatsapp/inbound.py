"""Webhook steps: the GET verification handshake, and signed POST notifications as ordered groups."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from connectors.whatsapp.convert import Incoming, Receipt, incoming, receipt
from connectors.whatsapp.markup import WINDOW_CLOSED, dicts, obj
from connectors.whatsapp.policy import Policy
from relay.connector import HookRequest, Inbound
from relay.credential import header_credential, same
from relay.errors import AuthError, BadRequest
from relay.http import parse_json
from relay.metrics import Metrics
from relay.model import Message, Status

SIGNATURE_HEADER = "X-Hub-Signature-256"
# Meta redelivers a webhook for up to 7 days; a signed body about anything older is a replay. One hour of
# margin for clocks.
MAX_AGE = 7 * 24 * 3600 + 3600


def authenticate(secret: bytes, request: HookRequest) -> None:
    """X-Hub-Signature-256 = "sha256=" + HMAC-SHA256(app secret, raw body), compared in constant time."""
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        raise AuthError("missing X-Hub-Signature-256 header", 401)
    scheme, _, given = header_credential(header, "X-Hub-Signature-256 header").strip().partition(b"=")
    expected = hmac.new(secret, request.body, hashlib.sha256).hexdigest().encode()
    if not same(given.lower(), expected) or scheme.lower() != b"sha256":
        raise AuthError("X-Hub-Signature-256 does not match", 403)


def subscribe(verify_token: bytes, request: HookRequest) -> None:
    """The handshake's credential: hub.mode=subscribe and hub.verify_token (constant time), else 403."""
    query = request.query
    matches = same(query.get("hub.verify_token", ""), verify_token)
    if query.get("hub.mode") != "subscribe" or not matches:
        raise AuthError("hub.mode or hub.verify_token does not match", 403)


def challenge(request: HookRequest, _: Any) -> Inbound:
    """The handshake's answer: the challenge echoed as text/plain; nothing to deliver."""
    text = request.query.get("hub.challenge", "")
    if not text or len(text) > 256:
        raise BadRequest("hub.challenge is missing or too long")
    return Inbound(reply=web.Response(text=text, content_type="text/plain"))


def parse_payload(data: Any, instance: str, phone_number_id: str) -> tuple[list[Incoming], list[Receipt]]:
    """Every message and status in a webhook body addressed to our phone number id; others are ignored."""
    if not isinstance(data, dict):
        raise BadRequest("webhook body is not a JSON object")
    messages: list[Incoming] = []
    receipts: list[Receipt] = []
    for entry in dicts(data.get("entry")):
        for change in dicts(entry.get("changes")):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                continue
            meta = value.get("metadata")
            if not isinstance(meta, dict) or str(meta.get("phone_number_id")) != phone_number_id:
                continue
            profiles = {
                str(c.get(key)): obj(c.get("profile"))
                for c in dicts(value.get("contacts"))
                for key in ("wa_id", "user_id")
                if c.get(key)
            }
            messages += filter(None, (incoming(raw, instance, profiles) for raw in dicts(value.get("messages"))))
            receipts += filter(None, (receipt(raw, instance) for raw in dicts(value.get("statuses"))))
    return messages, receipts


def too_old(timestamp: int, now: float) -> bool:
    """Whether an item's timestamp is past the window in which Meta could still be redelivering it."""
    return 0 < timestamp < now - MAX_AGE


@dataclass(frozen=True, slots=True)
class Intake:
    """What parsing a notification needs: the instance and its number, the state it keeps, metrics, a log."""

    instance: str
    phone_number_id: str
    policy: Policy
    metrics: Metrics
    log: logging.Logger


async def parse(intake: Intake, request: HookRequest, _: Any = None) -> Inbound:
    """Each customer message on its own; each outbound message's statuses as one group, in order."""
    found, receipts = parse_payload(parse_json(request.body), intake.instance, intake.phone_number_id)
    found, receipts = _recent(intake, found, receipts)
    if not found and not receipts:
        return Inbound()
    by_wamid: dict[str, list[Receipt]] = {}
    for item in receipts:
        by_wamid.setdefault(item.wamid, []).append(item)
    ordered = [sorted(g, key=lambda r: (r.timestamp, r.rank)) for g in by_wamid.values()]
    messages = await asyncio.gather(*(_message(intake, item) for item in found))
    statuses = await asyncio.gather(*(_statuses(intake.policy, group) for group in ordered))
    intake.log.info("webhook handled", extra={"connector": intake.instance, "count": len(found) + len(ordered)})
    return Inbound(tuple((m,) for m in messages) + tuple(g for g in statuses if g))


def _recent(intake: Intake, found: list[Incoming], receipts: list[Receipt]) -> tuple[list[Incoming], list[Receipt]]:
    """Messages and statuses young enough for Meta to still be delivering them; older ones are replays,
    acknowledged (so nobody retries them) but not delivered, counted and logged without content."""
    now = time.time()
    fresh = [i for i in found if not too_old(i.timestamp, now)]
    current = [r for r in receipts if not too_old(r.timestamp, now)]
    dropped = len(found) - len(fresh) + len(receipts) - len(current)
    if dropped:
        for _ in range(dropped):
            intake.metrics.inc("relay_rejected_total", connector=intake.instance, reason="too_old")
        intake.log.warning(
            "webhook items older than Meta's 7-day redelivery window dropped",
            extra={"connector": intake.instance, "count": dropped, "reason": "too_old"},
        )
    return fresh, current


async def _message(intake: Intake, item: Incoming) -> Message:
    """A customer message (re)opens the 24-hour window; STOP and START are the core's (consent ledger). A
    changed number is kept so replies in the conversation reach the new one."""
    if item.moved_to is not None:
        await intake.policy.move(item.wa_id, item.moved_to)
    else:
        await intake.policy.saw_inbound(item.wa_id, item.timestamp, item.message.id)
    return item.message


async def _statuses(policy: Policy, group: list[Receipt]) -> tuple[Message, ...]:
    """One wamid's statuses in order; one older than a status already forwarded is left out. A 131047
    failure closes the tracked window."""
    out: list[Message] = []
    for item in group:
        message = item.message
        if message.status is Status.FAILED and item.code == WINDOW_CLOSED:
            await policy.close_window(message.conversation.chat)
        if item.rank and not await policy.status_fresh(item.wamid, item.rank):
            continue
        out.append(message)
    return tuple(out)
