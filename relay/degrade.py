"""Fit a message to what the target platform can show, once, from its capabilities."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from relay.connector import Capabilities
from relay.errors import DeliveryError
from relay.interact import Choices, ChoiceStyle, numbered
from relay.model import Attachment, CallStatus, Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText, Span, Style, utf16_len


def _file_line(att: Attachment, link: str | None) -> RichText:
    label = f"📎 {att.name}"
    if link:
        return RichText((Span("\n"), Span(label, Style.NONE, link)))
    return RichText.of(f"\n{label} (file could not be relayed)")


_CALLS = {
    CallStatus.RINGING: "Call ringing",
    CallStatus.ANSWERED: "Answered call",
    CallStatus.MISSED: "Missed call",
    CallStatus.VOICEMAIL: "Voicemail",
    CallStatus.FAILED: "Failed call",
}


def call_line(message: Message) -> RichText:
    """What a destination without calls shows for a CALL event, content-free: "📞 Missed call (incoming),
    2026-01-05 14:02 UTC" with the minutes talked for an answered one."""
    call = message.call
    if call is None:
        return RichText.of("📞 Call")
    way = "incoming" if call.direction == "inbound" else "outgoing"
    line = f"📞 {_CALLS[call.status]} ({way}), {message.sent_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if call.duration:
        minutes, seconds = divmod(call.duration, 60)
        line += f", {minutes} min {seconds} s" if minutes else f", {seconds} s"
    return RichText.of(line)


def degrade(message: Message, caps: Capabilities, link: Callable[[Attachment], str | None]) -> list[Message]:
    """Return the parts to send: edits, reactions and files turned into text where unsupported,
    long text split at the target's limit. An empty list means there is nothing to send; a template the
    target cannot show and that has no fallback text is refused (DeliveryError, unsupported)."""
    m = message
    if m.kind is Kind.STATUS and not caps.receipts:
        return []
    if (m.kind is Kind.TYPING and not caps.typing) or (m.kind is Kind.READ and not caps.read_marks):
        return []
    if m.kind is Kind.TEMPLATE and not caps.templates:
        if not m.text:
            raise DeliveryError(Reason.UNSUPPORTED, detail="no templates on this channel and no fallback text")
        m = m.with_(kind=Kind.TEXT, template=None)
    if m.choices is not None and not offers(caps, m.choices):
        m = m.with_(text=m.text + RichText.of(("\n\n" if m.text else "") + numbered(m.choices)), choices=None)
    if m.choice is not None and not m.text:
        m = m.with_(text=RichText.of(m.choice.title))
    if m.kind is Kind.CALL and not caps.calls:
        m = m.with_(kind=Kind.MEDIA if m.attachments else Kind.TEXT, text=call_line(m), call=None)
    if m.kind is Kind.EDIT and not caps.edits:
        m = m.with_(kind=Kind.TEXT, text=RichText.of("(edited) ") + m.text, ref=None)
    elif m.kind is Kind.DELETE and not caps.deletes:
        m = m.with_(kind=Kind.NOTICE, text=RichText.of("(a message was deleted)"), ref=None)
    elif m.kind is Kind.REACTION and not caps.reactions:
        m = m.with_(kind=Kind.TEXT, text=RichText.of(f"(reacted {m.reaction or ''})".replace(" )", ")")), ref=None)
    if m.ref is not None and not caps.replies and m.kind in (Kind.TEXT, Kind.MEDIA):
        m = m.with_(ref=None)

    keep: list[Attachment] = []
    text = m.text
    for att in m.attachments:
        fits = caps.files and (att.size is None or att.size <= caps.max_file_bytes)
        if fits:
            keep.append(att)
        else:
            text = text + att.caption + _file_line(att, link(att) or att.url)
    if len(keep) != len(m.attachments):
        m = m.with_(text=text, attachments=tuple(keep), kind=Kind.MEDIA if keep else _text_kind(m.kind))

    measure = utf16_len if caps.text_unit == "utf16" else len
    if m.attachments and m.text and caps.max_caption is not None and measure(m.text.plain) > caps.max_caption:
        return _numbered(
            [*_split_text(m.with_(kind=Kind.TEXT, attachments=()), caps, measure), *_files(m, caps, first=False)]
        )
    if len(m.attachments) > caps.max_files:
        return _numbered(_files(m, caps, first=True))
    return _numbered(_split_text(m, caps, measure))


def offers(caps: Capabilities, choices: Choices) -> bool:
    """Whether a target can show these choices as such (else they become a numbered list in the text)."""
    n = len(choices.items)
    if choices.style is ChoiceStyle.BUTTONS:
        return 0 < n <= caps.max_buttons
    if choices.style is ChoiceStyle.LIST:
        return 0 < n <= caps.max_list
    return caps.url_buttons and 0 < n <= max(caps.max_buttons, 1)


def _numbered(parts: list[Message]) -> list[Message]:
    """Each part after the first gets its own id, `<id>#<n>`: two parts that look alike (the same text
    chunk) stay apart in a platform's idempotency key or a marker the relay puts on what it posted."""
    if len(parts) < 2:
        return parts
    return [p if i == 0 else p.with_(id=f"{p.id}#{i}") for i, p in enumerate(parts)]


def _split_text(m: Message, caps: Capabilities, measure: Callable[[str], int]) -> list[Message]:
    chunks = m.text.split(caps.max_text, measure) if m.text else [m.text]
    if len(chunks) == 1:
        return [m]
    first = m.with_(text=chunks[0])
    rest = [m.with_(text=c, attachments=(), kind=_text_kind(m.kind), ref=None) for c in chunks[1:]]
    return [first, *rest]


def _files(m: Message, caps: Capabilities, first: bool) -> list[Message]:
    """The files in parts of at most `max_files`; the text rides on the first part when `first`."""
    step = max(1, caps.max_files)
    groups = [m.attachments[i : i + step] for i in range(0, len(m.attachments), step)]
    return [
        m.with_(attachments=g, text=m.text if first and i == 0 else RichText(), ref=m.ref if i == 0 else None)
        for i, g in enumerate(groups)
    ]


def _text_kind(kind: Kind) -> Kind:
    return Kind.TEXT if kind is Kind.MEDIA else kind
