"""The HubSpot fake's message, file and contact endpoints: publish (idempotent, threaded), status PATCH,
streamed multipart uploads, signed file URLs, contact search and creation."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, web

APP_ID = 424242
STATUS_TYPES = {"SENT", "FAILED", "READ"}


def _error(status: int, message: str, category: str = "VALIDATION_ERROR") -> web.Response:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    return web.json_response(body, status=status)


class MessagesApi:
    """Mixed into FakeHubSpot, whose state these handlers share."""

    base: str
    channels: dict[str, dict[str, Any]]
    accounts: dict[str, dict[str, Any]]
    messages: dict[str, dict[str, Any]]
    by_idempotency: dict[str, str]
    publishes: Counter[str]
    threads: dict[tuple[str, str], str]
    files: dict[str, dict[str, Any]]
    contacts: list[dict[str, Any]]
    statuses: list[tuple[str, str, str]]

    def _oauth(self, request: web.Request) -> web.Response | None:
        raise NotImplementedError

    def _invalid(self, cid: str, body: Any) -> str | None:
        """Why HubSpot would refuse this publish, or None."""
        if not isinstance(body, dict):
            return "body must be a JSON object"
        account = self.accounts.get(str(body.get("channelAccountId")))
        if account is None or account["channelId"] != cid:
            return "channelAccountId: unknown channel account for this channel"
        if not account.get("authorized"):
            return "channelAccountId: the channel account is not authorized"
        if body.get("messageDirection") not in ("INCOMING", "OUTGOING") or not isinstance(body.get("text"), str):
            return "messageDirection and text are required"
        allowed = self.channels[cid].get("capabilities", {}).get("deliveryIdentifierTypes", [])
        for sender in body.get("senders", []):
            kind = sender.get("deliveryIdentifier", {}).get("type") if isinstance(sender, dict) else None
            if kind not in allowed:
                return f"senders: delivery identifier type {kind} is not one the channel declared"
        for att in body.get("attachments", []):
            if not isinstance(att, dict) or att.get("type") != "FILE" or att.get("fileId") not in self.files:
                return "attachments: FILE attachments must name an uploaded fileId"
        if not body.get("integrationThreadId"):
            return "integrationThreadId is required for channels with the INTEGRATION_THREAD_ID threading model"
        return None

    async def publish(self, request: web.Request) -> web.Response:
        refused = self._oauth(request)
        if refused is not None:
            return refused
        cid = request.match_info["cid"]
        if cid not in self.channels:
            return _error(404, "channel not found", "OBJECT_NOT_FOUND")
        body = await request.json()
        problem = self._invalid(cid, body)
        if problem is not None:
            return _error(400, problem)
        idem = body.get("integrationIdempotencyId")
        if idem:
            self.publishes[idem] += 1
            if idem in self.by_idempotency:
                return web.json_response(self.messages[self.by_idempotency[idem]])
        return web.json_response(self.create(cid, body, "INTEGRATION"))

    def create(self, cid: str, body: dict[str, Any], client: str) -> dict[str, Any]:
        """Store a message in its thread (one thread per account and integrationThreadId)."""
        account, thread = str(body["channelAccountId"]), str(body.get("integrationThreadId", ""))
        thread_id = self.threads.setdefault((account, thread), str(7744112233 + len(self.threads)))
        mid = uuid.uuid4().hex
        message = {
            "id": mid,
            "type": "MESSAGE",
            "channelId": cid,
            "channelAccountId": account,
            "conversationsThreadId": thread_id,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "direction": body.get("messageDirection", "OUTGOING"),
            "senders": body.get("senders", []),
            "recipients": body.get("recipients", []),
            "text": body["text"],
            "attachments": [a | {"name": self.files[a["fileId"]]["name"]} for a in body.get("attachments", [])],
            "truncationStatus": "NOT_TRUNCATED",
            "client": {"clientType": client, "integrationAppId": APP_ID} if client == "INTEGRATION" else {},
            "archived": False,
        }
        for key in ("richText", "integrationThreadId", "integrationIdempotencyId", "inReplyToId"):
            if key in body:
                message[key] = body[key]
        if "associateWithContactId" in body:
            message["associatedContactId"] = body["associateWithContactId"]
        self.messages[mid] = message
        if body.get("integrationIdempotencyId"):
            self.by_idempotency[body["integrationIdempotencyId"]] = mid
        return message

    async def message_item(self, request: web.Request) -> web.Response:
        refused = self._oauth(request)
        if refused is not None:
            return refused
        found = self.messages.get(request.match_info["mid"])
        if found is None or found["channelId"] != request.match_info["cid"]:
            return _error(404, "message not found", "OBJECT_NOT_FOUND")
        if request.method == "PATCH":
            body = await request.json()
            if body.get("statusType") not in STATUS_TYPES:
                return _error(400, "statusType must be one of SENT, FAILED, READ")
            self.statuses.append((found["id"], body["statusType"], str(body.get("errorMessage", ""))))
            found["status"] = {"statusType": body["statusType"]}
        return web.json_response(found)

    async def upload(self, request: web.Request) -> web.Response:
        """POST /files/v3/files: multipart read part by part; records size, hash and whether it came chunked."""
        refused = self._oauth(request)
        if refused is not None:
            return refused
        reader = await request.multipart()
        fields: dict[str, str] = {}
        data, name, mime = b"", "", ""
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                return _error(400, "nested multipart is not supported")
            if part.name == "file":
                name, mime = part.filename or "", part.headers.get("Content-Type", "")
                while chunk := await part.read_chunk(16 * 1024):
                    data += chunk
            elif part.name:
                fields[part.name] = await part.text()
        options = json.loads(fields.get("options", "{}") or "{}")
        if not name or ("folderPath" in fields) == ("folderId" in fields) or "access" not in options:
            return _error(400, "file, options.access and one of folderPath or folderId are required")
        fid = str(190000000000 + len(self.files))
        chunked = request.headers.get("Transfer-Encoding", "").lower() == "chunked"
        self.files[fid] = {"name": name, "mime": mime, "data": data, "chunked": chunked, "options": options}
        self.files[fid] |= {"sha256": hashlib.sha256(data).hexdigest(), "folder": fields.get("folderPath")}
        body = {"id": fid, "name": name, "size": len(data), "access": options["access"], "archived": False}
        return web.json_response(body, status=201)

    def agent_file(self, name: str, data: bytes, mime: str) -> str:
        """A file an agent attached in HubSpot."""
        fid = str(290000000000 + len(self.files))
        self.files[fid] = {"name": name, "mime": mime, "data": data, "chunked": False, "options": {"access": "PRIVATE"}}
        return fid

    async def signed_url(self, request: web.Request) -> web.Response:
        refused = self._oauth(request)
        if refused is not None:
            return refused
        fid = request.match_info["fid"]
        if fid not in self.files:
            return _error(404, "file not found", "OBJECT_NOT_FOUND")
        found = self.files[fid]
        body = {"url": f"{self.base}/signed/{fid}?sig={uuid.uuid4().hex}", "name": found["name"]}
        return web.json_response(body | {"size": len(found["data"]), "expiresAt": "2030-01-01T00:00:00Z"})

    async def download(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["fid"])
        if found is None or "sig" not in request.query:
            return web.Response(status=403, text="expired or invalid signature")
        return web.Response(body=found["data"], content_type=found["mime"] or "application/octet-stream")

    async def search_contacts(self, request: web.Request) -> web.Response:
        refused = self._oauth(request)
        if refused is not None:
            return refused
        body = await request.json()
        hits = [
            c
            for c in self.contacts
            if any(
                all(c["properties"].get(f["propertyName"]) == f["value"] for f in g.get("filters", []))
                for g in body.get("filterGroups", [])
            )
        ]
        return web.json_response({"total": len(hits), "results": hits[: body.get("limit", 10)]})

    async def create_contact(self, request: web.Request) -> web.Response:
        refused = self._oauth(request)
        if refused is not None:
            return refused
        props = (await request.json()).get("properties", {})
        if any(c["properties"].get("email") == props.get("email") for c in self.contacts if props.get("email")):
            return _error(409, "Contact already exists.", "CONFLICT")
        contact = {"id": str(51 + len(self.contacts)), "properties": props}
        self.contacts.append(contact)
        return web.json_response(contact, status=201)

    def stored(self, idempotency: str) -> list[dict[str, Any]]:
        """The messages HubSpot holds for one integrationIdempotencyId (one, however often it was published)."""
        return [m for m in self.messages.values() if m.get("integrationIdempotencyId") == idempotency]
