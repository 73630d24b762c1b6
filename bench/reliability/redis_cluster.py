"""A throwaway Redis Cluster: redis-server nodes with cluster mode on and persistence off, joined by
`redis-cli --cluster create`; a primary can be killed to make its replica take over."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    """A port that is free with its cluster bus port (+10000) free too, both below 65536."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair")


@dataclass
class Cluster:
    """Nodes by port; `nodes` is the startup list a relay is configured with."""

    root: Path
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def nodes(self) -> list[str]:
        return [f"127.0.0.1:{port}" for port in self.procs]

    def cli(self, port: int, *args: str) -> str:
        out = subprocess.run(
            ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10, check=True
        )
        return out.stdout

    def start_node(self, port: int) -> None:
        workdir = self.root / f"node-{port}"
        workdir.mkdir(parents=True, exist_ok=True)
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
        cmd += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000"]
        cmd += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(workdir / "redis.log")]
        self.procs[port] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.procs[port].poll() is not None:
                raise RuntimeError(f"redis-server on {port} exited: {(workdir / 'redis.log').read_text()[-500:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on {port} did not start")

    def start_free_node(self, tries: int = 3) -> None:
        """A node on a free port, trying another when the port was taken before the node bound it."""
        for attempt in range(tries):
            port = free_port()
            try:
                self.start_node(port)
                return
            except RuntimeError:
                self.procs.pop(port, None)
                if attempt == tries - 1:
                    raise

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every live node reports cluster_state:ok and agrees on the node count."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [p for p, proc in self.procs.items() if proc.poll() is None]
            roles = {p: self.cli(p, "info", "replication") for p in live}
            replicas = [info for info in roles.values() if "role:slave" in info]
            synced = len(replicas) == len(live) - len(self.procs) // 2
            synced = synced and all("master_link_status:up" in info for info in replicas)
            if synced and all("cluster_state:ok" in self.cli(p, "cluster", "info") for p in live):
                return
            time.sleep(0.1)
        raise RuntimeError("the cluster did not reach cluster_state:ok")

    def primary_of(self, key: str) -> int:
        """The port of the primary serving `key`'s slot."""
        port = self.live()[0]
        slot = int(self.cli(port, "cluster", "keyslot", key))
        for line in self.cli(port, "cluster", "nodes").splitlines():
            parts = line.split()
            if "master" not in parts[2] or "fail" in parts[2]:
                continue
            for span in parts[8:]:
                low, _, high = span.partition("-")
                if low.isdigit() and int(low) <= slot <= int(high or low):
                    return int(parts[1].split(":")[1].split("@")[0])
        raise KeyError(key)

    def primary_with_keys(self) -> int:
        """The port of the live primary holding keys (a single workspace's slot); KeyError while none does."""
        live = self.live()
        for line in self.cli(live[0], "cluster", "nodes").splitlines():
            parts = line.split()
            port = int(parts[1].split(":")[1].split("@")[0])
            if port not in live or "master" not in parts[2] or "fail" in parts[2]:
                continue
            if int(self.cli(port, "dbsize").strip() or 0):
                return port
        raise KeyError("no primary holds keys")

    def live(self) -> list[int]:
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def kill(self, port: int) -> None:
        self.procs[port].kill()
        self.procs[port].wait(5)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)


def start_cluster(root: Path, primaries: int = 3, replicas: int = 1) -> Cluster:
    """A cluster of `primaries` primaries with `replicas` replicas each, persistence off on every node."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        raise FileNotFoundError("redis-server and redis-cli are needed")
    cluster = Cluster(root)
    try:
        for _ in range(primaries * (1 + replicas)):
            cluster.start_free_node()
        create = ["redis-cli", "--cluster", "create", *cluster.nodes, "--cluster-replicas", str(replicas)]
        subprocess.run([*create, "--cluster-yes"], capture_output=True, timeout=60, check=True)
        cluster.wait_ok()
    except BaseException:
        cluster.stop()
        raise
    return cluster
