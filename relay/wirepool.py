"""The lean outbound client: pooled keep-alive HTTP/1.1 connections for calls to configured endpoints."""

from __future__ import annotations

import asyncio
import collections
import ssl
import urllib.request
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from yarl import URL

from relay.wire import MAX_ANSWER, Connection, Stale, Unsupported, Watch, WireError, WireTimeout, header_block

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
KEEPALIVE = 15.0
AGENT = "User-Agent: relay\r\n"
_LOOPBACK = frozenset(("localhost", "127.0.0.1", "::1"))


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL goes: the pool key, the request line's target and the Host header."""

    key: tuple[str, str, int]
    path: str
    host: str


def proxy_for(url: str, proxies: Mapping[str, str]) -> str | None:
    """The proxy HTTP(S)_PROXY / ALL_PROXY names for `url`, unless NO_PROXY exempts its host (a domain
    covers its subdomains, `*` every host); loopback never goes through one."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or host in _LOOPBACK:
        return None
    for entry in proxies.get("no", "").split(","):
        entry = entry.strip().lower().lstrip(".")
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return None
    return proxy


class WireClient:
    """Sends requests to configured endpoints over its own pool (at most `limit` connections in use, FIFO
    waiting beyond that); a proxied or unusual URL is left to the caller (`route` answers None or the proxy)."""

    def __init__(
        self,
        limit: int,
        connect_timeout: float = 10.0,
        tls: ssl.SSLContext | None = None,
        proxies: Mapping[str, str] | None = None,
        max_answer: int = MAX_ANSWER,
    ) -> None:
        self.limit = limit
        self.max_answer = max_answer
        self.connect_timeout = connect_timeout
        self.tls = tls
        self.proxies = dict(urllib.request.getproxies_environment() if proxies is None else proxies)
        self.idle: dict[tuple[str, str, int], list[Connection]] = {}
        self.busy = 0
        self.open = 0
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.targets: dict[str, Target | str | None] = {}
        self.names: dict[str, bool] = {}
        self.watch: Watch | None = None
        self.closed = False

    def route(self, url: str) -> Target | str | None:
        """The target of a URL this client carries, the proxy URL that must carry it, or None (not carried)."""
        try:
            return self.targets[url]
        except KeyError:
            pass
        found: Target | str | None = None
        try:
            parsed = URL(url)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.scheme in ("http", "https") and parsed.raw_host and url.isascii():
            proxy = proxy_for(url, self.proxies)
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            host = parsed.raw_host
            header = f"[{host}]" if ":" in host else host
            if not parsed.is_default_port():
                header = f"{header}:{port}"
            found = proxy or Target((parsed.scheme, host, port), parsed.raw_path_qs or "/", header)
        if len(self.targets) >= 1024:
            self.targets.clear()
        self.targets[url] = found
        return found

    async def request(
        self,
        method: str,
        target: Target,
        headers: Mapping[str, str],
        body: bytes | AsyncIterable[bytes] | None,
        timeout: float,
        read_timeout: float | None = None,
        idempotent: bool = False,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send one request and read its answer whole. A reused connection that the server closed before
        answering is retried once on a new one when the request is safe to repeat; raises WireError
        (WireTimeout past `timeout` in all or `read_timeout` between reads), ValueError on bad headers."""
        if self.closed:
            raise WireError("client closed", unsent=True)
        head = self._head(method, target, headers, body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        retry = idempotent or method in IDEMPOTENT
        if self.busy >= self.limit:
            await self._wait_slot(loop, deadline)
        else:
            self.busy += 1
        try:
            while True:
                conn = self._idle(target.key, loop.time()) or await self._connect(loop, target, deadline)
                try:
                    answer = await conn.exchange(head, body, deadline, read_timeout)
                except Stale:
                    self._drop(conn)
                    if retry and isinstance(body, bytes | None):
                        continue
                    raise
                except BaseException:
                    self._drop(conn)
                    raise
                self._release(conn, loop.time())
                return answer
        finally:
            self._free_slot()

    def _head(self, method: str, target: Target, headers: Mapping[str, str], body: object) -> bytes:
        if not method.isalpha() or not method.isupper():
            raise ValueError("method is not a token")
        if method in ("HEAD", "CONNECT"):
            raise Unsupported(method)
        if body is None:
            framing = "Content-Length: 0\r\n" if method in ("POST", "PUT", "PATCH") else ""
        elif isinstance(body, bytes):
            framing = f"Content-Length: {len(body)}\r\n"
        else:
            framing = "Transfer-Encoding: chunked\r\n"
        block = header_block(headers, self.names)
        agent = "" if "User-Agent" in headers else AGENT
        return (
            f"{method} {target.path} HTTP/1.1\r\nHost: {target.host}\r\n{block}{framing}{agent}"
            "Accept-Encoding: gzip, deflate\r\n\r\n"
        ).encode()

    def _idle(self, key: tuple[str, str, int], now: float) -> Connection | None:
        stack = self.idle.get(key)
        while stack:
            conn = stack.pop()
            if not conn.closed and now - conn.idle_since < KEEPALIVE:
                return conn
            self._drop(conn)
        return None

    async def _connect(self, loop: asyncio.AbstractEventLoop, target: Target, deadline: float) -> Connection:
        """A new connection (closing an idle one elsewhere when the pool is full)."""
        if self.open >= self.limit:
            self._evict()
        scheme, host, port = target.key
        tls = None
        if scheme == "https":
            if self.tls is None:
                self.tls = await asyncio.to_thread(ssl.create_default_context)
            tls = self.tls
        if self.watch is None:
            self.watch = Watch(loop)
        conn = Connection(self.watch, target.key, self.max_answer)
        self.open += 1
        try:
            async with asyncio.timeout_at(min(deadline, loop.time() + self.connect_timeout)):
                made = await loop.create_connection(
                    lambda: conn, host, port, ssl=tls, server_hostname=host if tls else None
                )
            conn.transport = made[0]
        except TimeoutError:
            self.open -= 1
            raise WireTimeout("connect timed out", unsent=True) from None
        except OSError as exc:
            self.open -= 1
            raise WireError(f"cannot connect ({type(exc).__name__})", unsent=True) from None
        except BaseException:
            self.open -= 1
            conn.close()
            raise
        return conn

    def _evict(self) -> None:
        for stack in self.idle.values():
            if stack:
                self._drop(stack.pop(0))
                return

    def _release(self, conn: Connection, now: float) -> None:
        if not conn.reusable or self.closed:
            self._drop(conn)
            return
        conn.idle_since = now
        self.idle.setdefault(conn.key, []).append(conn)

    def _drop(self, conn: Connection) -> None:
        conn.close()
        self.open -= 1

    async def _wait_slot(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Wait in line for a connection slot; a freed slot is handed over, not raced for."""
        waiter = loop.create_future()
        self.waiters.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                self._free_slot()
            waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise WireTimeout("no free connection in time", unsent=True) from None
            raise

    def _free_slot(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.busy -= 1

    async def close(self) -> None:
        """Close every idle connection; connections in use close when their exchange ends."""
        self.closed = True
        for stack in self.idle.values():
            while stack:
                self._drop(stack.pop())


__all__ = ["Target", "Unsupported", "WireClient", "WireError", "WireTimeout", "proxy_for"]
