"""The Bot Framework messaging endpoint: the JWT verified first, then the activity checked against it and parsed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from connectors.teams.auth import KeyCache, Verified, verify_token
from connectors.teams.cards import CARD, already_answered, invoke_answer, to_event
from connectors.teams.convert import address_of, to_message
from relay.connector import HookRequest, Inbound, Outcome, Result
from relay.credential import header_credential
from relay.errors import AuthError, BadRequest
from relay.http import json_answer, parse_json, respond
from relay.model import Address
from relay.once import Once


def bearer(header: str | None) -> str:
    """The token of an `Authorization: Bearer` header; AuthError(401) if absent or malformed."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing bearer token", 401)
    header_credential(token, "bearer token")
    return token.strip()


async def authenticate(keys: KeyCache, app_id: str, issuer: str, request: HookRequest) -> Verified:
    """The bearer JWT's claims once its signature (JWKS), issuer, audience and expiry hold; AuthError(401)
    if not, KeysUnavailable (503, redeliver) when the signing keys cannot be fetched to tell."""
    return await verify_token(bearer(request.headers.get("Authorization")), keys, app_id, issuer)


def check_activity(verified: Verified, service_url: object, channel_id: object, channels: Sequence[str]) -> None:
    """The channel must be one this bot serves, the token's serviceurl claim must equal the activity's, and its
    key must be endorsed for the channel."""
    if not isinstance(channel_id, str) or channel_id not in channels:
        raise AuthError("channelId is not a channel this bot accepts (teams channels setting)", 403)
    claim = verified.claims.get("serviceurl")
    if not isinstance(service_url, str) or not isinstance(claim, str) or claim != service_url:
        raise AuthError("serviceUrl does not match the token", 403)
    if channel_id not in verified.key.endorsements:
        raise AuthError("signing key is not endorsed for this channel", 403)


async def parse(
    instance: str,
    channels: Sequence[str],
    heard_from: Callable[[Address], Awaitable[None]],
    once: Once,
    request: HookRequest,
    verified: Verified,
) -> Inbound:
    """One activity, checked against its token (channel, serviceUrl, endorsement): its Message, or nothing for
    activities the relay does not carry; a choice made with a Universal Action is answered with the invoke's
    body (the updated card), and a card's choices are answered once (a stale client's second click is not
    relayed). Any authenticated activity tells `heard_from` its conversation."""
    activity = parse_json(request.body)
    if not isinstance(activity, dict):
        raise BadRequest("activity must be a JSON object")
    check_activity(verified, activity.get("serviceUrl"), activity.get("channelId"), channels)
    await heard_from(address_of(activity, instance))
    message = to_event(activity, instance) or to_message(activity, instance)
    if message is None:
        return Inbound()
    if message.choice is None:
        return Inbound.of(message)
    choice, invoke = message.choice, activity.get("type") == "invoke"
    key = once.key(message.conversation.chat, message.ref or "")
    if not await once.claim(key, message.id):
        body = {"statusCode": 200, "type": CARD, "value": already_answered()}
        return Inbound(reply=json_answer(body) if invoke else respond(Result(Outcome.DUPLICATE)))

    async def then(result: Result) -> dict[str, Any] | None:
        await once.settle(key, result)
        return invoke_answer(result, choice) if invoke else None

    return Inbound(((message,),), then=then)
