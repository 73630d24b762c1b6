"""Faults of the shared Redis: the Sentinel or Cluster primary killed mid-traffic, a single Redis down a while."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.reliability.faults import Row, Sizes, _row
from bench.reliability.redis_cluster import start_cluster
from bench.reliability.redis_nodes import NO_DISK, SERVICE, Node, Sentinels
from bench.reliability.rig import Rig


class Readiness:
    """Polls /readyz of every replica every 0.2 s; remembers when each answered 503."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.not_ready: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _poll(self) -> None:
        assert self.rig.session is not None
        while True:
            for relay in self.rig.relays:
                try:
                    async with self.rig.session.get(f"{relay.url}/readyz") as resp:
                        if resp.status == 503:
                            self.not_ready.append(time.monotonic())
                except Exception:
                    self.not_ready.append(time.monotonic())
            await asyncio.sleep(0.2)

    def __enter__(self) -> Readiness:
        self.task = asyncio.create_task(self._poll())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is not None:
            self.task.cancel()

    def span(self) -> float:
        """Seconds from the first to the last 503 seen."""
        return self.not_ready[-1] - self.not_ready[0] if self.not_ready else 0.0


async def _run(
    name: str, sizes: Sizes, state: dict[str, Any], mid: Callable[[], Awaitable[str]], replicas: int = 2
) -> tuple[Row, Readiness]:
    notes: list[str] = []

    async def hook() -> None:
        notes.append(await mid())

    async with Rig(replicas=replicas, give_up=sizes.give_up, state=state) as rig:
        source = rig.source()
        with Readiness(rig) as ready:
            seconds = await rig.traffic(source, rig.inbound(sizes.messages), sizes.rate, hook)
            await asyncio.sleep(1.0)
            after = await asyncio.gather(*(r.ready(rig.session) for r in rig.relays), return_exceptions=True)  # type: ignore[arg-type]
        sent = [rig.marker(i) for i in range(sizes.messages)]
        readiness = (
            f"/readyz answered 503 for {ready.span():.1f} s, then ready" if not any(after) else "not ready after"
        )
        row = _row(name, "messenger -> CRM", rig, source, sent, rig.destination().accepted(), seconds, "")
    note = "; ".join(x for x in (*notes, readiness, row.note) if x)
    return replace(row, note=note), ready


async def sentinel_primary_killed(sizes: Sizes) -> Row:
    return (await sentinel_run(sizes))[0]


async def sentinel_run(sizes: Sizes) -> tuple[Row, Readiness]:
    """Kill the Redis primary mid-traffic; Sentinel promotes the replica and the relays follow it."""
    with tempfile.TemporaryDirectory(prefix="relay-sentinel-") as tmp:
        topology = Sentinels(Path(tmp))
        try:
            await topology.start()
            state = {"backend": "redis", "sentinels": topology.addresses, "service_name": SERVICE}

            async def kill() -> str:
                topology.primary.kill()
                killed = time.monotonic()
                while await _safe_port(topology) != topology.replica.port:
                    await asyncio.sleep(0.1)
                return f"replica promoted {time.monotonic() - killed:.1f} s after the kill (down-after 1 s)"

            return await _run("Redis primary killed (Sentinel)", sizes, state, kill)
        finally:
            topology.stop()


async def cluster_primary_killed(sizes: Sizes) -> Row:
    return (await cluster_run(sizes))[0]


async def cluster_run(sizes: Sizes) -> tuple[Row, Readiness]:
    """Kill the cluster primary serving the workspace's slot mid-traffic; its replica takes over."""
    with tempfile.TemporaryDirectory(prefix="relay-cluster-") as tmp:
        cluster = await asyncio.to_thread(start_cluster, Path(tmp))
        try:
            state = {"backend": "redis", "cluster": cluster.nodes}

            async def kill() -> str:
                primary = await asyncio.to_thread(cluster.primary_with_keys)
                cluster.kill(primary)
                killed = time.monotonic()
                while not await asyncio.to_thread(_promoted, cluster, primary):
                    await asyncio.sleep(0.1)
                return f"replica promoted {time.monotonic() - killed:.1f} s after the kill (cluster-node-timeout 1 s)"

            return await _run("Redis Cluster primary killed", sizes, state, kill)
        finally:
            cluster.stop()


def _promoted(cluster: Any, killed: int) -> bool:
    """Whether the killed primary's replica serves its keys now."""
    try:
        return bool(cluster.primary_with_keys() != killed)
    except KeyError:
        return False


async def _safe_port(topology: Sentinels) -> int:
    try:
        return await topology.primary_port()
    except Exception:
        return 0


async def redis_down_single(sizes: Sizes, down: float | None = None) -> Row:
    """A single Redis (no Sentinel) killed mid-traffic and started again empty after `down` seconds."""
    outage = down if down is not None else (20.0 if sizes.messages > 50 else 4.0)
    with tempfile.TemporaryDirectory(prefix="relay-redis-") as tmp:
        node = Node(Path(tmp), *NO_DISK)
        node.start()
        restarted: list[Node] = []
        try:
            await node.up()
            state = {"backend": "redis", "url": f"redis://127.0.0.1:{node.port}/0"}

            async def restart() -> None:
                await asyncio.sleep(outage)
                again = Node(Path(tmp), *NO_DISK, port=node.port)
                again.start()
                restarted.append(again)

            tasks: list[asyncio.Task[None]] = []

            async def kill() -> str:
                node.kill()
                tasks.append(asyncio.create_task(restart()))
                return f"Redis killed, started again empty after {outage:g} s"

            row, _ = await _run(f"Redis down {outage:g} s (single)", sizes, state, kill)
            await asyncio.gather(*tasks)
            return row
        finally:
            node.kill()
            for again in restarted:
                again.kill()


REDIS_FAULTS: dict[str, Callable[[Sizes], Awaitable[Row]]] = {
    "redis_sentinel": sentinel_primary_killed,
    "redis_down": redis_down_single,
    "redis_cluster": cluster_primary_killed,
}
