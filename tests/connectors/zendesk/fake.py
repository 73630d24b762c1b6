"""A Sunshine Conversations v2 fake: users, personal conversations, messages, attachments and activity (its
request checks are in fake_rules, integrations and the webhook sender in fake_integrations)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web

from tests.connectors.zendesk.fake_integrations import INTEGRATION, Delivery, Integrations
from tests.connectors.zendesk.fake_rules import (
    MAX_JSON,
    MAX_UPLOAD,
    api_key,
    bad_content,
    err,
    flat_small,
    form_file,
    now,
)
from tests.support.background import Background
from tests.support.fake_platform import FakePlatform

APP_ID = "5ebee0975ac5304b664a12fa"
KEY_ID = "app_5f0e8a1c2b3d4e5f6a7b8c9d"
KEY_SECRET = "fake-key-secret-0123456789abcdef"


@dataclass
class FakeSunco(FakePlatform, Integrations):
    """SunCo at `<base>/v2/apps/<app>/...`; agents answer with `agent_reply`; `webhook_timeout` and `retry_base`
    scale SunCo's 20 s timeout and 15-minute retry window down for tests."""

    app_id: str = APP_ID
    key_id: str = KEY_ID
    key_secret: str = KEY_SECRET
    message_limit: int = 30_000
    webhook_timeout: float = 20.0
    retry_base: float = 0.05
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    attachments: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    duplicate_webhooks: bool = False
    base: str = ""

    def __post_init__(self) -> None:
        FakePlatform.__init__(self)
        self._ids = itertools.count(1)
        self.background = Background()
        self.keys: dict[str, tuple[str, str | None]] = {self.key_id: (self.key_secret, None)}

    def _id(self) -> str:
        return f"{next(self._ids):024x}"

    def routes(self, app: web.Application) -> None:
        p = "/v2/apps/{app}"
        r = app.router
        r.add_post(p + "/users", self.create_user)
        r.add_get(p + "/users/{user}", self.get_user)
        r.add_get(p + "/conversations", self.list_conversations)
        r.add_post(p + "/conversations", self.create_conversation)
        r.add_get(p + "/conversations/{conv}", self.get_conversation)
        r.add_patch(p + "/conversations/{conv}", self.update_conversation)
        r.add_post(p + "/conversations/{conv}/messages", self.post_message)
        r.add_get(p + "/conversations/{conv}/messages", self.list_messages)
        r.add_post(p + "/conversations/{conv}/activity", self.post_activity)
        r.add_post(p + "/attachments", self.upload)
        r.add_get(p + "/integrations", self.list_integrations)
        r.add_get(p + "/integrations/{integration}/webhooks", self.list_webhooks)
        r.add_get("/media/{id}/{name}", self.media)

    def _denied(self, request: web.Request) -> web.Response | None:
        """401 unless Basic key id:secret or an HS256 JWT with a known key's kid and an app/account scope; an
        integration-scoped key is remembered on the request (it may not list integrations)."""
        key = api_key(request.headers.get("Authorization", ""), self.keys)
        if key is None:
            return err(401, "unauthorized", "Authorization is required")
        request[INTEGRATION] = self.keys[key][1]
        if request.match_info.get("app") != self.app_id:
            return err(404, "app_not_found", "App not found")
        return None

    async def _json(self, request: web.Request) -> Any:
        raw = await request.read()
        if len(raw) > MAX_JSON:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_JSON, actual_size=len(raw))
        return json.loads(raw) if raw else {}

    def _user(self, key: str) -> dict[str, Any] | None:
        return self.users.get(key) or next((u for u in self.users.values() if u["id"] == key), None)

    async def create_user(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await self._json(request)
        ext = body.get("externalId")
        if not isinstance(ext, str) or not 1 <= len(ext) <= 1024 or not flat_small(body.get("metadata")):
            return err(400, "bad_request", "Invalid externalId or metadata")
        if ext in self.users:
            return err(409, "conflict", "User already exists")
        user = {
            "id": self._id(),
            "externalId": ext,
            "profile": body.get("profile", {}),
            "metadata": body.get("metadata"),
        }
        self.users[ext] = user
        return web.json_response({"user": user}, status=201)

    async def get_user(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        user = self._user(request.match_info["user"])
        return web.json_response({"user": user}) if user else err(404, "user_not_found", "User not found")

    def _view(self, conv: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in conv.items() if k != "messages"}

    async def list_conversations(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        key = request.query.get("filter[userExternalId]") or request.query.get("filter[userId]")
        if not key:
            return err(400, "bad_request", "filter[userId] or filter[userExternalId] is required")
        user = self._user(key)
        if user is None:
            return err(404, "user_not_found", "User not found")
        found = [self._view(c) for c in self.conversations.values() if c["participants"][0]["userId"] == user["id"]]
        return web.json_response({"conversations": found, "meta": {"hasMore": False}})

    async def create_conversation(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await self._json(request)
        parts = body.get("participants")
        if body.get("type") != "personal" or not isinstance(parts, list) or len(parts) != 1:
            return err(400, "bad_request", "A personal conversation needs exactly one participant")
        if not flat_small(body.get("metadata")):
            return err(400, "bad_request", "metadata must be flat and at most 4KB")
        user = self._user(str(parts[0].get("userExternalId") or parts[0].get("userId")))
        if user is None:
            return err(404, "user_not_found", "User not found")
        conv = {
            "id": self._id(),
            "type": "personal",
            "metadata": body.get("metadata"),
            "participants": [{"userId": user["id"], "userExternalId": user["externalId"]}],
            "activeSwitchboardIntegration": {"name": "zd-agentWorkspace", "integrationType": "zd:agentWorkspace"},
            "messages": [],
        }
        self.conversations[conv["id"]] = conv
        return web.json_response({"conversation": self._view(conv)}, status=201)

    def _conv(self, request: web.Request) -> dict[str, Any] | None:
        return self.conversations.get(request.match_info["conv"])

    async def get_conversation(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        conv = self._conv(request)
        return web.json_response({"conversation": self._view(conv)}) if conv else err(404, "not_found", "Not found")

    async def update_conversation(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        conv, body = self._conv(request), await self._json(request)
        if conv is None:
            return err(404, "not_found", "Resource not found")
        if not flat_small(body.get("metadata")):
            return err(400, "bad_request", "metadata must be flat and at most 4KB")
        conv["metadata"] = body.get("metadata", conv["metadata"])
        return web.json_response({"conversation": self._view(conv)})

    async def post_message(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        conv, body = self._conv(request), await self._json(request)
        if conv is None:
            return err(404, "not_found", "Resource not found")
        author, problem = body.get("author"), bad_content(body.get("content"))
        if problem is None and not flat_small(body.get("metadata")):
            problem = "metadata must be flat and at most 4KB"
        if problem is None and not (isinstance(author, dict) and author.get("type") in ("user", "business")):
            problem = "author.type must be user or business"
        if problem is None and author["type"] == "user":
            participant = conv["participants"][0]
            if author.get("userExternalId") not in (participant["userExternalId"], None) or not (
                author.get("userExternalId") or author.get("userId") == participant["userId"]
            ):
                problem = "the author is not a participant of this conversation"
        if problem is not None:
            return err(400, "bad_request", problem)
        if len(conv["messages"]) >= self.message_limit:
            return err(423, "locked", f"Message limit of {self.message_limit} per conversation reached.")
        message = self.store(conv, author, body["content"], "api:conversations", body.get("metadata"))
        return web.json_response({"messages": [message]}, status=201)

    def store(
        self, conv: dict[str, Any], author: dict[str, Any], content: dict[str, Any], source: str, metadata: Any
    ) -> dict[str, Any]:
        """Add a message to a conversation and send `conversation:message` to every subscribed webhook."""
        shown = {k: v for k, v in author.items() if k in ("type", "subtypes", "displayName", "avatarUrl")}
        if author["type"] == "user":
            shown["userId"] = conv["participants"][0]["userId"]
        message = {
            "id": self._id(),
            "received": now(),
            "author": shown,
            "content": content,
            "source": {"type": source},
        }
        if metadata:
            message["metadata"] = metadata
        conv["messages"].append(message)
        self._fire(conv, message)
        return message

    async def list_messages(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        conv = self._conv(request)
        if conv is None:
            return err(404, "not_found", "Resource not found")
        items = conv["messages"]
        before = request.query.get("page[before]")
        if before is not None:
            items = items[: next((i for i, m in enumerate(items) if m["id"] == before), len(items))]
        page = items[-100:]
        meta = {"hasMore": len(items) > 100, **({"beforeCursor": page[0]["id"]} if len(items) > 100 else {})}
        return web.json_response({"messages": page, "meta": meta})

    async def post_activity(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        conv, body = self._conv(request), await self._json(request)
        if conv is None:
            return err(404, "not_found", "Resource not found")
        author = body.get("author") or {}
        if author.get("type") == "user" and body.get("type") != "conversation:read":
            return err(400, "bad_request", "Users may only send conversation:read")
        conv.setdefault("activities", []).append(body.get("type"))
        return web.json_response({})

    async def upload(self, request: web.Request) -> web.Response:
        if (denied := self._denied(request)) is not None:
            return denied
        if request.query.get("access") != "public":
            return err(400, "bad_request", "access must be public")
        source = form_file(request.headers.get("Content-Type", ""), await request.read(), "source")
        if source is None:
            return err(400, "bad_request", "source file is required")
        data, mime, filename = source
        if len(data) > MAX_UPLOAD:
            return err(413, "payload_too_large", "File too large")
        key = self._id()
        self.attachments[key] = (data, mime)
        url = f"{request.url.origin()}/media/{key}/{quote(unquote(filename))}"
        return web.json_response({"attachment": {"mediaUrl": url, "mediaType": mime}}, status=201)

    async def media(self, request: web.Request) -> web.Response:
        found = self.attachments.get(request.match_info["id"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[0], content_type=found[1])

    def agent_reply(
        self, conversation: str, text: str | None = None, *, media: tuple[bytes, str, str] | None = None, **author: Any
    ) -> dict[str, Any]:
        """A reply typed in Zendesk's agent workspace (or `source`, `subtypes` for others)."""
        source = author.pop("source", "zd:agentWorkspace")
        content: dict[str, Any] = {"type": "text", "text": text}
        if media is not None:
            key = self._id()
            self.attachments[key] = (media[0], media[1])
            kind = "image" if media[1].startswith("image/") else "file"
            content = {"type": kind, "mediaUrl": f"{self.base}/media/{key}/{quote(media[2])}", "mediaType": media[1]}
            content |= {"mediaSize": len(media[0]), "altText": media[2], **({"text": text} if text else {})}
        who = {"type": "business", "displayName": "Dana Agent", **author}
        return self.store(self.conversations[conversation], who, content, source, None)

    def texts(self, conversation: str | None = None) -> list[str]:
        """The text of every message (all conversations unless one is named)."""
        convs = [self.conversations[conversation]] if conversation else list(self.conversations.values())
        return [str(m["content"].get("text") or "") for c in convs for m in c["messages"]]
