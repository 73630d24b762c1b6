"""Relay replicas as subprocesses (`python -m relay.cli run --config X`), their configs and their logs."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import aiohttp

from bench.reliability.fakes import BOT_SECRET, BOT_TOKEN
from tests.support.crm_sink import SINK_SECRET

REDIS_URL = "redis://127.0.0.1:6379/0"
WORKSPACE_KEY = "reliability-workspace-key-0123456789abcdef"


def free_port() -> int:
    """An ephemeral TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_available() -> bool:
    """True when the shared Redis state store exists and a Redis answers on localhost."""
    if importlib.util.find_spec("relay.state_redis") is None:
        return False
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(type(value).__name__)


def dump_toml(doc: dict[str, Any], prefix: str = "") -> str:
    """A TOML document for plain nested dicts, lists of scalars and lists of tables."""
    lines: list[str] = []
    tables: list[tuple[str, Any]] = []
    for key, value in doc.items():
        if isinstance(value, dict) or (isinstance(value, list) and value and isinstance(value[0], dict)):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in tables:
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            lines += ["", f"[{name}]", dump_toml(value, name + ".")]
        else:
            for item in value:
                lines += ["", f"[[{name}]]", dump_toml(item, name + ".")]
    return "\n".join(line for line in lines if line is not None).strip() + "\n"


def relay_config(
    port: int,
    bot_url: str,
    crm_url: str,
    workspace: str,
    redis: bool,
    level: str = "info",
    deadline: float = 2.0,
    crm_timeout: float = 1.0,
    grace: float = 5.0,
) -> dict[str, Any]:
    """Telegram (webhook mode) <-> webhook CRM, short deadlines so faults resolve in seconds."""
    state: dict[str, Any] = {"backend": "redis", "url": REDIS_URL} if redis else {"backend": "memory"}
    return {
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "public_url": f"http://127.0.0.1:{port}",
            "shutdown_grace": grace,
        },
        "workspace": {"id": workspace, "keys": [{"id": "k1", "secret": WORKSPACE_KEY}]},
        "state": state,
        "logging": {"level": level, "format": "json"},
        "connectors": {
            "tg": {
                "type": "telegram",
                "token": BOT_TOKEN,
                "mode": "webhook",
                "secret_token": BOT_SECRET,
                "api_base_url": f"{bot_url}/bot",
                "timeout": 2.0,
                "ack_deadline": deadline,
            },
            "crm": {
                "type": "webhook",
                "url": f"{crm_url}/crm",
                "secret": SINK_SECRET,
                "timeout": crm_timeout,
                "ack_deadline": deadline + 1.0,
            },
        },
        "routes": [{"from": ["tg"], "to": "crm"}],
    }


def new_workspace() -> str:
    return "rel-" + secrets.token_hex(6)


class RelayProc:
    """One relay replica; its stderr (the logs) is kept in memory for the at-rest scan."""

    def __init__(self, name: str, config: dict[str, Any], workdir: Path) -> None:
        self.name = name
        self.config = config
        self.port: int = config["server"]["port"]
        self.path = workdir / f"{name}.toml"
        self.path.write_text(dump_toml(config), encoding="utf-8")
        self.lines: list[str] = []
        self.popen: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> None:
        cmd = [sys.executable, "-m", "relay.cli", "run", "--config", str(self.path)]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        self.popen = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
        )
        self._reader = threading.Thread(target=self._read, args=(self.popen,), daemon=True)
        self._reader.start()

    def _read(self, popen: subprocess.Popen[bytes]) -> None:
        assert popen.stdout is not None
        for raw in popen.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip())

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    async def ready(self, session: aiohttp.ClientSession, timeout: float = 20.0) -> None:
        """Wait until /readyz answers 200; raise with the last log lines if it does not."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end and self.alive():
            try:
                async with session.get(self.url + "/readyz", timeout=aiohttp.ClientTimeout(total=1)) as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
        tail = "\n  ".join(self.lines[-20:]) or "(no output)"
        raise RuntimeError(f"relay {self.name} not ready on {self.url}:\n  {tail}")

    async def metric(self, session: aiohttp.ClientSession, name: str) -> float:
        """The sum of one counter over all its label sets; 0 when the replica is gone."""
        try:
            async with session.get(self.url + "/metrics", timeout=aiohttp.ClientTimeout(total=2)) as resp:
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            return 0.0
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))

    def signal(self, sig: signal.Signals) -> None:
        if self.alive():
            assert self.popen is not None
            self.popen.send_signal(sig)

    async def wait(self, timeout: float = 20.0) -> int | None:
        """Wait for the process to exit; its exit code, or None if it is still running."""
        assert self.popen is not None
        try:
            return await asyncio.to_thread(self.popen.wait, timeout)
        except subprocess.TimeoutExpired:
            return None

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit; this process only."""
        if self.popen is None:
            return
        self.signal(signal.SIGTERM)
        if await self.wait(15) is None:
            self.signal(signal.SIGKILL)
            await self.wait(5)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.join, 5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
