"""Memory phases: RSS per in-flight message (sink held) and the 20 MB attachment's peak RSS growth."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from bench.client import Pool, request_bytes
from bench.load import get_json
from bench.procs import Proc, reset_hwm
from bench.sink import FILE_SIZE
from bench.workload import BODY_BYTES, DOCUMENT_TEMPLATE


async def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def inflight(
    target: Proc, port: int, sink: str, inflight_now: Callable[[], int], n: int, base: int
) -> dict[str, Any]:
    """Open n connections and warm each with one request, 16 at a time (so the warm-up never had n in
    flight); then hold the sink, put n messages in flight and report (RSS with n in flight - RSS
    before) / n, and what each idle keep-alive connection cost."""
    rss_start = target.rss_kib()
    pool = Pool(port)
    await pool.open(n)
    try:
        for i in range(n):
            pool.fire(base)
            if i % 16 == 15:
                await pool.settle(60)
        await pool.settle(60)
        if pool.outstanding or set(pool.statuses) != {200}:
            raise RuntimeError(f"warm-up wave failed: {dict(pool.statuses)}")
        await asyncio.sleep(0.5)
        rss_before = target.rss_kib()
        await asyncio.to_thread(get_json, f"{sink}/control/hold", "POST")
        try:
            for _ in range(n):
                pool.fire(base)
            await _wait(lambda: inflight_now() >= n or pool.outstanding < n, 120, f"{n} messages in flight")
            await asyncio.sleep(0.5)
            rss_held = target.rss_kib()
            held = inflight_now()
        finally:
            await asyncio.to_thread(get_json, f"{sink}/control/release", "POST")
        await pool.settle(120)
        failed = sum(v for k, v in pool.statuses.items() if k != 200)
    finally:
        pool.close()
    per_msg = (rss_held - rss_before) * 1024 / max(1, held)
    return {
        "n": n,
        "held": held,
        "rss_before_mib": rss_before / 1024,
        "rss_held_mib": rss_held / 1024,
        "bytes_per_msg": per_msg,
        "bytes_beyond_body": per_msg - BODY_BYTES,
        "bytes_per_idle_connection": (rss_before - rss_start) * 1024 / n,
        "failed": failed,
    }


def relay_inflight(port: int) -> Callable[[], int]:
    """The relay's own relay_inflight gauge from /metrics."""

    def read() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("relay_inflight "):
                    return int(float(line.split()[1]))
        return 0

    return read


def baseline_inflight(port: int) -> Callable[[], int]:
    def read() -> int:
        return int(get_json(f"http://127.0.0.1:{port}/healthz")["inflight"])

    return read


async def attachment(relay: Proc, port: int, sink: str, update_id: int) -> dict[str, Any]:
    """Relay one document update whose FILE_SIZE-byte file the fake Bot API serves; the sink fetches
    the relay media link and streams it. VmRSS is sampled every 2 ms; VmHWM is reset first."""
    hwm_reset = reset_hwm(relay.pid)
    rss0 = relay.rss_kib()
    peak = rss0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, relay.rss_kib())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    pool = Pool(port)
    try:
        await pool.open(1)
        assert pool.idle
        body = (DOCUMENT_TEMPLATE % (update_id, update_id, FILE_SIZE)).encode()
        pool.outstanding += 1
        pool.idle.popleft().send(request_bytes(body))
        await pool.settle(60)
        status = next(iter(pool.statuses), 0)

        def media() -> dict[str, Any]:
            found: dict[str, Any] = get_json(f"{sink}/control/stats")["media"]
            return found

        await _wait(lambda: bool(media().get("done")), 120, "the sink to fetch the media link")
        got = media()
    finally:
        pool.close()
        stop.set()
        sampler.join()
    hwm = relay.hwm_kib() if hwm_reset else peak
    growth = (max(peak, hwm) - rss0) * 1024
    return {
        "file_bytes": FILE_SIZE,
        "webhook_status": status,
        "fetched_bytes": got.get("bytes", 0),
        "fetch_status": got.get("status", 0),
        "seconds": time.monotonic() - started,
        "rss_before_mib": rss0 / 1024,
        "peak_growth_bytes": growth,
        "peak_growth_ratio": growth / FILE_SIZE,
        "hwm_reset": hwm_reset,
    }
