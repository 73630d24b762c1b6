"""A HubSpot fake for custom channels: OAuth, channels (developer key), channel accounts, inboxes, messages
with idempotency and threads, status PATCH, streamed file uploads, contacts, the 100-per-10-s limit."""

from __future__ import annotations

import secrets
import time
import uuid
from collections import Counter, deque
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests.connectors.hubspot.fake_messages import MessagesApi
from tests.connectors.hubspot.sender import WebhookSender
from tests.support.fake_platform import FakePlatform

APP_ID = 424242
CLIENT_ID = "0f0e0d0c-test-4a5b-9c8d-clientid0001"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"
DEV_KEY = "test-developer-api-key-0123456789"
REFRESH = "test-refresh-token-0123456789abcdef"
INBOX = "147959634"
CHANNELS = "/conversations/v3/custom-channels"
IDENTIFIER_TYPES = {"CHANNEL_SPECIFIC_OPAQUE_ID", "HS_EMAIL_ADDRESS", "HS_PHONE_NUMBER", "HS_SHORT_CODE"}
RICH_TEXT = {"HYPERLINK", "BOLD", "ITALIC", "LISTS", "TEXT_ALIGNMENT", "BLOCKQUOTE"}
BOOLS = ("allowInlineImages", "allowOutgoingMessages", "allowConversationStart", "allowMultipleRecipients")
INTS = ("maxFileAttachmentCount", "maxFileAttachmentSizeBytes", "maxTotalFileAttachmentSizeBytes")
STATUS_TYPES = {"SENT", "FAILED", "READ"}


def error(status: int, message: str, category: str = "VALIDATION_ERROR", **more: Any) -> web.Response:
    """HubSpot's error envelope."""
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    return web.json_response(body | more, status=status)


def bad_capabilities(caps: Any) -> list[str]:
    """The capability keys whose values HubSpot would refuse."""
    if not isinstance(caps, dict):
        return ["capabilities"]
    bad = [k for k in BOOLS if k in caps and not isinstance(caps[k], bool)]
    bad += [k for k in INTS if k in caps and not (isinstance(caps[k], int) and caps[k] > 0)]
    types = caps.get("deliveryIdentifierTypes", [])
    if not isinstance(types, list) or not all(isinstance(t, str) and t in IDENTIFIER_TYPES for t in types):
        bad.append("deliveryIdentifierTypes")
    if caps.get("threadingModel", "DELIVERY_IDENTIFIER") not in ("DELIVERY_IDENTIFIER", "INTEGRATION_THREAD_ID"):
        bad.append("threadingModel")
    if not all(r in RICH_TEXT for r in caps.get("richText", [])):
        bad.append("richText")
    return bad


class FakeHubSpot(FakePlatform, MessagesApi, WebhookSender):
    """The endpoints the connector uses, with HubSpot's documented errors. `limit` OAuth calls per `window`
    seconds (HubSpot: 100 per 10 s per app and account); `expires_in` for new access tokens; `revoke()`
    uninstalls the app."""

    def __init__(self) -> None:
        FakePlatform.__init__(self)
        WebhookSender.__init__(self, CLIENT_SECRET)
        self.base = ""
        self.expires_in = 1800
        self.limit = 100
        self.window = 10.0
        self.throttled = 0
        self.calls: deque[float] = deque()
        self.codes: dict[str, str] = {}
        self.refresh_tokens = {REFRESH}
        self.access: dict[str, float] = {}
        self.grants: Counter[str] = Counter()
        self.channels: dict[str, dict[str, Any]] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.by_idempotency: dict[str, str] = {}
        self.publishes: Counter[str] = Counter()
        self.threads: dict[tuple[str, str], str] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.contacts: list[dict[str, Any]] = []
        self.statuses: list[tuple[str, str, str]] = []

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/oauth/authorize", self.authorize)
        r.add_post("/oauth/v1/token", self.token)
        r.add_post("/oauth/2026-03/token", self.token)
        r.add_route("*", CHANNELS, self.channel_collection)
        r.add_route("*", CHANNELS + "/{cid}", self.channel_item)
        r.add_route("*", CHANNELS + "/{cid}/channel-accounts", self.account_collection)
        r.add_patch(CHANNELS + "/{cid}/channel-accounts/{aid}", self.account_item)
        r.add_get("/conversations/v3/conversations/inboxes", self.inboxes)
        r.add_post(CHANNELS + "/{cid}/messages", self.publish)
        r.add_route("*", CHANNELS + "/{cid}/messages/{mid}", self.message_item)
        r.add_post("/files/v3/files", self.upload)
        r.add_get("/files/v3/files/{fid}/signed-url", self.signed_url)
        r.add_get("/signed/{fid}", self.download)
        r.add_post("/crm/v3/objects/contacts/search", self.search_contacts)
        r.add_post("/crm/v3/objects/contacts", self.create_contact)

    # OAuth

    async def authorize(self, request: web.Request) -> web.Response:
        """The consent page, approved at once: redirect to `redirect_uri` with a single-use code."""
        q = request.query
        if q.get("client_id") != CLIENT_ID or not q.get("redirect_uri", "").startswith("http"):
            return web.Response(status=400, text="invalid client_id or redirect_uri")
        code = secrets.token_hex(8)
        self.codes[code] = q["redirect_uri"]
        raise web.HTTPFound(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}")

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self._refused("invalid_client", "BAD_CLIENT_ID", "missing or invalid client id")
        kind = form.get("grant_type")
        self.grants[str(kind)] += 1
        if kind == "authorization_code":
            if self.codes.pop(str(form.get("code")), None) != form.get("redirect_uri"):
                return self._refused("invalid_grant", "BAD_AUTH_CODE", "missing or unknown auth code")
            refresh = "r-" + secrets.token_hex(16)
            self.refresh_tokens.add(refresh)
        elif kind == "refresh_token":
            refresh = str(form.get("refresh_token"))
            if refresh not in self.refresh_tokens:
                return self._refused(
                    "invalid_grant", "BAD_REFRESH_TOKEN", "refresh token is invalid, expired or revoked"
                )
        else:
            return self._refused("unsupported_grant_type", "BAD_GRANT_TYPE", "unknown grant type")
        access = "a-" + secrets.token_hex(24)
        self.access[access] = time.monotonic() + self.expires_in
        granted = {"access_token": access, "refresh_token": refresh, "token_type": "bearer"}
        return web.json_response(granted | {"expires_in": self.expires_in})

    @staticmethod
    def _refused(error: str, status: str, message: str) -> web.Response:
        """HubSpot's OAuth error: RFC 6749's error fields, with its own status and message kept."""
        body = {"error": error, "error_description": message, "status": status, "message": message}
        return web.json_response(body, status=400)

    def revoke(self) -> None:
        """The portal uninstalled the app: every token stops working."""
        self.refresh_tokens.clear()
        self.access.clear()

    def _oauth(self, request: web.Request) -> web.Response | None:
        """401 for a missing or expired access token, 429 over the rolling limit; None when the call may go on."""
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.access.get(token, 0.0) < time.monotonic():
            return error(401, "Authentication credentials not found.", "INVALID_AUTHENTICATION")
        now = time.monotonic()
        while self.calls and self.calls[0] < now - self.window:
            self.calls.popleft()
        if len(self.calls) >= self.limit:
            self.throttled += 1
            headers = {"X-HubSpot-RateLimit-Max": str(self.limit), "X-HubSpot-RateLimit-Remaining": "0"}
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(int(self.window * 1000))
            body = {"status": "error", "message": "You have reached your ten_secondly_rolling limit."}
            body |= {
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": "TEN_SECONDLY_ROLLING",
            }
            return web.json_response(body, status=429, headers=headers)
        self.calls.append(now)
        return None

    def _developer(self, request: web.Request) -> web.Response | None:
        if request.query.get("hapikey") != DEV_KEY or request.query.get("appId") != str(APP_ID):
            return error(401, "The API key provided is invalid.", "INVALID_AUTHENTICATION")
        return None

    # Channels and accounts

    async def channel_collection(self, request: web.Request) -> web.Response:
        refused = self._developer(request)
        if refused is not None:
            return refused
        if request.method == "GET":
            return web.json_response({"results": list(self.channels.values())})
        body = await request.json()
        if not isinstance(body.get("name"), str) or "capabilities" not in body:
            return error(400, "name and capabilities are required")
        return self._channel_write(str(len(self.channels) + 1001), body, {})

    def _channel_write(self, cid: str, body: dict[str, Any], old: dict[str, Any]) -> web.Response:
        if "capabilities" in body and bad_capabilities(body["capabilities"]):
            keys = bad_capabilities(body["capabilities"])
            message = f"One or more Channel Capabilities specified had invalid values: {keys}"
            sub = "CustomChannelsError.INVALID_CHANNEL_CAPABILITY_VALUES"
            return error(400, message, subCategory=sub, context={"capabilityKeysAndValues": keys})
        fields = ("name", "capabilities", "webhookUrl", "channelDescription", "channelAccountConnectionRedirectUrl")
        channel = old | {k: body[k] for k in fields if k in body} | {"id": cid}
        channel.setdefault("createdAt", "2026-01-01T00:00:00Z")
        self.channels[cid] = channel
        return web.json_response(channel)

    async def channel_item(self, request: web.Request) -> web.Response:
        refused = self._developer(request)
        if refused is not None:
            return refused
        found = self.channels.get(request.match_info["cid"])
        if found is None:
            return error(404, "channel not found", "OBJECT_NOT_FOUND")
        if request.method == "PATCH":
            return self._channel_write(found["id"], await request.json(), found)
        return web.json_response(found)

    async def account_collection(self, request: web.Request) -> web.Response:
        refused = self._oauth(request)
        if refused is not None:
            return refused
        cid = request.match_info["cid"]
        if cid not in self.channels:
            return error(404, "channel not found", "OBJECT_NOT_FOUND")
        if request.method == "GET":
            return web.json_response({"results": [a for a in self.accounts.values() if a["channelId"] == cid]})
        body = await request.json()
        if not body.get("name") or not body.get("inboxId") or not isinstance(body.get("authorized"), bool):
            return error(400, "name, inboxId and authorized are required")
        aid = str(len(self.accounts) + 2001)
        self.accounts[aid] = {
            "id": aid,
            "channelId": cid,
            "inboxId": str(body["inboxId"]),
            "name": body["name"],
            "authorized": body["authorized"],
            "active": True,
            "archived": False,
        }
        return web.json_response(self.accounts[aid])

    async def account_item(self, request: web.Request) -> web.Response:
        refused = self._oauth(request)
        if refused is not None:
            return refused
        found = self.accounts.get(request.match_info["aid"])
        if found is None or found["channelId"] != request.match_info["cid"]:
            return error(404, "channel account not found", "OBJECT_NOT_FOUND")
        body = await request.json()
        found.update({k: body[k] for k in ("name", "authorized") if k in body})
        return web.json_response(found)

    async def inboxes(self, request: web.Request) -> web.Response:
        refused = self._oauth(request)
        return refused or web.json_response({"results": [{"id": INBOX, "name": "Support inbox"}]})

    def seed(self, webhook_url: str, instances: tuple[str, ...] = ("webchat",)) -> tuple[str, dict[str, str]]:
        """A channel registered with `webhook_url` and an authorized account per instance, as `connect` leaves them."""
        cid = str(len(self.channels) + 1001)
        caps = {"deliveryIdentifierTypes": sorted(IDENTIFIER_TYPES - {"HS_SHORT_CODE"})}
        self.channels[cid] = {"id": cid, "name": "Relay", "webhookUrl": webhook_url, "capabilities": caps}
        out = {}
        for name in instances:
            aid = str(len(self.accounts) + 2001)
            self.accounts[aid] = {"id": aid, "channelId": cid, "inboxId": INBOX, "name": name, "authorized": True}
            self.accounts[aid] |= {"active": True, "archived": False}
            out[name] = aid
        return cid, out
