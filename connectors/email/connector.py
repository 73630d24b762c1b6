"""E-mail connector: a mailbox over IMAP (IDLE, the mailbox as the queue) in, SMTP submission out."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace

import aiosmtplib
from imapclient.exceptions import IMAPClientError, LoginError

from connectors.email.config import EmailConfig, tls_context
from connectors.email.convert import Decoder, parse_file_id, thread_of
from connectors.email.imap import SECTION_CHUNK, Imap
from connectors.email.inbound import Reader, Watcher
from connectors.email.smtp import Smtp
from relay.connector import Capabilities, Check, Connector, ConnectorKind, Context, Limit, Manifest, MediaStream
from relay.errors import MediaError
from relay.mailbuild import Thread, outgoing
from relay.model import Kind, Message

MAX_FILE = 20 << 20
FAILURES = (IMAPClientError, OSError, TimeoutError)


class EmailConnector(Connector):
    """Customers write to the workspace's address; agents' answers go back threaded under their mail."""

    config: EmailConfig

    def __init__(self, name: str, config: EmailConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.context = tls_context(config)
        self.smtp = Smtp(config, self.context)
        self.reader = Reader(name, config.address, tuple(config.languages), self._tag, ctx.sealer.digest)
        self.watcher = Watcher(name, config, ctx, self.reader, self.imap, self.capabilities.ack_deadline)

    def _tag(self, token: str) -> str:
        return self.ctx.sealer.digest(f"mail-id:{self.name}:{token}")

    def imap(self) -> Imap:
        return Imap(self.config, self.context)

    def tune(self, manifest: Capabilities) -> Capabilities:
        caps = super().tune(manifest)
        rate = self.config.max_rate
        return (
            replace(caps, limits=(Limit("connector", rate=rate, per=1.0, burst=max(1, int(rate))),)) if rate else caps
        )

    async def start(self) -> None:
        self.ctx.spawn(self.watcher.run(), "imap")

    async def close(self) -> None:
        await super().close()
        await self.watcher.release()

    def _folders(self) -> list[str]:
        cfg = self.config
        return [cfg.mailbox] if cfg.marker == "keyword" else [cfg.mailbox, cfg.done_folder]

    async def _thread(self, root: str, answered: str | None) -> Thread:
        """Where the reply goes: found in the mailbox (newest mail of the thread, its subject and chain);
        the bare thread root when the mailbox cannot be read right now."""
        box = self.imap()
        try:
            await box.connect()
            found = await box.find(root, self._folders(), thread=True)
            headers: list[bytes] = []
            for folder in dict.fromkeys(f for f, _ in found):
                headers += await box.headers(folder, [uid for f, uid in found if f == folder])
            return thread_of(headers, root, answered)
        except FAILURES as exc:
            self.ctx.log.warning("thread lookup failed", extra={"connector": self.name, "error": type(exc).__name__})
            return thread_of([], root, answered)
        finally:
            await box.close()

    async def send(self, message: Message) -> str:
        if message.kind is Kind.STATUS:
            return f"status:{message.id}"
        mid, mail = await outgoing(message, self.config, self._tag, self.ctx.media, MAX_FILE, self._thread)
        await self.smtp.send(mail, message.conversation.chat)
        return mid

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        where = parse_file_id(file_id)
        if where is None:
            raise MediaError("not a file of this mailbox")
        section, encoding, message_id = where
        box = self.imap()
        try:
            await box.connect()
            found = await box.find(message_id, self._folders())
        except FAILURES as exc:
            await box.close()
            raise MediaError(f"mailbox not reachable ({type(exc).__name__})") from None
        if not found:
            await box.close()
            raise MediaError("the mail holding this file is no longer in the mailbox")
        folder, uid = found[-1]
        return MediaStream("application/octet-stream", _section(box, folder, uid, section, encoding, limit))

    async def check(self) -> list[Check]:
        return [await self._check_imap(), await self._check_smtp()]

    async def _check_imap(self) -> Check:
        what = "IMAP login"
        box = self.imap()
        try:
            opened = await box.open(self.config.marker)
        except LoginError:
            return Check(what, False, "the server refused the username or password")
        except (*FAILURES, ValueError) as exc:
            return Check(what, False, f"not reachable ({type(exc).__name__})")
        finally:
            await box.close()
        marker = f"keyword {self.config.keyword}" if box.use_keyword else f"move to {self.config.done_folder}"
        idle = "IDLE" if opened.idle else f"no IDLE: polled every {self.config.poll_interval:g} s"
        return Check(what, True, f"{self.config.mailbox} selected; {idle}; delivered mail marked by {marker}")

    async def _check_smtp(self) -> Check:
        what = "SMTP login"
        smtp = self.smtp.client()
        try:
            await self.smtp.login(smtp)
        except aiosmtplib.SMTPAuthenticationError:
            return Check(what, False, "the server refused the username or password")
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Check(what, False, f"not reachable or refused ({type(exc).__name__})")
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                if smtp.is_connected:
                    await smtp.quit()
        return Check(what, True, f"{self.config.smtp_tls} TLS, authenticated")


async def _section(box: Imap, folder: str, uid: int, section: str, encoding: str, limit: int) -> AsyncIterator[bytes]:
    """One body section, fetched in partial chunks and decoded as it goes; the session ends with the stream."""
    decoder, offset, seen = Decoder(encoding), 0, 0
    try:
        while True:
            try:
                raw = await box.chunk(folder, uid, section, offset)
            except FAILURES as exc:
                raise MediaError(f"mailbox read failed ({type(exc).__name__})") from None
            offset += len(raw)
            last = len(raw) < SECTION_CHUNK
            data = decoder.feed(raw) + (decoder.flush() if last else b"")
            seen += len(data)
            if seen > limit:
                raise MediaError(f"file is larger than the {limit}-byte cap")
            if data:
                yield data
            if last:
                return
    finally:
        await box.close()


MANIFEST = Manifest(
    type="email",
    kind=ConnectorKind.MESSENGER,
    summary="E-mail mailbox (IMAP in, SMTP out)",
    config=EmailConfig,
    factory=EmailConnector,
    capabilities=Capabilities(
        max_text=100_000,
        replies=True,
        files=True,
        max_file_bytes=MAX_FILE,
        max_files=10,
        ack_deadline=60.0,
    ),
)
