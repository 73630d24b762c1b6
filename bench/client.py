"""A raw asyncio HTTP/1.1 client for exact in-flight counts and open-loop load (wrk2 is not available)."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from typing import Any

from bench.workload import HOOK_PATH, SECRET_HEADER, SECRET_TOKEN, update

HEAD = (
    f"POST {HOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    f"{SECRET_HEADER}: {SECRET_TOKEN}\r\nContent-Length: %d\r\n\r\n"
)


def request_bytes(body: bytes) -> bytes:
    return (HEAD % len(body)).encode() + body


class Conn(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, done: Callable[[Conn, int, float, bool], None]) -> None:
        self.done = done
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.sent_at = 0.0
        self.busy = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.busy = True
        self.sent_at = time.monotonic()
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        at = head.find(b"content-length:")
        stop = head.find(b"\r\n", at)
        length = int(head[at + 15 : stop if stop > 0 else None]) if at >= 0 else 0
        if len(self.buf) < end + 4 + length:
            return
        del self.buf[: end + 4 + length]
        self.busy = False
        self.done(self, int(head[9:12]), time.monotonic() - self.sent_at, b"\r\nretry-after:" in head)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.busy:
            self.busy = False
            self.done(self, 0, time.monotonic() - self.sent_at, False)


class Pool:
    """N connections to a target; responses are tallied by status."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conns: list[Conn] = []
        self.idle: collections.deque[Conn] = collections.deque()
        self.statuses: collections.Counter[int] = collections.Counter()
        self.latencies: dict[int, list[float]] = collections.defaultdict(list)
        self.no_retry_after = 0
        self.outstanding = 0
        self.next_id = 0

    def _done(self, conn: Conn, status: int, seconds: float, retry_after: bool) -> None:
        self.outstanding -= 1
        self.statuses[status] += 1
        self.latencies[status].append(seconds)
        if status == 503 and not retry_after:
            self.no_retry_after += 1
        if not conn.lost:
            self.idle.append(conn)

    async def open(self, n: int) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(n):
            _, conn = await loop.create_connection(lambda: Conn(self._done), "127.0.0.1", self.port)
            self.conns.append(conn)
            self.idle.append(conn)

    def fire(self, base: int) -> bool:
        """Send one fresh update on an idle connection; False if none is idle."""
        if not self.idle:
            return False
        self.next_id += 1
        self.outstanding += 1
        self.idle.popleft().send(request_bytes(update(base + self.next_id)))
        return True

    async def settle(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        while self.outstanding > 0 and time.monotonic() < end:
            await asyncio.sleep(0.01)

    def close(self) -> None:
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def open_loop(port: int, rate: float, seconds: float, conns: int, base: int, deadline: float) -> dict[str, Any]:
    """Offer `rate` requests/s for `seconds` whatever the answers; count what could not even be sent."""
    pool = Pool(port)
    await pool.open(conns)
    try:
        start = time.monotonic()
        due = sent = unsent = 0
        while (now := time.monotonic()) < start + seconds:
            due = int((now - start) * rate)
            while sent < due:
                sent += 1
                if not pool.fire(base):
                    unsent += 1
            await asyncio.sleep(0.001)
        await pool.settle(deadline + 5)
        ok = pool.latencies.get(200, [])
        return {
            "offered_per_s": rate,
            "sent_per_s": (sent - unsent) / seconds,
            "unsent": unsent,
            "statuses": {str(k): v for k, v in sorted(pool.statuses.items())},
            "accepted_per_s": len(ok) / seconds,
            "accepted_p50_ms": percentile(ok, 50) * 1000,
            "accepted_p99_ms": percentile(ok, 99) * 1000,
            "accepted_max_ms": max(ok, default=0.0) * 1000,
            "shed_p99_ms": percentile(pool.latencies.get(503, []), 99) * 1000,
            "max_wait_ms": max((max(v) for v in pool.latencies.values() if v), default=0.0) * 1000,
            "unanswered": pool.outstanding,
            "shed_without_retry_after": pool.no_retry_after,
        }
    finally:
        pool.close()
