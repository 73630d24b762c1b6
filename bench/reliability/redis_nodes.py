"""Throwaway Redis topologies for the fault suite: one server, or a primary, a replica and three Sentinels."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis.asyncio as aioredis

from bench.reliability.relays import free_port

SERVICE = "relay"
NO_DISK = ("--save", "", "--appendonly", "no")


def redis_binary() -> str | None:
    """redis-server, which also runs Sentinel with --sentinel."""
    return shutil.which("redis-server")


class Node:
    """One redis-server process on a loopback port, in its own directory."""

    def __init__(self, workdir: Path, *args: str, port: int | None = None, sentinel: bool = False) -> None:
        self.port = port or free_port()
        self.dir = workdir / f"{'sentinel' if sentinel else 'redis'}-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.args = list(args)
        self.sentinel = sentinel
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = redis_binary()
        assert binary is not None, "redis-server is not installed"
        base = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir), "--daemonize", "no"]
        cmd = [binary, *base, "--logfile", str(self.dir / "log"), *self.args]
        if self.sentinel:
            conf = self.dir / "sentinel.conf"
            conf.write_text("\n".join(self.args) + "\n")
            cmd = [binary, str(conf), "--sentinel", *base, "--logfile", str(self.dir / "log")]
        self.popen = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def up(self, timeout: float = 10.0) -> None:
        client = aioredis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    await client.ping()
                    return
                except Exception:
                    if time.monotonic() > deadline or (self.popen and self.popen.poll() is not None):
                        raise RuntimeError(f"redis on {self.port} did not start") from None
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(5)


class Sentinels:
    """A primary, one replica and three Sentinels (quorum 2, primary judged down after 1 s)."""

    def __init__(self, workdir: Path, down_after_ms: int = 1000) -> None:
        self.primary = Node(workdir, *NO_DISK)
        self.replica = Node(workdir, *NO_DISK, "--replicaof", "127.0.0.1", "0")
        self.replica.args[-1] = str(self.primary.port)
        conf = (
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 2",
            f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}",
            f"sentinel failover-timeout {SERVICE} 5000",
            f"sentinel parallel-syncs {SERVICE} 1",
        )
        self.sentinels = [Node(workdir, *conf, sentinel=True) for _ in range(3)]

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{s.port}" for s in self.sentinels]

    def nodes(self) -> list[Node]:
        return [self.primary, self.replica, *self.sentinels]

    async def start(self, timeout: float = 30.0) -> None:
        """Start every node and wait until each Sentinel sees the replica and the two other Sentinels."""
        for node in self.nodes():
            node.start()
        for node in self.nodes():
            await node.up()
        deadline = time.monotonic() + timeout
        for node in self.sentinels:
            client = aioredis.Redis(port=node.port, decode_responses=True)
            try:
                while True:
                    info = await client.execute_command("SENTINEL", "MASTER", SERVICE)  # type: ignore[no-untyped-call]
                    fields = dict(zip(info[::2], info[1::2], strict=True)) if isinstance(info, list) else info
                    if int(fields["num-slaves"]) >= 1 and int(fields["num-other-sentinels"]) >= 2:
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"sentinel on {node.port} never saw the whole topology: {fields}")
                    await asyncio.sleep(0.2)
            finally:
                await client.aclose()

    async def primary_port(self) -> int:
        """The port of the primary the Sentinels name now."""
        client = aioredis.Redis(port=self.sentinels[0].port, decode_responses=True)
        try:
            _, port = await client.execute_command(  # type: ignore[no-untyped-call]
                "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE
            )
            return int(port)
        finally:
            await client.aclose()

    def stop(self) -> None:
        for node in self.nodes():
            node.kill()
