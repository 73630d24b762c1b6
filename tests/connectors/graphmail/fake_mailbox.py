"""The Graph fake's mailbox: stored MIME messages and folders, listing, search by id or conversation,
$value, move, folder creation, and sendMail (base64 MIME, 202; a bounce address gets a DSN back)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any

from aiohttp import web

from tests.peers.smtpd import BOUNCE_DOMAIN, dsn

MAILBOX = "support@contoso.example"


@dataclass
class Stored:
    """A message in the fake mailbox."""

    id: str
    mime: bytes
    folder: str
    received: str
    conversation: str


class Mailbox:
    """Mixed into FakeGraph, whose messages, folders and notifications these handlers share."""

    messages: dict[str, Stored]
    folders: dict[str, str]
    sent: list[bytes]
    deliver_notifications: bool
    _ids: Any

    async def notify(self, message_id: str) -> None:
        raise NotImplementedError

    async def deliver(self, raw: bytes) -> str:
        """A mail arrives in the inbox (and the subscriptions hear of it)."""
        msg = message_from_bytes(raw, policy=policy.default)
        refs = re.findall(r"<[^>]+>", str(msg.get("References", "")))
        root = refs[0] if refs else str(msg.get("Message-ID", ""))
        known = [m.conversation for m in self.messages.values() if _mid(m.mime) == root or root in _refs(m.mime)]
        stored = Stored(
            id=f"AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{next(self._ids):06d}",
            mime=raw,
            folder="inbox",
            received=f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}.{next(self._ids):07d}Z",
            conversation=known[0] if known else f"conv-{next(self._ids)}",
        )
        self.messages[stored.id] = stored
        if self.deliver_notifications:
            asyncio.get_running_loop().create_task(self.notify(stored.id))
        return stored.id

    def in_folder(self, folder: str) -> list[Stored]:
        return sorted((m for m in self.messages.values() if m.folder == folder), key=lambda m: m.received)

    async def inbox_folder(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"id": "inbox", "displayName": "Inbox", "totalItemCount": len(self.in_folder("inbox"))}
        )

    async def list_inbox(self, request: web.Request) -> web.Response:
        top = int(request.query.get("$top", "10"))
        items = [{"id": m.id, "internetMessageId": _mid(m.mime)} for m in self.in_folder("inbox")[:top]]
        return web.json_response({"value": items})

    async def list_folders(self, request: web.Request) -> web.Response:
        wanted = re.fullmatch(r"displayName eq '(.*)'", request.query.get("$filter", ""))
        found = [
            {"id": fid, "displayName": name} for name, fid in self.folders.items() if not wanted or wanted[1] == name
        ]
        return web.json_response({"value": found})

    async def create_folder(self, request: web.Request) -> web.Response:
        name = (await request.json())["displayName"]
        if name in self.folders:
            return graph_error(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        self.folders[name] = f"folder-{next(self._ids)}"
        return web.json_response({"id": self.folders[name], "displayName": name}, status=201)

    async def search(self, request: web.Request) -> web.Response:
        query = request.query.get("$filter", "")
        by_id = re.fullmatch(r"internetMessageId eq '(.*)'", query)
        by_conv = re.fullmatch(r"conversationId eq '(.*)'", query)
        found = [
            m
            for m in self.messages.values()
            if (by_id and _mid(m.mime) == by_id[1]) or (by_conv and m.conversation == by_conv[1])
        ]
        return web.json_response({"value": [_view(m) for m in found]})

    async def value(self, request: web.Request) -> web.Response:
        found = self.messages.get(request.match_info["id"])
        if found is None:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return web.Response(body=found.mime, content_type="text/plain")

    async def move(self, request: web.Request) -> web.Response:
        found = self.messages.get(request.match_info["id"])
        target = (await request.json()).get("destinationId")
        if found is None:
            return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        if target not in self.folders.values():
            return graph_error(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        found.folder = target
        return web.json_response({"id": found.id, "parentFolderId": target}, status=201)

    async def send_mail(self, request: web.Request) -> web.Response:
        if request.content_type != "text/plain":
            return graph_error(400, "ErrorInvalidRequest", "only MIME sends are expected by this fake")
        try:
            raw = base64.b64decode(await request.read(), validate=True)
        except (binascii.Error, ValueError):
            return graph_error(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
        self.sent.append(raw)
        msg = message_from_bytes(raw, policy=policy.default)
        to = str(msg.get("To", ""))
        if to.lower().endswith("@" + BOUNCE_DOMAIN) or to.lower().endswith(BOUNCE_DOMAIN + ">"):
            await self.deliver(dsn(MAILBOX, to, raw))
        return web.Response(status=202)


def _mid(raw: bytes) -> str:
    found = re.search(rb"^Message-ID:\s*(<[^>]+>)", raw, re.I | re.M)
    return found[1].decode() if found else ""


def _refs(raw: bytes) -> str:
    found = re.search(rb"^References:\s*(.+)$", raw, re.I | re.M)
    return found[1].decode() if found else ""


def _view(m: Stored) -> dict[str, Any]:
    msg = message_from_bytes(m.mime, policy=policy.default)
    heads = [{"name": k, "value": str(v)} for k, v in msg.items() if k.lower() in ("references", "in-reply-to")]
    return {
        "id": m.id,
        "internetMessageId": _mid(m.mime),
        "subject": str(msg.get("Subject", "")),
        "conversationId": m.conversation,
        "receivedDateTime": m.received,
        "internetMessageHeaders": heads,
    }


def graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An error as Graph answers it: {"error": {"code", "message"}}."""
    body = json.dumps({"error": {"code": code, "message": message}})
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)
