"""`relay host`: one process per workspace config; a crash, a bad config or a removal affects that one alone."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from relay.host import backoff, scan
from tests.core.hosting import WORKSPACE_KEY, Hosted, healthy, send_chat, wait_healthy
from tests.support.crm_sink import SINK_SECRET, CrmSink

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_workspaces_serve_restart_come_and_go(tmp_path: Path, aiohttp_server: Any) -> None:
    sinks = [CrmSink(), CrmSink(), CrmSink()]
    urls = [str((await aiohttp_server(s.app())).make_url("/crm")) for s in sinks]
    host = Hosted(tmp_path)
    ports = {"alpha": host.add("alpha", urls[0]), "beta": host.add("beta", urls[1])}
    host.start()
    try:
        async with aiohttp.ClientSession() as session:
            for port in ports.values():
                await wait_healthy(session, port, host)
            assert await send_chat(session, ports["alpha"], "a1", "order 1234 for alpha") == "delivered"
            assert await send_chat(session, ports["beta"], "b1", "order 5678 for beta") == "delivered"
            assert [m["message"]["text"] for m in sinks[0].messages()] == ["order 1234 for alpha"]
            assert [m["message"]["text"] for m in sinks[1].messages()] == ["order 5678 for beta"]
            ledgers = sorted(p.relative_to(host.dir).as_posix() for p in host.dir.rglob("consent.sqlite3"))
            assert ledgers == ["relay-data/alpha/consent.sqlite3", "relay-data/beta/consent.sqlite3"]
            first = host.pids("alpha")
            assert len(first) == 1 and host.pids("beta")[0] != first[0], "one process per workspace"

            os.kill(first[0], signal.SIGKILL)
            await host.wait_for("workspace alpha: exited (signal SIGKILL); restarting in 1 s")
            assert await send_chat(session, ports["beta"], "b2", "beta while alpha is down") == "delivered"
            while len(host.pids("alpha")) < 2:
                await asyncio.sleep(0.05)
                host.check_alive()
            await wait_healthy(session, ports["alpha"], host)
            assert await send_chat(session, ports["alpha"], "a2", "alpha is back") == "delivered"
            assert host.pids("beta") == host.pids("beta")[:1], "beta was never restarted"

            ports["gamma"] = host.add("gamma", urls[2])
            await wait_healthy(session, ports["gamma"], host)
            assert await send_chat(session, ports["gamma"], "g1", "gamma joined") == "delivered"
            (host.dir / "gamma.toml").unlink()
            await host.wait_for("workspace gamma: stopped (exit code 0)")
            assert not await healthy(session, ports["gamma"])
            assert await healthy(session, ports["alpha"]) and await healthy(session, ports["beta"])
    finally:
        code = host.stop()
    assert code == 0
    out = host.output()
    assert "workspace alpha: stopped (exit code 0)" in out and "workspace beta: stopped (exit code 0)" in out
    listening = [json.loads(ln) for ln in out.splitlines() if "relay listening on" in ln]
    assert {doc.get("workspace") for doc in listening} == {"alpha", "beta", "gamma"}, "each line names its workspace"
    for pid in host.pids("alpha") + host.pids("beta"):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    for secret in (WORKSPACE_KEY, SINK_SECRET, "order 1234", "order 5678", "alpha is back", "gamma joined"):
        assert secret not in out
    assert [len(s.messages()) for s in sinks] == [2, 2, 1]


async def test_a_bad_config_names_its_file_and_the_others_keep_serving(tmp_path: Path, aiohttp_server: Any) -> None:
    sink = CrmSink()
    url = str((await aiohttp_server(sink.app())).make_url("/crm"))
    host = Hosted(tmp_path)
    good = host.add("good", url)
    bad_port = host.add("bad", url)
    bad = host.dir / "bad.toml"
    bad.write_text(bad.read_text().replace('type = "webhook"', 'type = "webhok"'))
    host.start()
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, good, host)
            await host.wait_for(f"workspace bad: {bad} has problems")
            out = host.output()
            assert f"relay host: {bad}: configuration has 1 problem(s):" in out
            assert "unknown connector type 'webhok' (did you mean 'webhook'?)" in out
            assert "Traceback" not in out
            assert await send_chat(session, good, "g1", "still serving") == "delivered"
            await asyncio.sleep(2.5)
            assert host.output().count(f"relay host: {bad}: configuration has") == 1, "not restarted in a loop"

            bad.write_text(bad.read_text().replace('type = "webhok"', 'type = "webhook"'))
            await host.wait_for("workspace bad: bad.toml changed; restarting it")
            await wait_healthy(session, bad_port, host)
            assert await send_chat(session, bad_port, "b1", "fixed and serving") == "delivered"
            assert await healthy(session, good)
    finally:
        assert host.stop() == 0
    assert WORKSPACE_KEY not in host.output() and SINK_SECRET not in host.output()


def test_scan_skips_hidden_and_other_files_and_reads_no_directory_as_unknown(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text("")
    (tmp_path / ".acme.toml.tmp").write_text("")
    (tmp_path / ".hidden.toml").write_text("")
    (tmp_path / "notes.txt").write_text("")
    found = scan(tmp_path)
    assert found is not None and sorted(found) == ["acme"]
    assert scan(tmp_path / "gone") is None


def test_backoff_doubles_up_to_thirty_seconds() -> None:
    assert [backoff(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
