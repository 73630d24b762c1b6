"""Pure conversions for Twilio Programmable Messaging: signatures, webhook forms to Messages, Messages to the
Messages API call, answers and error codes to Reasons, the message log to reconcilable messages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from relay.client import Answer, Call
from relay.errors import DeliveryError
from relay.model import Address, Attachment, Kind, MediaRef, Message, Party, Status
from relay.reasons import Reason
from relay.reconcile import Logged
from relay.richtext import RichText

API_VERSION = "2010-04-01"
SID = r"[0-9a-fA-F]{32}"
_MEDIA = re.compile(rf"/Accounts/(AC{SID})/Messages/((?:SM|MM){SID})/Media/(ME{SID})$")
_FILE_ID = re.compile(rf"^((?:SM|MM){SID})/(ME{SID})$")
STATUSES = {"sent": Status.SENT, "delivered": Status.DELIVERED, "read": Status.READ}
FAILED = ("undelivered", "failed")
RANK = {"sent": 1, "delivered": 2, "undelivered": 2, "failed": 2, "read": 3}
OPT_OUT_TYPES = {"STOP": Kind.OPT_OUT, "START": Kind.OPT_IN}
# Twilio error codes the relay tells apart (the rest keep the HTTP status's meaning, the code as detail).
_REFUSALS = {
    21610: Reason.OPTED_OUT,
    21211: Reason.INVALID_RECIPIENT,
    21614: Reason.INVALID_RECIPIENT,
    21612: Reason.RECIPIENT_UNREACHABLE,
    21617: Reason.MESSAGE_TOO_LARGE,
}
_DELIVERY = {30003: Reason.RECIPIENT_UNREACHABLE, 30005: Reason.RECIPIENT_UNREACHABLE, 30006: Reason.INVALID_RECIPIENT}
_DELIVERY_OPTED_OUT = (21610, 30004)
Receipt = tuple[Message, int]


def signature(key: bytes, url: str, params: Sequence[tuple[str, str]], sha256: bool = False) -> str:
    """X-Twilio-Signature: Base64(HMAC(key, URL + each parameter name and value, sorted by name then value))."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hashlib.sha256 if sha256 else hashlib.sha1
    return base64.b64encode(hmac.new(key, data.encode(), digest).digest()).decode()


def signed_urls(url: str) -> list[str]:
    """The URL as Twilio may have signed it: as configured, and with or without the scheme's default port."""
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    if parts.port is None:
        return [url, urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}"))]
    if parts.port == default:
        return [url, urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0]))]
    return [url]


def file_id(media_url: str, account: str) -> str | None:
    """`<message sid>/<media sid>` of a media URL of this account, or None for anything else."""
    found = _MEDIA.search(urlsplit(media_url).path)
    return f"{found[2]}/{found[3]}" if found and found[1] == account else None


def media_path(account: str, file: str) -> str | None:
    """The API path of a media file from its id; None if the id is not one this connector made."""
    found = _FILE_ID.match(file)
    return f"/{API_VERSION}/Accounts/{account}/Messages/{found[1]}/Media/{found[2]}" if found else None


def _attachment(instance: str, account: str, url: str, mime: str, index: int) -> Attachment:
    sub = mime.partition("/")[2].split(";")[0][:10]
    name = f"media-{index + 1}.{sub}" if sub.isalnum() else f"media-{index + 1}"
    found = file_id(url, account)
    return Attachment(
        name=name, mime=mime or "application/octet-stream", ref=MediaRef(instance, found) if found else None
    )


def inbound(instance: str, account: str, form: Mapping[str, str], at: datetime | None = None) -> Message:
    """A customer's SMS or MMS from Twilio's webhook form (or a log entry in the same shape)."""
    sid, sender, body = form.get("MessageSid", ""), form.get("From", ""), form.get("Body", "")
    count = min(int(form.get("NumMedia") or 0) if (form.get("NumMedia") or "0").isdigit() else 0, 10)
    files = tuple(
        _attachment(instance, account, form.get(f"MediaUrl{i}", ""), form.get(f"MediaContentType{i}", ""), i)
        for i in range(count)
    )
    kind = OPT_OUT_TYPES.get(form.get("OptOutType", "").upper(), Kind.MEDIA if files else Kind.TEXT)
    return Message(
        kind=kind,
        id=sid,
        event_id=sid,
        origin=instance,
        conversation=Address(instance, sender),
        sender=Party(id=sender, phone=sender),
        text=RichText.of(body),
        attachments=files,
        sent_at=at or datetime.now(UTC),
    )


def receipt(instance: str, form: Mapping[str, str]) -> Receipt | None:
    """A status callback as a STATUS message for the CRM and its rank (a later, less final one is dropped);
    None for the interim states (queued, sending, accepted, scheduled, …)."""
    sid, state, customer = form.get("MessageSid", ""), form.get("MessageStatus", ""), form.get("To", "")
    if state not in STATUSES and state not in FAILED:
        return None
    reason = None
    if state in FAILED:
        code = int(form["ErrorCode"]) if form.get("ErrorCode", "").isdigit() else 0
        reason = Reason.OPTED_OUT if code in _DELIVERY_OPTED_OUT else _DELIVERY.get(code, Reason.PLATFORM_REJECTED)
    message = Message(
        kind=Kind.STATUS,
        id=f"{sid}:{state}",
        event_id=f"{sid}:{state}",
        origin=instance,
        conversation=Address(instance, customer),
        ref=sid,
        status=STATUSES.get(state, Status.FAILED),
        reason=reason.value if reason else None,
    )
    return message, RANK[state]


def send_form(
    to: str, sender: Mapping[str, str], body: str, media: Sequence[str], status_callback: str
) -> list[tuple[str, str]]:
    """The Messages API form for one message (`sender`: From or MessagingServiceSid; no status callback for "")."""
    form = [("To", to), *sender.items()]
    if status_callback:
        form.append(("StatusCallback", status_callback))
    if body:
        form.append(("Body", body))
    form += [("MediaUrl", url) for url in media]
    return form


def api_call(base: str, auth: str, method: str, path: str, timeout: float, **more: Any) -> Call:
    """One authenticated API call (Basic auth: account or API key)."""
    headers = {"Authorization": auth, "Accept": "application/json"}
    if "body" in more:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return Call(method, f"{base}{path}", headers, timeout=timeout, **more)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def error_code(answer: Answer) -> int | None:
    data = answer.json()
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, int) else None


def sent_sid(answer: Answer) -> str:
    """The new message's SID from a 2xx answer, or the refusal as a DeliveryError."""
    if answer.ok:
        data = answer.json()
        sid = data.get("sid") if isinstance(data, dict) else None
        if not isinstance(sid, str) or not sid:
            raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE)
        return sid
    raise refusal(answer)


def refusal(answer: Answer) -> DeliveryError:
    """A non-2xx answer: Twilio's codes first (21610 opted out, 20429 / 429 throttled, queue full), then the
    core's meaning of the HTTP status; the code (never Twilio's message text) is the detail."""
    code = error_code(answer)
    if answer.status == 429 or code == 20429:
        return DeliveryError(Reason.THROTTLED, retry_after=answer.retry_after or 1.0, scope="connector", detail=code)
    if code in (21611, 30001):
        return DeliveryError(Reason.THROTTLED, retry_after=answer.retry_after or 30.0, scope="connector", detail=code)
    if code in _REFUSALS:
        return DeliveryError(_REFUSALS[code], detail=code)
    found = answer.refusal(scope="connector")
    return DeliveryError(found.reason, retry_after=found.retry_after, scope=found.scope, detail=code or answer.status)


def when(raw: Any) -> datetime | None:
    """A Twilio RFC 2822 date (`date_sent`), or None."""
    try:
        return parsedate_to_datetime(raw) if isinstance(raw, str) and raw else None
    except (TypeError, ValueError):
        return None


def page(data: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The messages of one list page and the next page's URI (None on the last)."""
    if not isinstance(data, dict):
        return [], None
    items = [m for m in data.get("messages") or [] if isinstance(m, dict)]
    nxt = data.get("next_page_uri")
    return items, nxt if isinstance(nxt, str) and nxt.startswith(f"/{API_VERSION}/") else None


def media_urls(data: Any) -> list[tuple[str, str]]:
    """(API path, content type) of each file in a message's Media list answer."""
    if not isinstance(data, dict):
        return []
    out = []
    for item in data.get("media_list") or []:
        if isinstance(item, dict) and isinstance(item.get("uri"), str):
            out.append((str(item["uri"]).removesuffix(".json"), str(item.get("content_type") or "")))
    return out


def logged(instance: str, account: str, item: Mapping[str, Any], media: Sequence[tuple[str, str]]) -> Logged | None:
    """A received message from the log as the webhook would have delivered it (same id, so the dedup claims
    tell whether it was delivered); None for anything but a received inbound message."""
    at = when(item.get("date_sent"))
    if item.get("direction") != "inbound" or at is None or not isinstance(item.get("sid"), str):
        return None
    form = {
        "MessageSid": str(item["sid"]),
        "From": str(item.get("from") or ""),
        "To": str(item.get("to") or ""),
        "Body": str(item.get("body") or ""),
        "NumMedia": str(len(media)),
    }
    for i, (url, mime) in enumerate(media):
        form[f"MediaUrl{i}"], form[f"MediaContentType{i}"] = url, mime
    return Logged(at.timestamp(), inbound(instance, account, form, at))
