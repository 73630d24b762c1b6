"""An RFC 5322 mail read for relaying: who wrote it, the thread it belongs to, its clean text, its files
(by IMAP body section), and whether it is a customer's mail at all (auto-reply, bounce, list, our own)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from enum import StrEnum

from relay.mailtext import LANGUAGES, MAX_TEXT, html_to_text, latest_reply

_IDS = re.compile(r"<([^<>\s]{1,250})>")
_AUTO_SUBJECT = re.compile(r"^\s*(automatic reply|auto-?reply|out of office|autoreply|abwesenheit\w*)\s*:", re.I)
_DAEMON = re.compile(r"^(mailer-daemon|postmaster)@", re.I)
MAX_REFERENCES = 10
Own = Callable[[str | None, str | None], bool]


class MailClass(StrEnum):
    """What a mail is, for the relay: only a customer's mail goes to the CRM as a message."""

    CUSTOMER = "customer"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    LIST = "list"
    OWN = "own"


@dataclass(frozen=True, slots=True)
class MailFile:
    """An attached file: its IMAP body section, transfer encoding, name, type and decoded size."""

    section: str
    encoding: str
    name: str = field(repr=False)
    mime: str
    size: int


@dataclass(frozen=True, slots=True)
class Bounce:
    """A delivery failure report (RFC 3464): the Message-ID of the mail that failed and its thread root."""

    original: str = field(repr=False)
    root: str = field(repr=False)
    recipient: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Mail:
    """The relay's reading of one mail; content and addresses are hidden from repr."""

    kind: MailClass
    message_id: str | None = field(default=None, repr=False)
    references: tuple[str, ...] = field(default=(), repr=False)
    in_reply_to: str | None = field(default=None, repr=False)
    sender: str | None = field(default=None, repr=False)
    sender_name: str | None = field(default=None, repr=False)
    reply_to: str | None = field(default=None, repr=False)
    subject: str = field(default="", repr=False)
    sent_at: datetime | None = None
    text: str = field(default="", repr=False)
    files: tuple[MailFile, ...] = ()
    bounce: Bounce | None = None

    @property
    def root(self) -> str | None:
        """The Message-ID that starts the thread: the first of References, else In-Reply-To, else its own."""
        return self.references[0] if self.references else self.in_reply_to or self.message_id

    @property
    def answer_to(self) -> str | None:
        """The address a reply goes to: Reply-To when set, else From."""
        return self.reply_to or self.sender


def ids(value: object) -> tuple[str, ...]:
    """The Message-IDs in a header value, without angle brackets."""
    return tuple(_IDS.findall(str(value or "")))


def first_id(value: object) -> str | None:
    found = ids(value)
    return found[0] if found else None


def _address(msg: Message, name: str) -> tuple[str | None, str | None]:
    try:
        values = msg.get_all(name) or []
        pairs = getaddresses([str(v) for v in values])
    except (TypeError, ValueError, IndexError):
        return None, None
    for display, addr in pairs:
        if "@" in addr:
            return addr.strip(), (display.strip() or None)
    return None, None


def _date(msg: Message) -> datetime | None:
    raw = msg.get("Date")
    if not raw:
        return None
    try:
        found = parsedate_to_datetime(str(raw))
    except (TypeError, ValueError, IndexError):
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def decoded(part: Message) -> bytes:
    """A leaf part's body, transfer encoding undone."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def part_text(part: Message) -> str:
    """A text part as str, in its declared charset (unknown charsets read as UTF-8, errors replaced)."""
    charset = part.get_content_charset() or "utf-8"
    data = decoded(part)[: MAX_TEXT * 4]
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def leaves(part: Message, section: str = "") -> Iterator[tuple[str, Message]]:
    """Every leaf part with its IMAP body section ("1", "2.1", …); an attached mail is one leaf."""
    if part.is_multipart() and part.get_content_maintype() != "message":
        payload = part.get_payload()
        for i, child in enumerate(payload if isinstance(payload, list) else [], 1):
            if isinstance(child, Message):
                yield from leaves(child, f"{section}.{i}" if section else str(i))
    else:
        yield section or "1", part


def _body(msg: EmailMessage) -> tuple[str, Message | None]:
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except (KeyError, TypeError, ValueError):
        part = None
    if part is None:
        return "", None
    text = part_text(part)
    return (html_to_text(text) if part.get_content_subtype() == "html" else text), part


def _files(msg: Message, body: Message | None) -> tuple[MailFile, ...]:
    """The attached files: every leaf but the body and unnamed text parts (the body's other alternative)."""
    found = []
    for section, part in leaves(msg):
        name = part.get_filename()
        if part is body or (name is None and part.get_content_maintype() == "text"):
            continue
        kind = part.get_content_type()
        encoding = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
        size = len(part.as_bytes()) if kind == "message/rfc822" else len(decoded(part))
        default = "message.eml" if kind == "message/rfc822" else "file"
        found.append(MailFile(section, encoding, (name or default)[:200], kind, size))
    return tuple(found)


def _auto(msg: Message) -> bool:
    submitted = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if submitted and not submitted.startswith("no"):
        return True
    if any(msg.get(h) is not None for h in ("X-Autoreply", "X-Autorespond")):
        return True
    if str(msg.get("Precedence", "")).strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.match(str(msg.get("Subject", ""))))


def _listed(msg: Message) -> bool:
    if any(msg.get(h) is not None for h in ("List-Id", "List-Unsubscribe", "List-Post")):
        return True
    return str(msg.get("Precedence", "")).strip().lower() in ("bulk", "list", "junk")


def _bounce(msg: Message) -> Bounce | None:
    """The failed mail a delivery report names, when it reports a failure (not a delay or a success)."""
    failed = False
    recipient = None
    original_headers: Message | None = None
    for _, part in leaves(msg):
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "message/global-delivery-status"):
            status = _status_text(part)
            failed = failed or bool(re.search(r"^action:\s*failed", status, re.I | re.M))
            rcpt = re.search(r"^final-recipient:\s*[\w-]+;\s*(\S+)", status, re.I | re.M)
            recipient = recipient or (rcpt.group(1) if rcpt else None)
        elif kind in ("text/rfc822-headers", "message/rfc822", "message/global-headers"):
            original_headers = _inner(part)
    if not failed or original_headers is None:
        return None
    original = first_id(original_headers.get("Message-ID"))
    if original is None:
        return None
    refs = ids(original_headers.get("References"))
    root = refs[0] if refs else first_id(original_headers.get("In-Reply-To")) or original
    return Bounce(original, root, recipient or _address(original_headers, "To")[0])


def _status_text(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):
        return "\n".join(str(p) for p in payload)
    return part_text(part)


def _inner(part: Message) -> Message:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return message_from_bytes(decoded(part) or str(payload).encode(), policy=policy.default)


def _is_report(msg: Message) -> bool:
    if msg.get_content_type() == "multipart/report":
        return True
    sender, _ = _address(msg, "From")
    return bool(sender and _DAEMON.match(sender)) and str(msg.get("Return-Path", "")).strip() in ("<>", "")


def classify(msg: Message, own: Own) -> MailClass:
    """Our own mail, a bounce, an auto-reply, list traffic, or a customer's mail (in that order)."""
    if own(first_id(msg.get("Message-ID")), _address(msg, "From")[0]):
        return MailClass.OWN
    if _is_report(msg):
        return MailClass.BOUNCE
    if _auto(msg):
        return MailClass.AUTO_REPLY
    if _listed(msg):
        return MailClass.LIST
    return MailClass.CUSTOMER


def _references(msg: Message) -> tuple[str, ...]:
    """References, kept short: the thread root and the newest ones."""
    refs = ids(msg.get("References"))
    return refs if len(refs) <= MAX_REFERENCES else (refs[0], *refs[-(MAX_REFERENCES - 1) :])


def parse(raw: bytes, own: Own = lambda _id, _from: False, languages: tuple[str, ...] = LANGUAGES) -> Mail:
    """Read one mail: for a customer's, its new words (no quoted history, no signature) and its files."""
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    kind = classify(msg, own)
    sender, name = _address(msg, "From")
    text, bounce = "", None
    files: tuple[MailFile, ...] = ()
    if kind is MailClass.CUSTOMER:
        found, body = _body(msg)
        text, files = latest_reply(found, languages), _files(msg, body)
    elif kind is MailClass.BOUNCE:
        bounce = _bounce(msg)
    return Mail(
        kind,
        message_id=first_id(msg.get("Message-ID")),
        references=_references(msg),
        in_reply_to=first_id(msg.get("In-Reply-To")),
        sender=sender,
        sender_name=name,
        reply_to=_address(msg, "Reply-To")[0],
        subject=str(msg.get("Subject", ""))[:998],
        sent_at=_date(msg),
        text=text,
        files=files,
        bounce=bounce,
    )


def section_bytes(raw: bytes, section: str) -> bytes | None:
    """The decoded body of one leaf section of a mail (an attached mail whole), or None if it has none."""
    msg = message_from_bytes(raw, policy=policy.default)
    for found, part in leaves(msg):
        if found == section:
            return part.as_bytes() if part.get_content_type() == "message/rfc822" else decoded(part)
    return None
