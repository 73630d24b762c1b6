"""A real `relay host` process over a directory of workspace configs, for the host tests."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.scale.cluster import to_toml
from tests.state.conftest import free_port
from tests.support.crm_sink import SINK_SECRET

WORKSPACE_KEY = "host-test-workspace-key-0123456789abcdef"


def workspace(name: str, port: int, crm_url: str) -> str:
    """A webchat -> webhook workspace on its own port, its state in memory."""
    return to_toml(
        {
            "workspace": {"id": name, "keys": [{"id": "k1", "secret": WORKSPACE_KEY}]},
            "server": {"host": "127.0.0.1", "port": port, "shutdown_grace": 2.0},
            "logging": {"level": "info", "format": "json"},
            "connectors": {
                "webchat": {"type": "webchat", "ack_deadline": 5.0},
                "crm": {"type": "webhook", "url": crm_url, "secret": SINK_SECRET, "ack_deadline": 5.0},
            },
            "routes": [{"from": ["webchat"], "to": "crm"}],
        }
    )


class Hosted:
    """`relay host --workspaces DIR` with its output in a file; children found from its log lines."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "workspaces"
        self.dir.mkdir()
        self.log_path = tmp / "host.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def add(self, name: str, crm_url: str) -> int:
        port = free_port()
        staged = self.dir / f".{name}.toml.tmp"
        staged.write_text(workspace(name, port, crm_url))
        staged.rename(self.dir / f"{name}.toml")
        return port

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "relay.cli", "host", "--workspaces", str(self.dir), "--grace", "10"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pids(self, name: str) -> list[int]:
        """Every pid the host reported starting for this workspace, oldest first."""
        return [
            int(p) for p in re.findall(rf"workspace {name}: started from {name}\.toml \(pid (\d+)\)", self.output())
        ]

    async def wait_for(self, text: str, timeout: float = 30.0) -> None:
        end = asyncio.get_running_loop().time() + timeout
        while text not in self.output():
            self.check_alive()
            if asyncio.get_running_loop().time() > end:
                raise AssertionError(f"{text!r} never appeared; host output:\n{self.output()[-4000:]}")
            await asyncio.sleep(0.05)

    def check_alive(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, f"host exited:\n{self.output()[-4000:]}"

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


async def healthy(session: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def wait_healthy(session: aiohttp.ClientSession, port: int, host: Hosted, timeout: float = 30.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not await healthy(session, port):
        host.check_alive()
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"port {port} never became healthy; host output:\n{host.output()[-4000:]}")
        await asyncio.sleep(0.05)


async def send_chat(session: aiohttp.ClientSession, port: int, msg_id: str, text: str) -> str:
    """A webchat visitor's message through the workspace on `port`; the relay's status for it."""
    base = f"http://127.0.0.1:{port}/hooks/webchat/api"
    async with session.post(f"{base}/session") as resp:
        token = (await resp.json())["token"]
    async with session.post(
        f"{base}/messages", json={"id": msg_id, "text": text}, headers={"X-Webchat-Token": token}
    ) as resp:
        assert resp.status == 200, await resp.text()
        status: str = (await resp.json())["status"]
        return status
