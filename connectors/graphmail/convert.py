"""Pure conversions for Graph mail: the Calls the connector makes, notifications read, a mail -> Message."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from connectors.graphmail.config import GraphMailConfig
from relay import codec, mailmessage
from relay.client import Answer, Call
from relay.errors import DeliveryError
from relay.mailbuild import Thread
from relay.mailparse import Mail, ids
from relay.model import Message
from relay.reasons import Reason

IMMUTABLE = 'IdType="ImmutableId"'


def _headers(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Prefer": IMMUTABLE, **more}


def _odata(value: str) -> str:
    """A string literal inside an OData $filter."""
    return "'" + value.replace("'", "''") + "'"


def get(cfg: GraphMailConfig, path: str, params: Mapping[str, str] | None = None) -> Callable[[str], Call]:
    """A GET of a mailbox path (read-only: safe to repeat)."""
    url = cfg.base + path
    return lambda token: Call("GET", url, _headers(token), params=params, timeout=cfg.timeout, idempotent=True)


def post(cfg: GraphMailConfig, url: str, body: Any, method: str = "POST") -> Callable[[str], Call]:
    raw = codec.dumps(body)
    return lambda token: Call(
        method, url, _headers(token, **{"Content-Type": "application/json"}), raw, timeout=cfg.timeout
    )


def inbox(cfg: GraphMailConfig) -> Callable[[str], Call]:
    """The oldest messages still in the inbox (relayed ones were moved out)."""
    params = {"$select": "id,internetMessageId", "$orderby": "receivedDateTime asc", "$top": str(cfg.batch)}
    return get(cfg, "/mailFolders/inbox/messages", params)


def mime(cfg: GraphMailConfig, message_id: str) -> Callable[[str], Call]:
    """One message as MIME ($value)."""
    url = f"{cfg.base}/messages/{quote(message_id, safe='')}/$value"
    return lambda token: Call("GET", url, _headers(token), timeout=cfg.timeout, idempotent=True)


def move(cfg: GraphMailConfig, message_id: str, folder: str) -> Callable[[str], Call]:
    return post(cfg, f"{cfg.base}/messages/{quote(message_id, safe='')}/move", {"destinationId": folder})


def find_folder(cfg: GraphMailConfig) -> Callable[[str], Call]:
    return get(cfg, "/mailFolders", {"$filter": f"displayName eq {_odata(cfg.done_folder)}", "$select": "id"})


def create_folder(cfg: GraphMailConfig) -> Callable[[str], Call]:
    return post(cfg, f"{cfg.base}/mailFolders", {"displayName": cfg.done_folder})


def by_message_id(cfg: GraphMailConfig, internet_id: str) -> Callable[[str], Call]:
    select = "id,internetMessageId,subject,conversationId,receivedDateTime,internetMessageHeaders"
    return get(cfg, "/messages", {"$filter": f"internetMessageId eq {_odata(f'<{internet_id}>')}", "$select": select})


def by_conversation(cfg: GraphMailConfig, conversation: str) -> Callable[[str], Call]:
    select = "id,internetMessageId,subject,receivedDateTime,internetMessageHeaders"
    return get(
        cfg, "/messages", {"$filter": f"conversationId eq {_odata(conversation)}", "$select": select, "$top": "25"}
    )


def send_mime(cfg: GraphMailConfig, raw: bytes) -> Callable[[str], Call]:
    """sendMail with the whole MIME message, base64 in a text/plain body (threading headers kept as written)."""
    body = base64.b64encode(raw)
    url = f"{cfg.base}/sendMail"
    return lambda token: Call("POST", url, _headers(token, **{"Content-Type": "text/plain"}), body, timeout=cfg.timeout)


def subscription(cfg: GraphMailConfig, notify: str, lifecycle: str, now: datetime) -> dict[str, Any]:
    """The body of a subscription to new messages in the inbox."""
    return {
        "changeType": "created",
        "notificationUrl": notify,
        "lifecycleNotificationUrl": lifecycle,
        "resource": f"/users/{cfg.address}/mailFolders('inbox')/messages",
        "expirationDateTime": expiry(cfg, now),
        "clientState": cfg.client_state.reveal(),
    }


def expiry(cfg: GraphMailConfig, now: datetime) -> str:
    return (
        (now + timedelta(minutes=cfg.subscription_minutes - 1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    )


def values(answer: Answer) -> list[dict[str, Any]]:
    """The `value` array of a Graph collection answer."""
    data = answer.json()
    found = data.get("value") if isinstance(data, dict) else None
    return [v for v in found if isinstance(v, dict)] if isinstance(found, list) else []


def graph_error(answer: Answer) -> DeliveryError:
    """A non-2xx Graph answer as a DeliveryError; the Graph error code travels as the detail."""
    data = answer.json()
    error = data.get("error") if isinstance(data, dict) else None
    code = str(error.get("code"))[:60] if isinstance(error, dict) and error.get("code") else None
    refusal = answer.refusal()
    if code in ("ErrorAccessDenied", "Authorization_RequestDenied"):
        return DeliveryError(Reason.PLATFORM_AUTH_FAILED, scope="connector", detail=code)
    if code in ("ErrorMessageSizeExceeded", "ErrorMessageTooBig"):
        return DeliveryError(Reason.MESSAGE_TOO_LARGE, detail=code)
    if code and refusal.reason is Reason.PLATFORM_REJECTED:
        return DeliveryError(Reason.PLATFORM_REJECTED, detail=code)
    return refusal


def thread(found: list[dict[str, Any]], root: str, answered: str | None) -> Thread:
    """The reply's place in the thread from the thread's messages (newest, or the one answered)."""
    best: tuple[bool, str] | None = None
    chosen = Thread(answered or root, (root,) if answered and answered != root else ())
    for item in found:
        mid = ids(item.get("internetMessageId"))
        if not mid:
            continue
        rank = (mid[0] == answered, str(item.get("receivedDateTime") or ""))
        if best is not None and rank <= best:
            continue
        best = rank
        heads = item.get("internetMessageHeaders") or []
        refs = next((ids(h.get("value")) for h in heads if str(h.get("name", "")).lower() == "references"), ())
        if root not in refs and root != mid[0]:
            refs = (root, *refs)
        chosen = Thread(mid[0], refs, str(item.get("subject") or ""))
    return chosen


def file_id(section: str, graph_id: str) -> str:
    return f"{section}:{graph_id}"


def parse_file_id(value: str) -> tuple[str, str] | None:
    section, _, graph_id = value.partition(":")
    if not section or not graph_id or not all(p.isdigit() for p in section.split(".")):
        return None
    return section, graph_id


def to_message(
    mail: Mail, instance: str, graph_id: str, digest: Callable[[str], str], own: Callable[[str], bool]
) -> Message | None:
    """The Message a mail becomes (see relay.mailmessage); files are found again by message and section."""
    fallback = f"graph:{digest(graph_id)[:24]}"
    return mailmessage.to_message(mail, instance, fallback, lambda f: file_id(f.section, graph_id), digest, own)
