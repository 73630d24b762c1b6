"""Mail the relay writes: Message-IDs it can recognise as its own, replies threaded under the customer's
mail (In-Reply-To, References, "Re:"), plain text and HTML alternatives from the rich text, files."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address as MailAddress
from email.message import EmailMessage
from email.utils import format_datetime
from hmac import compare_digest

from relay.errors import DeliveryError, MediaError
from relay.mailconfig import MailboxConfig
from relay.media import MediaService
from relay.model import Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText, to_html

_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw|vs|odp|r)\s*:", re.I)
_HEADER_BREAKS = re.compile(r"[\r\n]+")
_RECIPIENT = re.compile(r"^[^@\s<>\"(),;:]{1,64}@[A-Za-z0-9.-]{1,253}$")
Tag = Callable[[str], str]


def new_message_id(domain: str, tag: Tag) -> str:
    """A fresh Message-ID (without angle brackets) whose local part carries a keyed tag of itself."""
    token = secrets.token_hex(10)
    return f"{token}.{tag(token)[:16]}@{domain}"


def is_own(message_id: str | None, tag: Tag) -> bool:
    """True for a Message-ID made by `new_message_id` with the same key."""
    if not message_id or "@" not in message_id:
        return False
    token, _, mac = message_id.split("@", 1)[0].partition(".")
    return bool(token and mac) and compare_digest(tag(token)[:16], mac)


def reply_subject(subject: str, fallback: str) -> str:
    """`Re: <subject>` (kept as it is when it already starts with a reply prefix), one line."""
    subject = _HEADER_BREAKS.sub(" ", subject).strip()
    if not subject:
        return fallback
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


@dataclass(frozen=True, slots=True)
class Thread:
    """Where a reply goes in the customer's mail client: the mail it answers and the chain before it."""

    in_reply_to: str | None = field(default=None, repr=False)
    references: tuple[str, ...] = field(default=(), repr=False)
    subject: str = field(default="", repr=False)

    def chain(self, limit: int = 10) -> tuple[str, ...]:
        """References of the reply: the earlier chain and the answered mail, root first, at most `limit`."""
        refs = list(self.references)
        if self.in_reply_to and self.in_reply_to not in refs:
            refs.append(self.in_reply_to)
        return tuple(refs) if len(refs) <= limit else (refs[0], *refs[-(limit - 1) :])


@dataclass(frozen=True, slots=True)
class OutFile:
    """A file to attach, already read into memory."""

    name: str = field(repr=False)
    mime: str
    data: bytes = field(repr=False)


def plain(text: RichText) -> str:
    """The text/plain rendering: links keep their URL after the words."""
    out = []
    for span in text.spans:
        out.append(span.text)
        if span.href and span.href != span.text:
            out.append(f" <{span.href}>")
    return "".join(out)


def html(text: RichText) -> str:
    """The text/html rendering: the rich text's escaped HTML, line by line."""
    lines, pos = [], 0
    for line in text.plain.split("\n"):
        lines.append(to_html(text.slice(pos, pos + len(line))))
        pos += len(line) + 1
    body = "<br>\n".join(lines)
    return f'<!DOCTYPE html>\n<html><body><div dir="auto">{body}</div></body></html>\n'


def build(
    *,
    sender: str,
    sender_name: str | None,
    to: str,
    message_id: str,
    thread: Thread,
    text: RichText,
    files: Sequence[OutFile] = (),
    fallback_subject: str = "Re: your message",
    automatic: bool = False,
) -> EmailMessage:
    """One mail from the workspace's address: threaded under `thread`, text and HTML alternatives, files;
    `automatic` marks it Auto-Submitted (RFC 3834) so that no mail system answers it."""
    msg = EmailMessage()
    msg["From"] = MailAddress(display_name=sender_name or "", addr_spec=sender)
    msg["To"] = MailAddress(addr_spec=to)
    msg["Subject"] = reply_subject(thread.subject, fallback_subject)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = f"<{message_id}>"
    chain = thread.chain()
    if thread.in_reply_to:
        msg["In-Reply-To"] = f"<{thread.in_reply_to}>"
    if chain:
        msg["References"] = " ".join(f"<{ref}>" for ref in chain)
    if automatic:
        msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All" if automatic else "OOF"
    msg.set_content(plain(text))
    msg.add_alternative(html(text), subtype="html")
    for item in files:
        maintype, _, subtype = item.mime.partition("/")
        if not subtype or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.name or "file")
    return msg


def reply(
    *,
    sender: str,
    sender_name: str | None,
    domain: str,
    tag: Callable[[str], str],
    message: Message,
    thread: Thread,
    files: Sequence[OutFile],
    fallback_subject: str,
) -> tuple[str, EmailMessage]:
    """The mail that carries one message to the customer (a notice is marked automatic), with a new
    Message-ID of the relay's own; (that id, the mail)."""
    mid = new_message_id(domain, tag)
    mail = build(
        sender=sender,
        sender_name=sender_name,
        to=message.conversation.chat,
        message_id=mid,
        thread=thread,
        text=message.text,
        files=files,
        fallback_subject=fallback_subject,
        automatic=message.kind is Kind.NOTICE,
    )
    return mid, mail


async def read_files(media: MediaService, message: Message, cap: int) -> list[OutFile]:
    """A message's files in memory for a mail, each within `cap`; one that cannot be had fails the send."""
    files = []
    for att in message.attachments:
        try:
            files.append(OutFile(att.name, att.mime, await media.read(att, cap)))
        except MediaError:
            raise DeliveryError(Reason.MEDIA_UNAVAILABLE) from None
    return files


def valid_recipient(addr: str) -> bool:
    """A bare address a mail can go to: one local part, one domain, nothing that would start another."""
    return bool(_RECIPIENT.match(addr))


async def outgoing(
    message: Message,
    box: MailboxConfig,
    tag: Tag,
    media: MediaService,
    cap: int,
    thread_of: Callable[[str, str | None], Awaitable[Thread]],
) -> tuple[str, EmailMessage]:
    """The mail carrying `message`, threaded under the customer's mail (`thread_of(root, answered)` finds
    where in the mailbox): (its Message-ID, the mail); a bad recipient or nothing to say fails the send."""
    address = message.conversation
    if not valid_recipient(address.chat):
        raise DeliveryError(Reason.INVALID_RECIPIENT)
    if not message.text and not message.attachments:
        raise DeliveryError(Reason.EMPTY_MESSAGE)
    answered = message.ref if message.ref and "@" in message.ref else None
    thread = await thread_of(address.handle, answered) if address.handle else Thread(answered)
    return reply(
        sender=box.address,
        sender_name=box.display_name,
        domain=box.domain,
        tag=tag,
        message=message,
        thread=thread,
        files=await read_files(media, message, cap),
        fallback_subject=box.reply_subject,
    )
