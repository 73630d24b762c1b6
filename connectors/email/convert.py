"""Pure conversions: a read mail -> Message (or nothing), file ids, the reply's thread, body sections decoded."""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime

from relay.mailbuild import Thread
from relay.mailparse import Mail, MailClass, MailFile, first_id, ids
from relay.model import Address, Attachment, Kind, MediaRef, Message, Party, Status
from relay.reasons import Reason
from relay.richtext import RichText, Span, Style

ADDRESS = re.compile(r"^[^@\s<>\"(),;:]{1,64}@[A-Za-z0-9.-]{1,253}$")
ENCODINGS = ("base64", "quoted-printable", "7bit", "8bit", "binary")
TOO_LARGE = "(This e-mail is larger than the relay's limit, max_mail_bytes; read it in the mailbox.)"


def address_of(addr: str) -> str:
    """A mail address as the conversation keeps it: the domain in lower case."""
    local, _, domain = addr.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def valid_address(addr: str) -> bool:
    return bool(ADDRESS.match(addr))


def file_id(section: str, encoding: str, message_id: str) -> str:
    """The id of an attached file: where it is in which mail (sealed into media links, never shown)."""
    return f"{section}:{encoding}:{message_id}"


def parse_file_id(value: str) -> tuple[str, str, str] | None:
    """(section, encoding, Message-ID) of a file id, or None when it is not one."""
    section, _, rest = value.partition(":")
    encoding, _, message_id = rest.partition(":")
    if not re.fullmatch(r"\d{1,4}(\.\d{1,4}){0,8}", section) or encoding not in ENCODINGS or not message_id:
        return None
    return section, encoding, message_id


def _text(mail: Mail) -> RichText:
    """The mail's words; a new thread's subject leads in bold (it often carries the question)."""
    body = RichText.of(mail.text)
    subject = " ".join(mail.subject.split())
    if subject and not mail.in_reply_to and not mail.references:
        head = RichText((Span(subject, Style.BOLD),))
        return head + RichText.of("\n\n") + body if mail.text else head
    return body


def to_message(
    mail: Mail, instance: str, fallback_id: str, digest: Callable[[str], str], own: Callable[[str], bool]
) -> Message | None:
    """The Message a mail becomes: a customer's mail, or a bounce of a mail the relay sent as a FAILED
    status; None for everything else (auto-replies, list mail, our own mail, bounces of other mail)."""
    mid = mail.message_id or fallback_id
    if mail.kind is MailClass.BOUNCE:
        bounce = mail.bounce
        if bounce is None or not own(bounce.original):
            return None
        chat = address_of(bounce.recipient) if bounce.recipient else ""
        return Message(
            kind=Kind.STATUS,
            id=mid,
            origin=instance,
            conversation=Address(instance, chat, handle=bounce.root),
            ref=bounce.original,
            status=Status.FAILED,
            reason=Reason.RECIPIENT_UNREACHABLE.value,
        )
    answer_to = mail.answer_to
    if mail.kind is not MailClass.CUSTOMER or not answer_to or not valid_address(answer_to):
        return None
    sender = address_of(mail.sender or answer_to)
    files = tuple(_attachment(instance, f, mail.message_id) for f in mail.files) if mail.message_id else ()
    return Message(
        kind=Kind.MEDIA if files else Kind.TEXT,
        id=mid,
        origin=instance,
        conversation=Address(instance, address_of(answer_to), handle=mail.root or mid),
        sender=Party(id=digest(f"email:{sender.lower()}")[:24], name=mail.sender_name, email=sender),
        text=_text(mail),
        attachments=files,
        sent_at=mail.sent_at or datetime.now(UTC),
    )


def _attachment(instance: str, f: MailFile, message_id: str) -> Attachment:
    return Attachment(
        name=f.name, mime=f.mime, size=f.size, ref=MediaRef(instance, file_id(f.section, f.encoding, message_id))
    )


def too_large(mail: Mail) -> Mail:
    """A mail over the size cap, read from its header only: a note instead of its text."""
    return Mail(
        mail.kind,
        message_id=mail.message_id,
        references=mail.references,
        in_reply_to=mail.in_reply_to,
        sender=mail.sender,
        sender_name=mail.sender_name,
        reply_to=mail.reply_to,
        subject=mail.subject,
        sent_at=mail.sent_at,
        text=TOO_LARGE,
    )


def thread_of(headers: Sequence[bytes], root: str, answered: str | None) -> Thread:
    """The reply's place in the thread from the thread's mails found in the mailbox: it answers `answered`
    (the mail the agent replied to) or the newest one; without any, the thread root."""
    found = []
    for raw in headers:
        msg = message_from_bytes(raw, policy=policy.default)
        mid = first_id(msg.get("Message-ID"))
        if mid is None:
            continue
        try:
            when = parsedate_to_datetime(str(msg.get("Date"))).timestamp()
        except (TypeError, ValueError, IndexError):
            when = 0.0
        found.append((mid == answered, when, mid, ids(msg.get("References")), str(msg.get("Subject", ""))))
    if not found:
        return Thread(answered or root, (root,) if answered and answered != root else ())
    _, _, mid, refs, subject = max(found, key=lambda f: (f[0], f[1]))
    if root not in refs and root != mid:
        refs = (root, *refs)
    return Thread(mid, refs, subject)


class Decoder:
    """Undoes a transfer encoding chunk by chunk, keeping what a chunk boundary cut in half."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.rest = b""

    def feed(self, data: bytes) -> bytes:
        if self.encoding == "base64":
            data = self.rest + re.sub(rb"[^A-Za-z0-9+/=]", b"", data)
            cut = len(data) - len(data) % 4
            self.rest = data[cut:]
            try:
                return binascii.a2b_base64(data[:cut])
            except binascii.Error:
                return b""
        if self.encoding == "quoted-printable":
            data = self.rest + data
            cut = data.rfind(b"\n") + 1
            self.rest = data[cut:]
            return binascii.a2b_qp(data[:cut])
        return data

    def flush(self) -> bytes:
        rest, self.rest = self.rest, b""
        if self.encoding == "quoted-printable":
            return binascii.a2b_qp(rest)
        if self.encoding == "base64" and rest:
            try:
                return binascii.a2b_base64(rest + b"=" * (-len(rest) % 4))
            except binascii.Error:
                return b""
        return rest
