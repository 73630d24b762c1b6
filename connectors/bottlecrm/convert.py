"""Pure conversions to and from BottleCRM: the conversation marker, API calls and answers, webhook events."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connectors.bottlecrm.config import BottleCrmConfig, InteractionKind
from relay import codec
from relay.client import Answer, Call
from relay.degrade import call_line
from relay.errors import DeliveryError
from relay.model import Address, Attachment, CallStatus, Kind, Message, Party
from relay.reasons import Reason
from relay.richtext import RichText

MARKER_PREFIX = "relay-conversation:"
_MARKER_RE = re.compile(r"^relay-conversation:\s*(c[12]\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*$", re.M)
_NOT_PROCESSED = (502, 503, 504)
CALL_OUTCOMES = {CallStatus.ANSWERED: "connected", CallStatus.MISSED: "no_answer", CallStatus.VOICEMAIL: "voicemail"}


@dataclass(frozen=True, slots=True)
class Record:
    """A contact or lead in BottleCRM; `notes` is its description when already fetched."""

    home: str
    id: str
    notes: str | None = None
    known: bool = False

    @property
    def path(self) -> str:
        return f"/api/{self.home}s/{self.id}/"


def api_call(
    base: str,
    token: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    params: dict[str, str] | None = None,
    timeout: float = 30.0,
    idempotent: bool | None = None,
) -> Call:
    """One authenticated JSON call; reads are idempotent unless said otherwise."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    safe = method in ("GET", "HEAD") if idempotent is None else idempotent
    raw = None if body is None else codec.dumps(body)
    return Call(method, f"{base}{path}", headers, raw, params=params, timeout=timeout, idempotent=safe)


def refusal(answer: Answer, idempotent: bool) -> DeliveryError:
    """A non-2xx answer: the core's meanings, except that a 500 to a call BottleCRM does not de-duplicate may
    have been applied (no blind retry), a 404 names a record that is gone, and a bare 429 waits 5 s."""
    status = answer.status
    if status == 429:
        return DeliveryError(Reason.THROTTLED, retry_after=answer.retry_after or 5, scope="connector", detail=status)
    if status >= 500 and status not in _NOT_PROCESSED and not idempotent:
        return DeliveryError(Reason.PLATFORM_BUSY, retryable=False, scope="connector", detail=status)
    if status == 404:
        return DeliveryError(Reason.PLATFORM_REJECTED, detail=status)
    return answer.refusal(idempotent=idempotent)


def read(answer: Answer, idempotent: bool, ok: tuple[int, ...] = ()) -> tuple[int, Any]:
    """(status, JSON or None) of a 2xx answer or one whose status is in `ok`; else its refusal."""
    if answer.ok or answer.status in ok:
        return answer.status, answer.json()
    raise refusal(answer, idempotent)


def created_id(body: Any) -> str:
    """The id BottleCRM gave a created object; PLATFORM_BAD_RESPONSE without one."""
    if not isinstance(body, dict) or not body.get("id"):
        raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE)
    return str(body["id"])


def profile_id(body: Any) -> str | None:
    """The token owner's profile id in a GET /api/profile/ answer."""
    profile = body.get("user_obj") if isinstance(body, dict) else None
    return str(profile["id"]) if isinstance(profile, dict) and profile.get("id") else None


def endpoints(body: Any) -> list[dict[str, Any]]:
    """The webhook endpoints in a GET /api/webhooks/ answer."""
    found = body.get("endpoints") if isinstance(body, dict) else None
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def list_rows(home: str, page: Any) -> list[dict[str, Any]]:
    """The contacts or leads in a listing answer."""
    if not isinstance(page, dict):
        return []
    rows = page.get("results") if home == "contact" else (page.get("open_leads") or {}).get("open_leads")
    return [r for r in rows if isinstance(r, dict) and r.get("id")] if isinstance(rows, list) else []


def notes_in(home: str, detail: Any) -> str:
    """A contact's or lead's description in its detail answer."""
    obj = detail.get(f"{home}_obj") if isinstance(detail, dict) else None
    return str(obj.get("description") or "") if isinstance(obj, dict) else ""


def with_marker(notes: str | None, sealed: str) -> str:
    """Notes with exactly one conversation marker line, the given one, at the end."""
    kept = _MARKER_RE.sub("", notes or "").rstrip()
    line = f"{MARKER_PREFIX} {sealed}"
    return f"{kept}\n{line}" if kept else line


def marker_in(notes: Any) -> str | None:
    """The sealed conversation reference in a record's notes, if any (the last marker wins)."""
    if not isinstance(notes, str):
        return None
    found = _MARKER_RE.findall(notes)
    return found[-1] if found else None


def identity_tag(digest: str) -> str:
    """A short, content-free tag put in the name of records created for senders without phone or e-mail."""
    return f"r{digest[:12]}"


def record_fields(message: Message, record: str, sealed: str, tag: str | None, kind: InteractionKind) -> dict[str, Any]:
    """The body that creates a contact or lead for a message's sender, carrying the conversation marker."""
    sender = message.sender or Party(id="")
    name = (sender.name or sender.username or "").strip()
    first, _, last = name.partition(" ")
    first = first or f"{message.conversation.instance} customer"
    if tag:
        last = f"{last} [{tag}]".strip()
    body: dict[str, Any] = {
        "first_name": first[:255],
        "last_name": (last or "-")[:255],
        "description": with_marker(None, sealed),
    }
    if sender.phone:
        body["phone"] = sender.phone
    if sender.email:
        body["email"] = sender.email
    if record == "lead":
        body.update(
            title=f"{kind.capitalize()} enquiry via {message.conversation.instance}"[:64],
            assigned_to=[],
            contacts=[],
            teams=[],
        )
    return body


def body_text(text: RichText) -> str:
    """Plain text, links (such as the relay's link to a customer's file) kept as Markdown links."""
    return "".join(f"[{s.text.strip()}]({s.href})" if s.href else s.text for s in text.spans)


def interaction_body(message: Message, home: str, record_id: str, kind: InteractionKind) -> dict[str, Any]:
    """An inbound interaction recording one customer message (files already links) on a contact or lead; an
    option the customer tapped is its title, under a subject that says it was a choice."""
    what = "choice" if message.choice is not None else "message"
    return {
        "kind": kind,
        "direction": "inbound",
        "subject": f"{kind.capitalize()} {what} via {message.conversation.instance}"[:200],
        "body": body_text(message.text)[:10_000],
        "occurred_at": message.sent_at.isoformat(),
        home: record_id,
    }


def call_interaction(
    message: Message, home: str, record_id: str, link: Callable[[Attachment], str | None]
) -> dict[str, Any]:
    """A call interaction for a CALL event: outcome, seconds talked, a content-free line, enabled links."""
    line = call_line(message).plain
    links = [f"[{a.name}]({url})" for a in message.attachments if (url := link(a) or a.url)]
    body: dict[str, Any] = {
        "kind": "call",
        "direction": message.call.direction if message.call else "inbound",
        "subject": f"{_call_subject(message)} via {message.conversation.instance}"[:200],
        "body": "\n".join([line, *links])[:10_000],
        "occurred_at": message.sent_at.isoformat(),
        home: record_id,
    }
    if message.call is not None:
        if message.call.status in CALL_OUTCOMES:
            body["outcome"] = CALL_OUTCOMES[message.call.status]
        if message.call.duration is not None:
            body["duration_seconds"] = message.call.duration
    return body


def _call_subject(message: Message) -> str:
    status = message.call.status if message.call else None
    return "Call" if status is None else f"{status.value.capitalize()} call"


def system_note(message: Message) -> str:
    """A content-free note for a record: a delivery failure, notice, or opt-out."""
    channel = message.conversation.instance
    if message.kind is Kind.STATUS:
        return f"Relay: a reply could not be delivered to the customer on {channel} ({message.reason or 'failed'})."
    if message.kind is Kind.OPT_OUT:
        return f"Relay: the customer opted out of messages on {channel}."
    if message.kind is Kind.OPT_IN:
        return f"Relay: the customer opted in to messages on {channel}."
    return f"Relay notice ({channel}): {message.text.plain}"[:1000]


class Envelope(BaseModel):
    """A BottleCRM webhook delivery."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=100)
    event: str = Field(max_length=100)
    data: dict[str, Any] = Field(default_factory=dict)


class InteractionEvent(BaseModel):
    """`interaction.created` data (the fields the relay reads)."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=100)
    kind: str = ""
    direction: str = ""
    body: str | None = Field(default=None, max_length=100_000)
    logged_by: str | None = None
    contact_id: str | None = None
    lead_id: str | None = None


class CommentEvent(BaseModel):
    """`ticket.comment_added` data."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=100)
    ticket_id: str = Field(min_length=1, max_length=100)
    comment: str | None = Field(default=None, max_length=100_000)
    commented_by: str | None = None
    commented_by_contact: str | None = None


def skip_reason(
    event: InteractionEvent | CommentEvent, config: BottleCrmConfig, relay_profile: str | None
) -> str | None:
    """Why a webhook event is not an agent's reply (None when it is one)."""
    if isinstance(event, CommentEvent):
        author = event.commented_by
        if event.commented_by_contact or not author:
            return "not_an_agent_comment"
        text = event.comment
    else:
        if event.direction != "outbound":
            return "not_outbound"
        if event.kind not in config.reply_kinds:
            return "not_a_text_kind"
        author = event.logged_by
        text = event.body
    if relay_profile and author == relay_profile:
        return "relay_own"
    if not (text or "").strip():
        return "empty"
    return None


def reply_message(
    instance: str, envelope_id: str, item_id: str, author: str | None, text: str, address: Address
) -> Message:
    """An agent's reply as a Message for the customer's conversation."""
    return Message(
        kind=Kind.TEXT,
        id=item_id,
        origin=instance,
        conversation=address,
        sender=Party(id=author or "agent"),
        text=RichText.of(text.strip()),
        event_id=envelope_id,
    )


def first_id(items: Any) -> str | None:
    """The `id` of the first dict in a list, if any."""
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and item.get("id"):
                return str(item["id"])
    return None
