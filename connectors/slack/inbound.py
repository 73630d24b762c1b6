"""Slack -> relay: the Events API hook (v0 signature, then the envelope) and the Socket Mode envelope step."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from aiohttp import web

from connectors.slack.blocks import choice_message, user_of, where
from connectors.slack.convert import actor, is_relayed, to_message
from relay.connector import HookRequest, Inbound, Result
from relay.credential import header_credential, same
from relay.errors import AuthError, BadRequest
from relay.http import parse_json
from relay.model import Message, Party

WINDOW = 300


class People(Protocol):
    """Who the app is and who wrote: the Web API lookups reading an event needs."""

    async def own_user(self) -> str | None: ...

    async def sender(self, user_id: str | None) -> Party | None: ...


class Picks(Protocol):
    """What becomes of a customer's choice: one per message, claimed before it is delivered."""

    async def take(self, message: Message, payload: dict[str, Any]) -> Inbound: ...

    async def deliver(
        self, deliver: Callable[[Message], Awaitable[Result]], message: Message, payload: dict[str, Any]
    ) -> Result: ...


@dataclass(frozen=True, slots=True)
class Events:
    """What reading an Events API envelope needs: the instance, its channel filter, the lookups, a log, and
    where choices go."""

    instance: str
    channels: frozenset[str]
    people: People
    log: logging.Logger
    picks: Picks


def authenticate(secret: bytes, request: HookRequest, now: float | None = None) -> None:
    """Check Slack's v0 signature over the raw body with a 5-minute window; AuthError if it fails."""
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not stamp or not signature:
        raise AuthError("missing Slack signature headers", 401)
    stamp_bytes = header_credential(stamp, "Slack request timestamp")
    given = header_credential(signature, "Slack signature")
    try:
        sent = int(stamp_bytes)
    except ValueError:
        raise AuthError("malformed Slack request timestamp", 401) from None
    if abs((time.time() if now is None else now) - sent) > WINDOW:
        raise AuthError("Slack request timestamp outside the 5-minute window", 401)
    raw = b"v0:" + stamp_bytes + b":" + request.body
    expected = b"v0=" + hmac.new(secret, raw, hashlib.sha256).hexdigest().encode()
    if not same(given, expected):
        raise AuthError("Slack signature does not match", 401)


async def message(events: Events, body: dict[str, Any]) -> Message | None:
    """The Message of one event envelope; None for events the relay does not carry (bots, other channels)."""
    event = body.get("event")
    if not isinstance(event, dict) or not is_relayed(event, await events.people.own_user(), events.channels):
        return None
    return to_message(body, events.instance, await events.people.sender(actor(event)))


def _json(request: HookRequest) -> bool:
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower() == "application/json"


async def parse(events: Events, request: HookRequest) -> Inbound:
    """POST /hooks/<instance>/events: the url_verification challenge, or the event's message (if relayed)."""
    if not _json(request):
        if parse_qs(request.body.decode("latin-1")).get("ssl_check") == ["1"]:
            return Inbound(reply=web.Response())
        raise BadRequest("only Events API requests (JSON) are taken here; interactivity goes to /interactions", 404)
    doc = parse_json(request.body)
    if not isinstance(doc, dict) or not isinstance(doc.get("event", {}), dict):
        raise BadRequest("a Slack payload is a JSON object whose event is an object")
    kind = doc.get("type")
    if kind == "url_verification":
        challenge = doc.get("challenge")
        if not isinstance(challenge, str):
            raise BadRequest("url_verification without a challenge string")
        return Inbound(reply=web.json_response({"challenge": challenge}))
    if kind == "app_rate_limited":
        events.log.warning("Slack is rate-limiting event delivery", extra={"connector": events.instance})
        return Inbound(reply=web.json_response({"status": "noted"}))
    found = await message(events, doc)
    return Inbound.of(found) if found is not None else Inbound()


def _relayed_channel(events: Events, channel: str) -> bool:
    return not events.channels or channel in events.channels or channel.startswith("D")


async def choice(events: Events, payload: dict[str, Any]) -> Message | None:
    """The customer's pick in an interaction payload (block_actions on a relay message), or None."""
    place = where(payload)
    if payload.get("type") != "block_actions" or place is None or not _relayed_channel(events, place[0]):
        return None
    user = user_of(payload)
    if user is None or user == await events.people.own_user():
        return None
    return choice_message(payload, events.instance, await events.people.sender(user))


async def interaction(events: Events, request: HookRequest) -> Inbound:
    """POST /hooks/<instance>/interactions (signed like events): `payload=` JSON in a form body; a button or
    select used on a relay message is the customer's choice (once per message), anything else is acknowledged
    and dropped."""
    form = parse_qs(request.body.decode("utf-8", "replace"))
    if form.get("ssl_check") == ["1"]:
        return Inbound(reply=web.Response())
    raw = form.get("payload")
    if not raw:
        raise BadRequest("an interaction is a form with a payload field")
    doc = parse_json(raw[0].encode())
    if not isinstance(doc, dict):
        raise BadRequest("an interaction payload is a JSON object")
    found = await choice(events, doc)
    return await events.picks.take(found, doc) if found is not None else Inbound()


async def envelope(
    events: Events, deliver: Callable[[Message], Awaitable[Result]], kind: str, payload: dict[str, Any]
) -> bool:
    """One Socket Mode envelope: True when Slack may forget it (delivered, duplicate, failed for good, or
    not for the relay); an events_api or interactive envelope still to be delivered stays unacknowledged,
    as do the kinds the relay does not take (slash commands)."""
    if kind == "interactive":
        picked = await choice(events, payload)
        return picked is None or (await events.picks.deliver(deliver, picked, payload)).acknowledged
    if kind != "events_api":
        return False
    found = await message(events, payload)
    return found is None or (await deliver(found)).acknowledged
