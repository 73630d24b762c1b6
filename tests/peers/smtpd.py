"""The test SMTP server (aiosmtpd, run as its own process): submission with STARTTLS or implicit TLS and
AUTH, local delivery through Dovecot's LMTP, and a delivery status notification (RFC 3464) to the sender
for recipients at `bounce.invalid`, as a real MTA would send after accepting the mail.

    python -m tests.peers.smtpd STARTTLS_PORT IMPLICIT_PORT CERT KEY LMTP_PORT USERS_FILE
"""

from __future__ import annotations

import asyncio
import signal
import smtplib
import ssl
import sys
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

BOUNCE_DOMAIN = "bounce.invalid"


class Deliver:
    """Hands accepted mail to Dovecot over LMTP; unknown-domain recipients get a DSN back instead."""

    def __init__(self, lmtp_port: int) -> None:
        self.lmtp_port = lmtp_port

    def _lmtp(self, sender: str, recipients: list[str], data: bytes) -> None:
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=30) as lmtp:
            lmtp.sendmail(sender, recipients, data)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = bytes(envelope.original_content or envelope.content)
        local = [r for r in envelope.rcpt_tos if not r.lower().endswith("@" + BOUNCE_DOMAIN)]
        failed = [r for r in envelope.rcpt_tos if r.lower().endswith("@" + BOUNCE_DOMAIN)]
        try:
            if local:
                await asyncio.to_thread(self._lmtp, envelope.mail_from, local, data)
            if failed and envelope.mail_from:
                report = dsn(envelope.mail_from, failed[0], data)
                await asyncio.to_thread(self._lmtp, "", [envelope.mail_from], report)
        except (smtplib.SMTPException, OSError):
            return "451 4.3.0 local delivery failed, try again"
        return "250 2.0.0 OK queued"


def dsn(to: str, recipient: str, original: bytes) -> bytes:
    """A delivery status notification for a failed recipient, with the original's header."""
    head = original.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    boundary = "=_dsn_" + make_msgid().strip("<>").split("@")[0]
    parts = [
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>",
        f"To: {to}",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {format_datetime(datetime.now(UTC))}",
        f"Message-ID: {make_msgid(domain='mx.example.net')}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "This is the mail system. Your message could not be delivered to one or more recipients.",
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.example.net",
        "",
        f"Final-Recipient: rfc822; {recipient}",
        "Action: failed",
        "Status: 5.1.1",
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown",
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
        head.decode("utf-8", "replace").replace("\n", "\r\n"),
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(parts).encode()


class Users:
    """AUTH PLAIN/LOGIN against the `name:{PLAIN}password` lines Dovecot reads too."""

    def __init__(self, path: Path) -> None:
        self.users = {}
        for line in path.read_text().splitlines():
            name, _, secret = line.partition(":")
            self.users[name] = secret.removeprefix("{PLAIN}").split(":")[0]

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            user = data.login.decode().split("@")[0]
            if self.users.get(user) == data.password.decode():
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def main(argv: list[str]) -> int:
    starttls_port, implicit_port, cert, key, lmtp_port, users_file = argv
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = Deliver(int(lmtp_port))
    auth = Users(Path(users_file))
    common: dict[str, Any] = {"authenticator": auth, "hostname": "127.0.0.1", "server_hostname": "mx"}
    starttls = Controller(
        handler, port=int(starttls_port), tls_context=context, require_starttls=True, auth_require_tls=True, **common
    )
    # the whole connection is TLS here, which aiosmtpd does not count as STARTTLS: AUTH is offered at once
    implicit = Controller(handler, port=int(implicit_port), ssl_context=context, auth_require_tls=False, **common)
    starttls.start()
    implicit.start()
    print("ready", flush=True)
    try:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        starttls.stop()
        implicit.stop()
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    sys.exit(main(sys.argv[1:]))
