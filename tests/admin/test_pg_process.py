"""`relay run` on the PostgreSQL config store: the process seeds an empty workspace from its file, and applies
a version another replica stores (NOTIFY) without a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import tomlkit

from relay.configstore import Document
from relay.configstore_pg import PostgresStore
from tests.admin.conftest import PG_URL, base_config
from tests.browser.conftest import free_port
from tests.support.crm_sink import SINK_SECRET
from tests.support.probe import post_status


async def test_a_relay_process_reloads_what_another_replica_stores(tmp_path: Path, schema: str) -> None:
    port = free_port()
    raw = base_config("http://127.0.0.1:9/crm")
    raw["server"] = {"port": port}
    raw["config_store"] = {"backend": "postgres", "dsn": PG_URL, "schema": schema}
    path = tmp_path / "relay.toml"
    path.write_text(tomlkit.dumps(raw))
    env = {k: v for k, v in os.environ.items() if k != "RELAY_SECRETS_FILE"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "relay.cli",
        "run",
        "--config",
        str(path),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    other = PostgresStore(PG_URL, "test", schema)
    try:
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(20):
                while await post_status(session, f"{base}/hooks/crm") != 401:
                    await asyncio.sleep(0.1)
            assert await post_status(session, f"{base}/hooks/crm2") == 404
            await other.open()
            current = await other.read()
            changed = current.edited()
            changed["connectors"]["crm2"] = {"type": "webhook", "url": "http://127.0.0.1:9/x", "secret": SINK_SECRET}
            await other.write(Document(changed, {}))
            async with asyncio.timeout(10):
                while await post_status(session, f"{base}/hooks/crm2") != 401:
                    await asyncio.sleep(0.05)
    finally:
        await other.close()
        proc.send_signal(signal.SIGTERM)
        _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert SINK_SECRET not in err.decode()
