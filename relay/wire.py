"""One keep-alive HTTP/1.1 connection over httptools' parser: the lean exchange behind the platform client."""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import AsyncIterable, Mapping
from typing import cast

import httptools

MAX_ANSWER = 16 * 1024 * 1024
TICK = 0.05  # how often the deadlines of exchanges in flight are checked (one timer for all of them)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_RESERVED = frozenset({"host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "expect"})


class WireError(Exception):
    """A request that did not get a complete answer; `unsent` when the server cannot have seen it."""

    def __init__(self, what: str, unsent: bool = False) -> None:
        super().__init__(what)
        self.unsent = unsent


class WireTimeout(WireError, TimeoutError):
    """No complete answer within the total deadline, or no byte within the read timeout."""


class Stale(WireError):
    """A reused connection closed before any byte of the answer arrived (the server's idle close raced it)."""


class Unsupported(Exception):
    """The lean path does not carry this request (a reserved header); the caller sends it another way."""


def header_block(headers: Mapping[str, str], names: dict[str, bool]) -> str:
    """Validated `Name: value` lines; ValueError on CR/LF/NUL or a non-token name, Unsupported on a header
    the exchange itself writes. `names` remembers names already checked."""
    parts: list[str] = []
    for name, value in headers.items():
        known = names.get(name)
        if known is None:
            if not _TOKEN.fullmatch(name):
                raise ValueError("header name is not a token")
            known = name.lower() not in _RESERVED
            if len(names) < 256:
                names[name] = known
        if not known:
            raise Unsupported(name)
        parts += (name, ": ", value, "\r\n")
    if not "".join(headers.values()).isprintable() and _BAD_VALUE.search("\t".join(headers.values())):
        raise ValueError("header value holds a control character")
    return "".join(parts)


class Watch:
    """The deadlines of every exchange in flight, checked every TICK seconds by one timer (not one per request)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.live: set[Connection] = set()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, conn: Connection) -> None:
        self.live.add(conn)
        if self.timer is None:
            self.timer = self.loop.call_later(TICK, self._tick)

    def _tick(self) -> None:
        now = self.loop.time()
        for conn in list(self.live):
            conn.check(now)
        self.timer = self.loop.call_later(TICK, self._tick) if self.live else None


class Connection(asyncio.Protocol):
    """A client connection: one request at a time, the answer parsed as bytes arrive."""

    def __init__(self, watch: Watch, key: tuple[str, str, int], limit: int = MAX_ANSWER) -> None:
        self.watch = watch
        self.loop = watch.loop
        self.key = key
        self.limit = limit
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.uses = 0
        self.idle_since = 0.0
        self.waiter: asyncio.Future[None] | None = None
        self.deadline = 0.0
        self.read_timeout: float | None = None
        self._reset()

    def _reset(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.received = False
        self.complete = False
        self.delimited = False
        self.keep = False
        self.last_read = 0.0
        self.progressed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received = self.progressed = True
        if self.waiter is None:
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(WireError("malformed answer"))

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        if self.waiter is None or self.waiter.done():
            return
        if self.status and not self.delimited and self.received:
            self.complete, self.keep = True, False
            self.waiter.set_result(None)
        elif not self.received and self.uses > 1:
            self._fail(Stale("connection closed before an answer"))
        else:
            self._fail(WireError("connection closed before the answer was complete"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape")))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        for name, value in self.headers:
            low = name.lower()
            if low == "content-length":
                self.delimited = True
                if value.isdigit() and int(value) > self.limit:
                    self._fail(WireError("answer larger than the limit"))
            elif low == "transfer-encoding":
                self.delimited = True

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.limit:
            self._fail(WireError("answer larger than the limit"))
            return
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.complete = True
        self.keep = self.parser.should_keep_alive()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(
        self, head: bytes, body: bytes | AsyncIterable[bytes] | None, deadline: float, read_timeout: float | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Write one request and wait for its whole answer: (status, headers, decoded body)."""
        assert self.transport is not None
        if self.uses:
            self._reset()
        self.uses += 1
        waiter = self.waiter = self.loop.create_future()
        self.last_read = self.loop.time()
        self.deadline, self.read_timeout = deadline, read_timeout
        self.watch.add(self)
        try:
            if body is None or isinstance(body, bytes):
                self.transport.write(head + body if body else head)
            else:
                self.transport.write(head)
                async for chunk in body:
                    if chunk:
                        self.transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    if self.closed:
                        break
                self.transport.write(b"0\r\n\r\n")
            await waiter
        finally:
            self.watch.live.discard(self)
            self.waiter = None
        return self.status, self.headers, _decoded(self.headers, b"".join(self.chunks), self.limit)

    def check(self, now: float) -> None:
        """Fail the exchange past its deadline, or when no byte came within the read timeout."""
        if self.progressed:
            self.progressed, self.last_read = False, now
        timeout = self.read_timeout
        if now >= self.deadline or (timeout is not None and now - self.last_read >= timeout):
            self._fail(WireTimeout("no answer in time"))

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep and not self.closed


def _decoded(headers: list[tuple[str, str]], raw: bytes, limit: int) -> bytes:
    """The body with a gzip or deflate Content-Encoding undone (sent by servers that ignore Accept-Encoding)."""
    if not raw:
        return raw
    for name, value in headers:
        if name.lower() == "content-encoding":
            coding = value.strip().lower()
            if coding in ("gzip", "x-gzip", "deflate"):
                return _inflate(raw, 47 if coding != "deflate" else 15, limit)
            if coding not in ("", "identity"):
                raise WireError("answer body has an unknown encoding")
    return raw


def _inflate(raw: bytes, wbits: int, limit: int) -> bytes:
    """Inflate at most `limit` bytes (a small compressed answer must not expand without bound)."""
    for bits in (wbits, -15):
        inflater = zlib.decompressobj(bits)
        try:
            out = inflater.decompress(raw, limit + 1)
        except zlib.error:
            continue
        if len(out) > limit or inflater.unconsumed_tail:
            raise WireError("answer larger than the limit")
        return out
    raise WireError("answer body cannot be decoded")
