"""The `relay` command as an admin uses it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

RELAY = [sys.executable, "-m", "relay.cli"]
CONFIG = """
[workspace]
keys = [{ id = "k1", secret = "${KEY}" }]

[connectors.chat]
type = "webchta"

[connectors.crm]
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "crm-secret-0123456789"
timout = 3

[[routes]]
from = ["chat"]
to = "crm"
"""


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RELAY, *args], input=stdin, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def test_config_check_prints_every_problem_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(CONFIG)
    out = run("config", "check", str(path))
    assert out.returncode == 2
    assert "3 problem(s)" in out.stderr
    assert "workspace.keys[0].secret: ${KEY} is not set; export KEY" in out.stderr
    assert "connectors.chat.type: unknown connector type 'webchta' (did you mean 'webchat'?)" in out.stderr
    assert "connectors.crm.timout: unknown key (did you mean 'timeout'?)" in out.stderr
    assert "Traceback" not in out.stderr


def test_config_check_accepts_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(CONFIG.replace("webchta", "webchat").replace("timout", "timeout"))
    out = run("config", "check", str(path), env={"KEY": "0123456789abcdef0123"})
    assert out.returncode == 0, out.stderr
    assert "valid" in out.stdout


def test_check_prints_a_table_of_what_works(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(CONFIG.replace("webchta", "webchat").replace("timout", "timeout"))
    out = run("check", str(path), env={"KEY": "0123456789abcdef0123"})
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["connector", "check", "result", "detail"]
    assert any(line.startswith("crm") and "FAIL" in line for line in lines)
    assert any(line.startswith("chat") and " ok " in line for line in lines)
    assert "crm-secret" not in out.stdout + out.stderr


def test_secrets_set_and_list_never_print_values(tmp_path: Path) -> None:
    env = {"RELAY_MASTER_KEY": "master-key-0123456789abcdef", "RELAY_SECRETS_FILE": str(tmp_path / "s.json")}
    out = run("secrets", "set", "CRM_SECRET", stdin="the-secret-value-123\n", env=env)
    assert out.returncode == 0, out.stderr
    assert "the-secret-value" not in out.stdout + out.stderr
    listed = run("secrets", "list", env=env)
    assert listed.stdout.strip() == "CRM_SECRET = ***"
    assert b"the-secret-value" not in (tmp_path / "s.json").read_bytes()
    wrong = run("secrets", "list", env={**env, "RELAY_MASTER_KEY": "another-master-key-0123"})
    assert wrong.returncode == 2 and "does not open" in wrong.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""


@pytest.mark.timeout(60)
def test_run_without_config_serves_the_sandbox_and_stops_on_sigterm() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [*RELAY, "run", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "RELAY_CONFIG"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if _get(f"{base}/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        assert _get(f"{base}/healthz")[0] == 200
        status, page = _get(f"{base}/")
        assert status == 200 and "/hooks/webchat/" in page and "/hooks/inbox/" in page
        assert _get(f"{base}/hooks/webchat/")[0] == 200
        assert _get(f"{base}/hooks/inbox/")[0] == 200
        token = json.loads(
            urllib.request.urlopen(
                urllib.request.Request(f"{base}/hooks/webchat/api/session", method="POST"), timeout=2
            ).read()
        )["token"]
        poll = urllib.request.Request(f"{base}/hooks/webchat/api/events?since=0", headers={"X-Webchat-Token": token})
        waiting = threading.Thread(target=lambda: urllib.request.urlopen(poll, timeout=30).read(), daemon=True)
        waiting.start()
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=8) == 0, "an open long-poll must not hold shutdown for the whole grace period"
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err
    assert "uvloop event loop" in err
    assert "stopped" in err


def test_event_loop_is_uvloop_unless_configured_or_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvloop

    from relay.cli import loop_factory

    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert loop_factory("asyncio") is None
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert loop_factory("uvloop") is None


def test_run_on_a_busy_port_says_so_and_leaves_nothing_open() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        out = run("run", "--host", "127.0.0.1", "--port", str(busy.getsockname()[1]))
    assert out.returncode == 1
    assert "address already in use" in out.stderr
    assert "Unclosed" not in out.stderr and "Traceback" not in out.stderr
