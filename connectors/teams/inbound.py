"""The Bot Framework messaging endpoint: verify the JWT, then parse the activity and deliver it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from connectors.teams.auth import KeysUnavailable, bearer, check_activity, verify_token
from connectors.teams.convert import address_of, to_message
from relay.errors import BadRequest
from relay.http import parse_json, read_body, respond

if TYPE_CHECKING:
    from connectors.teams.connector import TeamsConnector


async def handle(conn: TeamsConnector, request: web.Request) -> web.Response:
    """POST /hooks/<instance>/messages: one activity from the Bot Connector service."""
    token = bearer(request.headers.get("Authorization"))
    raw = await read_body(request)
    try:
        verified = await verify_token(token, conn.keys, conn.config.app_id, conn.config.issuer)
    except KeysUnavailable:
        body = {"error": "signing keys unavailable", "detail": "not delivered yet; redeliver this request"}
        return web.json_response(body, status=503, headers={"Retry-After": "10"})
    activity = parse_json(raw)
    if not isinstance(activity, dict):
        raise BadRequest("activity must be a JSON object")
    check_activity(verified, activity.get("serviceUrl"), activity.get("channelId"), conn.config.channels)
    await conn.heard_from(address_of(activity, conn.name))
    message = to_message(activity, conn.name)
    if message is None:
        return web.json_response({"status": "ignored"})
    return respond(await conn.ctx.deliver(message))
