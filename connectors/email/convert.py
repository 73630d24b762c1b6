"""Pure conversions: a read mail -> Message (or nothing), file ids, the reply's thread, body sections decoded."""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Sequence
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime

from relay import mailmessage
from relay.mailbuild import Thread, valid_recipient
from relay.mailparse import Mail, MailFile, first_id, ids
from relay.model import Message

ENCODINGS = ("base64", "quoted-printable", "7bit", "8bit", "binary")


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


def to_message(
    mail: Mail, instance: str, fallback_id: str, digest: Callable[[str], str], own: Callable[[str], bool]
) -> Message | None:
    """The Message a mail becomes (see relay.mailmessage); files are found again by Message-ID and section."""

    def where(f: MailFile) -> str | None:
        return file_id(f.section, f.encoding, mail.message_id) if mail.message_id else None

    return mailmessage.to_message(mail, instance, fallback_id, where, digest, own, valid_recipient)


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
