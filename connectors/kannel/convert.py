"""Pure conversions for Kannel's HTTP interface: sms-service and DLR callbacks to Messages, a Message to the
sendsms call, and sendsms answers to platform ids or Reasons."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from relay.client import Answer, Call
from relay.errors import DeliveryError
from relay.model import Address, Kind, Message, Party, Status
from relay.reasons import Reason
from relay.richtext import RichText
from relay.smstext import is_gsm7

# DLR types (the %d escape): 1 delivered to the phone, 2 not delivered to the phone, 4 queued on the SMSC,
# 8 delivered to the SMSC, 16 not delivered to the SMSC.
DLR = {1: (Status.DELIVERED, 2), 2: (Status.FAILED, 2), 8: (Status.SENT, 1), 16: (Status.FAILED, 2)}
DLR_REASONS = {2: Reason.RECIPIENT_UNREACHABLE, 16: Reason.PLATFORM_REJECTED}


def number(raw: str) -> str:
    """A phone number as Kannel gives it, without separators."""
    return "".join(c for c in raw.strip() if c.isalnum() or c == "+")


def _when(raw: str | None) -> datetime:
    if raw and raw.isdigit():
        return datetime.fromtimestamp(int(raw), UTC)
    return datetime.now(UTC)


def inbound(instance: str, query: Mapping[str, str]) -> Message:
    """A customer's SMS from the sms-service GET (`from=%p&to=%P&text=%b&id=%I&time=%T`); Kannel's id (the
    same on its retries of one message) identifies it."""
    sender = number(query.get("from", ""))
    return Message(
        kind=Kind.TEXT,
        id=query.get("id", ""),
        event_id=query.get("id", ""),
        origin=instance,
        conversation=Address(instance, sender),
        sender=Party(id=sender, phone=sender),
        text=RichText.of(query.get("text", "")),
        sent_at=_when(query.get("time")),
    )


def receipt(instance: str, query: Mapping[str, str]) -> tuple[Message, int] | None:
    """A delivery report (`id=<relay id>&status=%d&to=%p`) as a STATUS message and its rank; None for a
    report that says nothing the CRM shows (queued on the SMSC)."""
    raw = query.get("status", "")
    found = DLR.get(int(raw)) if raw.isdigit() else None
    if found is None:
        return None
    status, rank = found
    sid = query.get("id", "")
    reason = DLR_REASONS.get(int(raw))
    message = Message(
        kind=Kind.STATUS,
        id=f"{sid}:{raw}",
        event_id=f"{sid}:{raw}",
        origin=instance,
        conversation=Address(instance, number(query.get("to", ""))),
        ref=sid,
        status=status,
        reason=reason.value if reason else None,
    )
    return message, rank


def sendsms(url: str, to: str, text: str, dlr_url: str, extra: Mapping[str, str], timeout: float) -> Call:
    """The sendsms GET: UTF-8 text, sent as GSM 7-bit where it fits and as UCS-2 otherwise; `extra` holds
    the credentials and the configured from, smsc and dlr-mask."""
    params = {
        **extra,
        "to": to,
        "text": text,
        "charset": "UTF-8",
        "coding": "0" if is_gsm7(text) else "2",
        "dlr-url": dlr_url,
    }
    return Call("GET", url, params=params, timeout=timeout)


def accepted(answer: Answer) -> None:
    """Nothing when Kannel took the message (`0: Accepted for delivery`, or `3: Queued for later delivery`
    when no SMSC route is up); its refusal as a DeliveryError otherwise."""
    if answer.status in (200, 202) and answer.body[:2] in (b"0:", b"3:"):
        return
    if answer.ok:
        raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE, detail=answer.status)
    found = answer.refusal(scope="connector")
    raise DeliveryError(found.reason, retry_after=found.retry_after, scope=found.scope, detail=answer.status)
