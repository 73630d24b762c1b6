"""Pure conversions of call events to CALL messages: Twilio Voice status callbacks, and the generic signed JSON
form a PBX or an answering service posts (docs/connectors/calls.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from relay.model import Address, Attachment, CallEvent, CallStatus, Kind, MediaRef, Message, Party

Direction = Literal["inbound", "outbound"]
_MISSED = ("busy", "no-answer", "canceled")
_RECORDING = re.compile(r"^RE[0-9a-fA-F]{32}$")


class Event(BaseModel):
    """The generic call event: who called whom, how it went, for how long, and optional links."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=200)
    status: CallStatus
    direction: Direction = "inbound"
    from_: str = Field(default="", alias="from", max_length=64)
    to: str = Field(default="", max_length=64)
    customer: str | None = Field(default=None, max_length=64)
    duration: int | None = Field(default=None, ge=0, le=7 * 24 * 3600)
    at: AwareDatetime | None = None
    caller_name: str | None = Field(default=None, max_length=200)
    recording_url: str | None = Field(default=None, pattern=r"^https?://", max_length=2048)
    transcript_url: str | None = Field(default=None, pattern=r"^https?://", max_length=2048)


def number(raw: str) -> str:
    """A phone number from a caller id: separators and a `sip:`/`tel:` prefix dropped, `00` as `+`."""
    text = raw.strip().removeprefix("sip:").removeprefix("tel:").split("@", 1)[0]
    digits = "".join(c for c in text if c.isdigit() or c == "+")
    return "+" + digits[2:] if digits.startswith("00") else digits


def call_message(
    instance: str,
    home: str,
    call_id: str,
    customer: str,
    event: CallEvent,
    at: datetime,
    name: str | None = None,
    links: tuple[Attachment, ...] = (),
) -> Message:
    """One CALL message in the customer's conversation on `home` (the messenger instance it joins)."""
    key = f"{call_id}:{event.status.value}"
    return Message(
        kind=Kind.CALL,
        id=key,
        event_id=key,
        origin=instance,
        conversation=Address(home, customer),
        sender=Party(id=customer, phone=customer, name=name or None),
        sent_at=at,
        call=event,
        attachments=links,
    )


def from_event(instance: str, home: str, event: Event, links: bool) -> Message:
    """A CALL message from the generic form; recording and transcript links only when `links`."""
    customer = number(event.customer or (event.from_ if event.direction == "inbound" else event.to))
    found = []
    if links and event.recording_url:
        found.append(Attachment(name="recording", mime="audio/mpeg", url=event.recording_url))
    if links and event.transcript_url:
        found.append(Attachment(name="transcript", mime="text/plain", url=event.transcript_url))
    call = CallEvent(event.direction, event.status, event.duration)
    at = event.at or datetime.now(UTC)
    return call_message(instance, home, event.id, customer, call, at, event.caller_name, tuple(found))


def twilio_status(form: Mapping[str, str]) -> tuple[CallStatus, int | None] | None:
    """How a Twilio Voice call went, from a status callback or a <Dial action> callback; None for the
    in-between states (queued, initiated, in-progress). An inbound call answered by TwiML ends `completed`
    even when nobody picked up, so a <Dial> outcome, when present, decides."""
    dial, state = form.get("DialCallStatus"), form.get("CallStatus", "")
    seconds = _seconds(form.get("DialCallDuration") if dial else form.get("CallDuration"))
    outcome = dial or state
    if outcome == "ringing":
        return CallStatus.RINGING, None
    if outcome in _MISSED or (outcome == "completed" and not seconds and dial is None):
        recorded = bool(form.get("RecordingUrl") or form.get("RecordingSid"))
        return (CallStatus.VOICEMAIL if recorded else CallStatus.MISSED), None
    if outcome == "failed":
        return CallStatus.FAILED, None
    if outcome == "completed":
        machine = form.get("AnsweredBy", "").startswith("machine")
        return (CallStatus.VOICEMAIL if machine else CallStatus.ANSWERED), seconds
    return None


def _seconds(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def from_twilio(instance: str, home: str, form: Mapping[str, str], links: bool) -> Message | None:
    """A CALL message from a Twilio Voice callback; the recording (when `links`) as a relay media link."""
    found = twilio_status(form)
    if found is None:
        return None
    status, seconds = found
    direction: Direction = "inbound" if form.get("Direction", "inbound") == "inbound" else "outbound"
    customer = number(form.get("From", "") if direction == "inbound" else form.get("To", ""))
    at = _when(form.get("Timestamp")) - timedelta(seconds=_seconds(form.get("CallDuration")) or 0)
    recording = form.get("RecordingSid", "")
    files: tuple[Attachment, ...] = ()
    if links and _RECORDING.match(recording):
        files = (Attachment(name="recording.mp3", mime="audio/mpeg", ref=MediaRef(instance, recording)),)
    event = CallEvent(direction, status, seconds)
    return call_message(instance, home, form.get("CallSid", ""), customer, event, at, form.get("CallerName"), files)


def _when(raw: str | None) -> datetime:
    try:
        return parsedate_to_datetime(raw) if raw else datetime.now(UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)


def recording_path(account: str, file_id: str) -> str | None:
    """The API path of a call recording (as MP3) from its SID; None for anything else."""
    return f"/2010-04-01/Accounts/{account}/Recordings/{file_id}.mp3" if _RECORDING.match(file_id) else None
