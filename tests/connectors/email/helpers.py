"""Helpers for the e-mail tests: the connector's config for the mail peer, customers writing, mailboxes read."""

from __future__ import annotations

import asyncio
import imaplib
import inspect
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import aiosmtplib

from tests.peers.mail import USERS, MailPeer
from tests.support.crm_sink import SINK_SECRET

SUPPORT = "support@example.com"
CUSTOMER = "customer@example.org"


def email_config(peer: MailPeer, **extra: Any) -> dict[str, Any]:
    """The connector on the peer's support mailbox: IMAP with implicit TLS, SMTP submission with STARTTLS."""
    return {
        "type": "email",
        "address": SUPPORT,
        "display_name": "Example Support",
        "username": "support",
        "password": USERS["support"],
        "imap_host": "127.0.0.1",
        "imap_port": peer.imaps,
        "imap_tls": "implicit",
        "smtp_host": "127.0.0.1",
        "smtp_port": peer.submission,
        "smtp_tls": "starttls",
        "ca_file": str(peer.ca_file),
        "idle_renew": 30.0,
        "timeout": 10.0,
        **extra,
    }


def relay_workspace(peer: MailPeer, crm_url: str, **extra: Any) -> dict[str, Any]:
    from tests.conftest import workspace

    crm = {"type": "webhook", "url": crm_url, "secret": SINK_SECRET}
    return workspace({"mail": email_config(peer, **extra), "crm": crm}, [{"from": ["mail"], "to": "crm"}])


def mail(
    text: str | None = "Hello, where is my order?",
    *,
    subject: str = "Order 1042",
    sender: str = CUSTOMER,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    files: tuple[tuple[str, str, bytes], ...] = (),
) -> EmailMessage:
    """A customer's mail to the support address."""
    msg = EmailMessage()
    msg["From"] = f"Ana Silva <{sender}>"
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="example.org")
    for name, value in (headers or {}).items():
        msg[name] = value
    if text is not None:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    elif html is not None:
        msg.set_content(html, subtype="html")
    for name, mime, data in files:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


async def submit(peer: MailPeer, msg: EmailMessage, user: str = "customer", to: str = SUPPORT) -> None:
    """Send a mail through the peer's SMTP server (STARTTLS, AUTH), as `user`."""
    context = ssl.create_default_context(cafile=str(peer.ca_file))
    await aiosmtplib.send(
        msg,
        hostname="127.0.0.1",
        port=peer.submission,
        start_tls=True,
        tls_context=context,
        username=user,
        password=USERS[user],
        recipients=[to],
    )


def _read(peer: MailPeer, user: str, folder: str) -> list[tuple[bytes, bytes]]:
    context = ssl.create_default_context(cafile=str(peer.ca_file))
    with imaplib.IMAP4_SSL("127.0.0.1", peer.imaps, ssl_context=context) as imap:
        imap.login(user, USERS[user])
        typ, count = imap.select(folder, readonly=True)
        if typ != "OK" or count[0] in (b"0", None):
            return []
        typ, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[])")
        out = []
        for item in data:
            if isinstance(item, tuple):
                out.append((item[0], item[1]))
        return out


async def mailbox(peer: MailPeer, user: str = "customer", folder: str = "INBOX") -> list[EmailMessage]:
    """The mails in a mailbox folder, parsed."""
    found = await asyncio.to_thread(_read, peer, user, folder)
    parsed = [message_from_bytes(raw, policy=policy.default) for _, raw in found]
    return [m for m in parsed if isinstance(m, EmailMessage)]


async def flags(peer: MailPeer, user: str = "support", folder: str = "INBOX") -> list[bytes]:
    """The FLAGS item of every mail in a folder."""
    return [meta for meta, _ in await asyncio.to_thread(_read, peer, user, folder)]


async def until(check: Callable[[], object], timeout: float = 20.0) -> None:
    """Wait until `check()` is true; fail the test after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        got = check()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)
