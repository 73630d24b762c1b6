"""Mail in: the mailbox is the queue. One replica (a lease in the state store) searches it for unmarked
mail, delivers each, marks it in the mailbox only once the CRM accepted it, then waits in IDLE."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from connectors.email.config import EmailConfig
from connectors.email.convert import to_message
from relay.connector import Context
from relay.lease import Lease
from relay.mailbuild import is_own
from relay.mailmessage import too_large
from relay.mailparse import Mail, MailClass, parse
from relay.model import Message

IDLE_SLICE = 5.0
RETRY_PAUSE = 5.0
MAX_BACKOFF = 60.0


class Opened(Protocol):
    @property
    def uidvalidity(self) -> int: ...


class Mailbox(Protocol):
    """The IMAP calls the receive loop needs (the imapclient adapter, imap.py, implements them)."""

    async def open(self, marker: str) -> Opened: ...

    async def unmarked(self) -> tuple[list[int], bool]: ...

    async def fetch(self, uid: int) -> tuple[int, bytes | None]: ...

    async def header(self, uid: int) -> bytes: ...

    async def mark(self, uid: int) -> None: ...

    async def wait(self, seconds: float, renew: float, poll: float) -> bool: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Reader:
    """Turns a fetched mail into a Message (or None), knowing which mail the relay wrote itself."""

    instance: str
    address: str
    languages: tuple[str, ...]
    tag: Callable[[str], str]
    digest: Callable[[str], str]

    def own(self, message_id: str | None, sender: str | None = None) -> bool:
        if message_id is not None and is_own(message_id, self.tag):
            return True
        return sender is not None and sender.lower() == self.address.lower()

    def read(self, raw: bytes, fallback_id: str, header_only: bool = False) -> tuple[MailClass, Message | None]:
        mail: Mail = parse(raw, self.own, self.languages)
        if header_only and mail.kind is MailClass.CUSTOMER:
            mail = too_large(mail)
        return mail.kind, to_message(mail, self.instance, fallback_id, self.digest, self.own)


class Watcher:
    """The receive loop of one mailbox: lease, connect with backoff, sweep, IDLE, sweep again."""

    def __init__(
        self,
        name: str,
        config: EmailConfig,
        ctx: Context,
        reader: Reader,
        mailbox: Callable[[], Mailbox],
        deadline: float,
    ) -> None:
        self.name = name
        self.config = config
        self.ctx = ctx
        self.reader = reader
        self.mailbox = mailbox
        self.lease = Lease(ctx.state, "mail:" + ctx.sealer.digest(f"lease:{name}"), max(60.0, deadline + 30.0))
        self.connected = asyncio.Event()
        self.sweeps = 0

    async def release(self) -> None:
        """Give the lease up at a clean stop, so another replica takes the mailbox over at once."""
        try:
            await self.lease.release()
        except Exception as exc:
            self._log("state store unavailable", exc)

    async def run(self) -> None:
        """Hold the lease and serve the mailbox until cancelled; reconnect with backoff after failures."""
        delay = 1.0
        while True:
            try:
                leased = await self.lease.take()
            except Exception as exc:
                self._log("state store unavailable", exc)
                leased = False
            if not leased:
                await asyncio.sleep(min(IDLE_SLICE, self.lease.ttl / 4))
                continue
            box = self.mailbox()
            try:
                opened = await box.open(self.config.marker)
                self.connected.set()
                delay = 1.0
                await self._serve(box, opened.uidvalidity)
            except Exception as exc:
                self._log("mailbox connection failed", exc)
                self.connected.clear()
                await asyncio.sleep(delay * random.uniform(1.0, 1.3))
                delay = min(MAX_BACKOFF, delay * 2)
            finally:
                await asyncio.shield(box.close())

    def _log(self, what: str, exc: BaseException) -> None:
        self.ctx.log.warning(what, extra={"connector": self.name, "error": type(exc).__name__})

    async def _serve(self, box: Mailbox, uidvalidity: int) -> None:
        """Sweep, then IDLE in short slices (renewing the lease) until the server says something changed."""
        cfg = self.config
        while await self.lease.take():
            pause = await self.sweep(box, uidvalidity)
            if pause:
                await asyncio.sleep(pause)
                continue
            while await self.lease.take():
                if await box.wait(IDLE_SLICE, cfg.idle_renew, cfg.poll_interval):
                    break

    async def sweep(self, box: Mailbox, uidvalidity: int) -> float:
        """Deliver every unmarked mail, oldest first; stop at the first one not accepted and return how long
        to wait before trying again (0 when the mailbox is done)."""
        self.sweeps += 1
        done: set[int] = set()
        while True:
            found, grew = await box.unmarked()
            uids = [uid for uid in found if uid not in done]
            if not uids and not grew:
                return 0.0
            for uid in uids[: self.config.batch]:
                done.add(uid)
                if not await self.lease.take():
                    return 0.0
                pause = await self._one(box, uid, f"uid:{uidvalidity}:{uid}")
                if pause:
                    return pause

    async def _one(self, box: Mailbox, uid: int, fallback_id: str) -> float:
        size, raw = await box.fetch(uid)
        if raw is None and size == 0:
            return 0.0
        header_only = raw is None
        if raw is None:
            raw = await box.header(uid)
        try:
            kind, message = self.reader.read(raw, fallback_id, header_only)
        except Exception as exc:
            self._log("mail not understood", exc)
            kind, message = None, None
        if message is not None:
            result = await self.ctx.deliver(message)
            if not result.acknowledged:
                return result.retry_after or RETRY_PAUSE
        else:
            why = kind.value if kind is not None else "unreadable"
            self.ctx.metrics.inc("relay_mail_skipped_total", connector=self.name, why=why)
        await box.mark(uid)
        return 0.0
