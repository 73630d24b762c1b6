"""Library adapter (imapclient is blocking: every IMAP call runs on a worker thread here, one at a time)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError

from connectors.email.config import EmailConfig

T = TypeVar("T")
SECTION_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class Opened:
    """What the selected mailbox supports."""

    uidvalidity: int
    keywords: bool
    idle: bool
    move: bool
    uidplus: bool


class Imap:
    """One IMAP session on imapclient; every call runs on a worker thread, one at a time."""

    def __init__(self, config: EmailConfig, context: ssl.SSLContext) -> None:
        self.config = config
        self.context = context
        self.client: IMAPClient | None = None
        self.opened: Opened | None = None
        self.use_keyword = False
        self._lock = asyncio.Lock()
        self._idle_since: float | None = None
        self._busy = False
        self._polled = time.monotonic()

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        """The one place blocking library calls leave the event loop."""

        def job() -> T:
            try:
                return call(*args)
            finally:
                self._busy = False

        async with self._lock:
            self._busy = True
            return await asyncio.to_thread(job)

    def _connect(self) -> Opened:
        cfg = self.config
        implicit = cfg.imap_tls == "implicit"
        timeout = SocketTimeout(connect=min(cfg.timeout, 15.0), read=cfg.timeout)
        client = IMAPClient(cfg.imap_host, port=cfg.imap_port, ssl=implicit, ssl_context=self.context, timeout=timeout)
        self.client = client
        if cfg.imap_tls == "starttls":
            client.starttls(self.context)
        client.login(cfg.username, cfg.password.reveal())
        return self._select(client, cfg.mailbox)

    def _select(self, client: IMAPClient, mailbox: str) -> Opened:
        info = client.select_folder(mailbox)
        flags = [bytes(f) for f in info.get(b"PERMANENTFLAGS", ())]
        return Opened(
            uidvalidity=int(info.get(b"UIDVALIDITY", 0)),
            keywords=b"\\*" in flags,
            idle=client.has_capability("IDLE"),
            move=client.has_capability("MOVE"),
            uidplus=client.has_capability("UIDPLUS"),
        )

    async def connect(self) -> Opened:
        """Connect, log in and select the mailbox (for a lookup or a file: nothing is prepared)."""
        self.opened = await self._run(self._connect)
        return self.opened

    async def open(self, marker: str) -> Opened:
        """Connect, log in, select the mailbox; decide the marker (a keyword only where it persists)."""
        opened = self.opened = await self._run(self._connect)
        self.use_keyword = marker == "keyword" or (marker == "auto" and opened.keywords)
        if not self.use_keyword:
            await self._run(self._ensure_folder)
        return opened

    def _ensure_folder(self) -> None:
        assert self.client is not None
        if not self.client.folder_exists(self.config.done_folder):
            self.client.create_folder(self.config.done_folder)

    def _client(self) -> IMAPClient:
        if self.client is None:
            raise ConnectionError("not connected")
        return self.client

    def _unmarked(self) -> tuple[list[int], bool]:
        client = self._client()
        # imaplib keeps untagged replies by name: an EXISTS that came during SEARCH is mail it may have missed
        pending = client._imap.untagged_responses
        pending.pop("EXISTS", None)
        criteria: list[Any] = ["UNKEYWORD", self.config.keyword] if self.use_keyword else ["ALL"]
        found = client.search([*criteria, "NOT", "DELETED"])
        return sorted(int(uid) for uid in found), pending.pop("EXISTS", None) is not None

    async def unmarked(self) -> tuple[list[int], bool]:
        """UIDs of the mails not yet delivered, oldest first, and whether more mail arrived meanwhile."""
        return await self._run(self._unmarked)

    def _fetch(self, uid: int) -> tuple[int, bytes | None]:
        client = self._client()
        sizes = client.fetch([uid], ["RFC822.SIZE"])
        if uid not in sizes:
            return 0, None
        size = int(sizes[uid].get(b"RFC822.SIZE", 0))
        if size > self.config.max_mail_bytes:
            return size, None
        got = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {})
        raw = got.get(b"BODY[]")
        return size, bytes(raw) if raw is not None else None

    async def fetch(self, uid: int) -> tuple[int, bytes | None]:
        """(size, the whole mail) without setting \\Seen; the mail is None when gone or over the size cap."""
        return await self._run(self._fetch, uid)

    async def header(self, uid: int) -> bytes:
        """The header of a mail (for one over the size cap)."""
        got = await self._run(self._client().fetch, [uid], ["BODY.PEEK[HEADER]"])
        return bytes(got.get(uid, {}).get(b"BODY[HEADER]", b""))

    def _mark(self, uid: int) -> None:
        client, opened = self._client(), self.opened
        if self.use_keyword:
            client.add_flags([uid], [self.config.keyword], silent=True)
        elif opened is not None and opened.move:
            client.move([uid], self.config.done_folder)
        else:
            client.copy([uid], self.config.done_folder)
            client.delete_messages([uid], silent=True)
            if opened is not None and opened.uidplus:
                client.uid_expunge([uid])
            else:
                client.expunge()

    async def mark(self, uid: int) -> None:
        """Record in the mailbox that the mail was delivered (keyword, or a move to the done folder)."""
        await self._run(self._mark, uid)

    def _wait(self, seconds: float, renew: float, poll: float) -> bool:
        client, opened = self._client(), self.opened
        if opened is None or not opened.idle:
            time.sleep(min(seconds, max(0.0, self._polled + poll - time.monotonic())))
            if time.monotonic() - self._polled >= poll:
                self._polled = time.monotonic()
                return True
            return False
        if self._idle_since is None:
            client.idle()
            self._idle_since = time.monotonic()
        started = time.monotonic()
        pushed = _buffered(client) or client.idle_check(timeout=seconds)
        if not pushed and time.monotonic() - started < min(seconds, 1.0) / 2:
            raise ConnectionError("IDLE connection closed by the server")
        if pushed or time.monotonic() - self._idle_since >= renew:
            self._idle_since = None
            client.idle_done()
            return True
        return False

    async def wait(self, seconds: float, renew: float, poll: float) -> bool:
        """Wait up to `seconds` in IDLE (re-issued every `renew` s) or, without IDLE, until the next poll;
        True when the mailbox should be searched again."""
        return await self._run(self._wait, seconds, renew, poll)

    def _find(self, message_id: str, folders: Sequence[str], thread: bool) -> list[tuple[str, int]]:
        client = self._client()
        found: list[tuple[str, int]] = []
        for folder in folders:
            with contextlib.suppress(IMAPClientError):
                client.select_folder(folder, readonly=True)
                value = f"<{message_id}>"
                criteria: list[Any] = ["HEADER", "Message-ID", value]
                if thread:
                    criteria = ["OR", *criteria, "HEADER", "References", value]
                found += [(folder, int(uid)) for uid in sorted(client.search(criteria))[-5:]]
        return found

    async def find(self, message_id: str, folders: Sequence[str], thread: bool = False) -> list[tuple[str, int]]:
        """(folder, UID) of the mails with this Message-ID (and, with `thread`, those that reference it)."""
        return await self._run(self._find, message_id, folders, thread)

    def _headers(self, folder: str, uids: list[int]) -> list[bytes]:
        client = self._client()
        client.select_folder(folder, readonly=True)
        wanted = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID REFERENCES IN-REPLY-TO SUBJECT DATE)]"
        got = client.fetch(uids, [wanted])
        key = b"BODY[HEADER.FIELDS (MESSAGE-ID REFERENCES IN-REPLY-TO SUBJECT DATE)]"
        return [bytes(item.get(key, b"")) for item in got.values()]

    async def headers(self, folder: str, uids: list[int]) -> list[bytes]:
        """The threading headers of some mails of a folder."""
        return await self._run(self._headers, folder, uids)

    def _chunk(self, folder: str, uid: int, section: str, offset: int) -> bytes:
        client = self._client()
        if offset == 0:
            client.select_folder(folder, readonly=True)
        got = client.fetch([uid], [f"BODY.PEEK[{section}]<{offset}.{SECTION_CHUNK}>"])
        item = got.get(uid, {})
        for key, value in item.items():
            if isinstance(key, bytes) and key.startswith(f"BODY[{section}]".encode()):
                return bytes(value or b"")
        return b""

    async def chunk(self, folder: str, uid: int, section: str, offset: int) -> bytes:
        """Up to SECTION_CHUNK bytes of one body section, still transfer-encoded, from `offset`."""
        return await self._run(self._chunk, folder, uid, section, offset)

    def abort(self) -> None:
        """Break a blocked call (IDLE) from the event loop: shut the socket down under the thread."""
        if self.client is not None:
            with contextlib.suppress(OSError, AttributeError):
                self.client.socket().shutdown(socket.SHUT_RDWR)

    def _logout(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except (IMAPClientError, OSError):
            with contextlib.suppress(IMAPClientError, OSError):
                client.shutdown()

    async def close(self) -> None:
        """Log out (or drop the connection when it is already broken)."""
        if self._busy:
            self.abort()
        self._idle_since = None
        await self._run(self._logout)


def _buffered(client: IMAPClient) -> bool:
    """True when a reply already sits in imaplib's read buffer (it came with the IDLE continuation), where
    polling the socket cannot see it."""
    sock = client.socket()
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        return bool(client._imap.file.peek(1))
    except (ssl.SSLWantReadError, BlockingIOError, TimeoutError):
        return False
    finally:
        sock.settimeout(timeout)
