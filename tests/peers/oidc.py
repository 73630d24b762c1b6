"""npm `oidc-provider` as a real OpenID Connect identity provider for the console's sign-in tests.

Usage from the repository root:
    python -m tests.peers.oidc install     # npm install oidc-provider into the peers cache (once)
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from tests.peers.common import PeerUnavailable, install_lock, peers_dir

VERSION = "9.13.3"
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")


def home() -> Path:
    return peers_dir() / f"oidc-provider-{VERSION}"


def install() -> Path:
    """Install oidc-provider with npm into the cache (idempotent); PeerUnavailable when npm is missing."""
    package = home() / "node_modules" / "oidc-provider" / "package.json"
    with install_lock("oidc-provider"):
        if package.exists():
            return home()
        if shutil.which("node") is None or shutil.which("npm") is None:
            raise PeerUnavailable("node and npm are needed for the OpenID Connect peer (apt-get install npm)")
        home().mkdir(parents=True, exist_ok=True)
        command = ["npm", "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(home())]
        done = subprocess.run([*command, f"oidc-provider@{VERSION}"], capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not package.exists():
            raise PeerUnavailable(f"npm install oidc-provider@{VERSION} failed: {done.stderr[-400:]}")
    return home()


class OidcProvider:
    """One oidc-provider process on a loopback port with one client and the given accounts."""

    def __init__(self, port: int, client_id: str, secret: str, redirect_uri: str, accounts: dict[str, Any]) -> None:
        self.port = port
        self.env = {
            "OIDC_PORT": str(port),
            "OIDC_CLIENT_ID": client_id,
            "OIDC_CLIENT_SECRET": secret,
            "OIDC_REDIRECT_URI": redirect_uri,
            "OIDC_ACCOUNTS": json.dumps(accounts),
        }
        self.proc: asyncio.subprocess.Process | None = None
        self.log = Path(tempfile.gettempdir()) / f"oidc-provider-{port}.log"

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        script = home() / SCRIPT.name
        script.write_text(SCRIPT.read_text())
        with self.log.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                "node",
                str(script),
                cwd=home(),
                env={**os.environ, **self.env},
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"{self.issuer}/.well-known/openid-configuration") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        await self.stop()
        raise PeerUnavailable("oidc-provider did not answer on its discovery URL within 10 s")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        raise SystemExit(__doc__)
    try:
        print(f"oidc-provider {VERSION}: {install()}")
    except PeerUnavailable as exc:
        raise SystemExit(str(exc)) from None
