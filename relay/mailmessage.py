"""A read mail as the Message the core carries, the same for every mail connector: a customer's mail
keyed on its thread, a bounce of a relayed answer as a FAILED status of that answer, nothing for the rest."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from relay.mailparse import Mail, MailClass, MailFile
from relay.model import Address, Attachment, Kind, MediaRef, Message, Party, Status
from relay.reasons import Reason
from relay.richtext import RichText, Span, Style

TOO_LARGE = "(This e-mail is larger than the relay's limit, max_mail_bytes; read it in the mailbox.)"


def too_large(mail: Mail) -> Mail:
    """A mail over the size cap, read from its header only: a note in place of its text."""
    return replace(mail, text=TOO_LARGE, files=())


def address_of(addr: str) -> str:
    """A mail address as a conversation keeps it: the domain in lower case."""
    local, _, domain = addr.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def _text(mail: Mail) -> RichText:
    """The mail's words; a new thread's subject leads in bold (it often carries the question)."""
    body = RichText.of(mail.text)
    subject = " ".join(mail.subject.split())
    if subject and not mail.in_reply_to and not mail.references:
        head = RichText((Span(subject, Style.BOLD),))
        return head + RichText.of("\n\n") + body if mail.text else head
    return body


def to_message(
    mail: Mail,
    instance: str,
    fallback_id: str,
    file_id: Callable[[MailFile], str | None],
    digest: Callable[[str], str],
    own: Callable[[str], bool],
    valid: Callable[[str], bool] = lambda addr: "@" in addr,
) -> Message | None:
    """The Message a mail becomes; `file_id` says where a file can be fetched again (None: it cannot).
    The conversation is the customer's address and the thread's root Message-ID (the handle), so every
    mail of a thread lands in one CRM conversation; the sender's address goes to the CRM as Party.email."""
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
    if mail.kind is not MailClass.CUSTOMER or not answer_to or not valid(answer_to):
        return None
    sender = address_of(mail.sender or answer_to)
    files = []
    for f in mail.files:
        where = file_id(f)
        if where is not None:
            files.append(Attachment(name=f.name, mime=f.mime, size=f.size, ref=MediaRef(instance, where)))
    return Message(
        kind=Kind.MEDIA if files else Kind.TEXT,
        id=mid,
        origin=instance,
        conversation=Address(instance, address_of(answer_to), handle=mail.root or mid),
        sender=Party(id=digest(f"email:{sender.lower()}")[:24], name=mail.sender_name, email=sender),
        text=_text(mail),
        attachments=tuple(files),
        sent_at=mail.sent_at or datetime.now(UTC),
    )
