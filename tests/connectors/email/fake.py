"""A submission server fake for tests without the mail peer: aiosmtpd's SMTP protocol in this process
(AUTH, the SIZE limit with 552, scripted 4xx/5xx answers), keeping every accepted mail in memory.
IMAP is not faked: with no server on `imap_port` the connector's receive loop backs off, as in real life."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from tests.support.fake_platform import FakePlatform

USER = "support"
PASSWORD = "fake-mail-password-0123"


@dataclass
class Accepted:
    """One mail the fake accepted: envelope and the bytes as sent."""

    sender: str
    recipients: list[str]
    data: bytes


class FakeSubmission(FakePlatform):
    """SMTP submission on 127.0.0.1 (plain: the connector allows clear text to loopback only). `answers`
    maps a command ("RCPT", "DATA") to a reply ("451 4.3.0 try later") given once each."""

    def __init__(self, size_limit: int = 10 << 20) -> None:
        super().__init__()
        self.accepted: list[Accepted] = []
        self.answers: dict[str, list[str]] = {}
        self.logins: list[str] = []
        self.size_limit = size_limit
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = int(self.sock.getsockname()[1])
        self.imap_port = _closed_port()
        self.server: asyncio.Server | None = None

    def _scripted(self, command: str) -> str | None:
        found = self.answers.get(command)
        return found.pop(0) if found else None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        scripted = self._scripted("RCPT")
        if scripted:
            return scripted
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        scripted = self._scripted("DATA")
        if scripted:
            return scripted
        data = bytes(envelope.original_content or envelope.content)
        self.accepted.append(Accepted(envelope.mail_from, list(envelope.rcpt_tos), data))
        return "250 2.0.0 OK"

    def _auth(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == USER.encode() and data.password == PASSWORD.encode()
        if ok:
            self.logins.append(USER)
        return AuthResult(success=ok, handled=False)

    async def _start(self, app: web.Application) -> None:
        loop = asyncio.get_running_loop()

        def protocol() -> SMTP:
            return SMTP(
                self,
                data_size_limit=self.size_limit,
                authenticator=self._auth,
                auth_require_tls=False,
                hostname="fake-mx",
            )

        self.server = await loop.create_server(protocol, sock=self.sock)

    async def _stop(self, app: web.Application) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def routes(self, app: web.Application) -> None:
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)

    def config(self, **extra: Any) -> dict[str, Any]:
        """The connector pointed at this fake (SMTP) and at a closed IMAP port."""
        return {
            "type": "email",
            "address": "support@example.com",
            "username": USER,
            "password": PASSWORD,
            "imap_host": "127.0.0.1",
            "imap_port": self.imap_port,
            "imap_tls": "none",
            "smtp_host": "127.0.0.1",
            "smtp_port": self.port,
            "smtp_tls": "none",
            "timeout": 5.0,
            **extra,
        }


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
