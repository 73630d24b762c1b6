"""`relay run` re-reads its config file on SIGHUP: connectors and routes change without a restart, a file that
does not load changes nothing and says why, and a section that needs a restart is named."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
import tomlkit

from tests.admin.conftest import base_config
from tests.browser.conftest import free_port
from tests.support.crm_sink import SINK_SECRET
from tests.support.probe import post_status


async def _until(session: aiohttp.ClientSession, url: str, status: int) -> None:
    async with asyncio.timeout(15):
        while await post_status(session, url) != status:
            await asyncio.sleep(0.05)


async def test_sighup_applies_the_edited_file(tmp_path: Path) -> None:
    port = free_port()
    raw = base_config("http://127.0.0.1:9/crm")
    raw["server"] = {"port": port}
    raw["logging"] = {"format": "json"}
    path = tmp_path / "relay.toml"
    path.write_text(tomlkit.dumps(raw))
    env = {k: v for k, v in os.environ.items() if k != "RELAY_SECRETS_FILE"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay.cli", "run", "--config", str(path),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/hooks"
    assert proc.stderr is not None
    events: list[str] = []

    async def read_log() -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            if line.startswith(b"{"):
                events.append(json.loads(line)["event"])

    async def logged(start: str) -> str:
        async with asyncio.timeout(15):
            while not (found := [e for e in events if e.startswith(start)]):
                await asyncio.sleep(0.05)
        return found[-1]

    reader = asyncio.create_task(read_log())
    try:
        async with aiohttp.ClientSession() as session:
            await _until(session, f"{base}/crm", 401)
            assert await post_status(session, f"{base}/crm2") == 404
            raw["connectors"]["crm2"] = {"type": "webhook", "url": "http://127.0.0.1:9/x", "secret": SINK_SECRET}
            path.write_text(tomlkit.dumps(raw))
            proc.send_signal(signal.SIGHUP)
            await _until(session, f"{base}/crm2", 401)

            broken = dict(raw, connectors=dict(raw["connectors"], crm3={"type": "webhook", "url": "not a url"}))
            path.write_text(tomlkit.dumps(broken))
            proc.send_signal(signal.SIGHUP)
            assert "connectors.crm3" in await logged("configuration not reloaded: ")
            assert (
                await post_status(session, f"{base}/crm2") == 401 and await post_status(session, f"{base}/crm3") == 404
            )

            raw["server"] = {"port": port, "max_inflight": 64}
            path.write_text(tomlkit.dumps(raw))
            proc.send_signal(signal.SIGHUP)
            assert await logged("configuration sections") == "configuration sections apply at the next start: server"
            assert await post_status(session, f"{base}/crm2") == 401, "still serving"
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()
        await reader
    assert proc.returncode == 0, events[-5:]
    assert SINK_SECRET not in json.dumps(events)
