"""Node-RED as a real low-code CRM for end-to-end tests: a cached npm install, one flow, start and stop.

Usage from the repository root:
    python -m tests.peers.nodered install     # npm install node-red into the peers cache (once)
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.peers.common import PeerUnavailable, peers_dir

VERSION = "4.1.0"


def home() -> Path:
    return peers_dir() / f"node-red-{VERSION}"


def red_js() -> Path:
    return home() / "node_modules" / "node-red" / "red.js"


def install() -> Path:
    """Install Node-RED with npm into the cache (idempotent); PeerUnavailable when node or npm is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise PeerUnavailable("node and npm are needed for the Node-RED peer (apt-get install nodejs npm)")
    if red_js().exists():
        return red_js()
    home().mkdir(parents=True, exist_ok=True)
    command = ["npm", "install", "--no-audit", "--no-fund", "--omit=dev", "--silent", f"node-red@{VERSION}"]
    done = subprocess.run(command, cwd=home(), capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not red_js().exists():
        raise PeerUnavailable(f"npm install node-red@{VERSION} failed: {done.stderr[-400:]}")
    return red_js()


class NodeRed:
    """One Node-RED process on a loopback port running `flows`, with `env` in its environment."""

    def __init__(self, workdir: Path, port: int, flows: list[dict[str, Any]], env: dict[str, str]) -> None:
        self.workdir, self.port, self.flows, self.env = workdir, port, flows, env
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        (self.workdir / "flows.json").write_text(json.dumps(self.flows))
        settings = {
            "uiHost": "127.0.0.1",
            "uiPort": self.port,
            "userDir": str(self.workdir),
            "flowFile": "flows.json",
            "httpAdminRoot": False,
            "functionExternalModules": True,
            "credentialSecret": False,
            "logging": {"console": {"level": "warn"}},
        }
        (self.workdir / "settings.js").write_text(f"module.exports = {json.dumps(settings)};\n")
        self.proc = await asyncio.create_subprocess_exec(
            "node",
            str(red_js()),
            "--settings",
            str(self.workdir / "settings.js"),
            env={**os.environ, **self.env},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


if __name__ == "__main__":
    if sys.argv[1:] == ["install"]:
        try:
            print(install())
        except PeerUnavailable as exc:
            print(f"Node-RED peer skipped: {exc}")
    else:
        print(__doc__)
