"""`relay run` on a non-loopback address, reached from another address: two network namespaces joined by a
veth pair (10.254.N.1 for the relay, 10.254.N.2 for the client), created and removed by the test."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORT = 18080
KEY = "netns-sandbox-key-" + "0123456789"
FETCH = """
import json, sys, urllib.error, urllib.request
req = urllib.request.Request(sys.argv[1], method=sys.argv[2], headers=json.loads(sys.argv[3]))
try:
    with urllib.request.urlopen(req, timeout=5) as resp:
        print(json.dumps([resp.status, resp.read().decode()]))
except urllib.error.HTTPError as err:
    print(json.dumps([err.code, err.read().decode()]))
"""
CONFIG = """
[workspace]
keys = [{ id = "k1", secret = "${RELAY_NETNS_TEST_KEY}" }]

[connectors.webchat]
type = "webchat"

[connectors.inbox]
type = "inbox"

[[routes]]
from = ["webchat"]
to = "inbox"
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass(frozen=True)
class Net:
    """The relay's namespace and address, the client's namespace."""

    relay_ns: str
    relay_ip: str
    client_ns: str

    def relay(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """`relay <args>` inside the relay's namespace, with this checkout's code."""
        base = {k: v for k, v in os.environ.items() if k not in ("RELAY_CONFIG", "RELAY_SANDBOX_KEY")}
        return subprocess.Popen(
            ["ip", "netns", "exec", self.relay_ns, sys.executable, "-m", "relay.cli", *args],
            cwd=ROOT,
            env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def fetch(self, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, str]:
        """An HTTP request from the client's namespace (another address) to the relay."""
        url = f"http://{self.relay_ip}:{PORT}{path}"
        script = [sys.executable, "-c", FETCH, url, method, json.dumps(headers or {})]
        out = subprocess.run(
            ["ip", "netns", "exec", self.client_ns, *script],
            capture_output=True,
            text=True,
            timeout=20,
        )
        if out.returncode != 0:
            raise ConnectionError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "fetch failed")
        status, body = json.loads(out.stdout)
        return int(status), str(body)


@pytest.fixture
def net() -> Iterator[Net]:
    if os.geteuid() != 0:
        pytest.skip("creating network namespaces needs root")
    if shutil.which("ip") is None:
        pytest.skip("iproute2's `ip` is not installed")
    tag = secrets.token_hex(3)
    relay_ns, client_ns, subnet = f"relay-{tag}-r", f"relay-{tag}-c", f"10.254.{secrets.randbelow(256)}"
    created: list[str] = []
    try:
        for ns in (relay_ns, client_ns):
            try:
                ip("netns", "add", ns)
            except subprocess.CalledProcessError as exc:
                pytest.skip(f"`ip netns` is unavailable here: {exc.stderr.decode().strip()}")
            created.append(ns)
        ip("link", "add", "rv0", "netns", relay_ns, "type", "veth", "peer", "name", "cv0", "netns", client_ns)
        for ns, dev, addr in ((relay_ns, "rv0", f"{subnet}.1/30"), (client_ns, "cv0", f"{subnet}.2/30")):
            ip("-n", ns, "addr", "add", addr, "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        yield Net(relay_ns, f"{subnet}.1", client_ns)
    finally:
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    out, err = proc.communicate(timeout=10)
    return out, err


def wait_serving(net: Net, proc: subprocess.Popen[str], seconds: float = 20) -> bool:
    """True once the relay answers the client; False if it exited first."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and proc.poll() is None:
        try:
            if net.fetch("/healthz")[0] == 200:
                return True
        except ConnectionError:
            time.sleep(0.2)
    return False


def exits(proc: subprocess.Popen[str], seconds: float = 20) -> int | None:
    try:
        return proc.wait(seconds)
    except subprocess.TimeoutExpired:
        return None


def session_of(page: str) -> str:
    found = re.search(r'const SESSION = "([^"]*)";', page)
    assert found is not None, "the inbox page has no SESSION slot"
    return found.group(1)


@pytest.mark.timeout(120)
def test_keyless_inbox_refuses_to_start_on_a_non_loopback_host(net: Net, tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(CONFIG)
    proc = net.relay(
        "run", "--config", str(path), "--host", net.relay_ip, "--port", str(PORT),
        env={"RELAY_NETNS_TEST_KEY": secrets.token_urlsafe(24)},
    )  # fmt: skip
    try:
        code = exits(proc)
        if code is None:
            leaked = wait_serving(net, proc) and session_of(net.fetch("/hooks/inbox/")[1])
            pytest.fail(
                f"a keyless inbox started on {net.relay_ip}; it served its session token elsewhere: {bool(leaked)}"
            )
    finally:
        _out, err = stop(proc)
    assert code == 2, err
    assert f"{path}: connectors.inbox.access_key:" in err
    assert net.relay_ip in err and "not a loopback address" in err
    assert 'access_key = "${INBOX_ACCESS_KEY}"' in err and "export INBOX_ACCESS_KEY=" in err
    assert "--host 127.0.0.1" in err
    assert "Traceback" not in err


@pytest.mark.timeout(120)
def test_sandbox_beyond_loopback_takes_its_key_from_the_environment_and_hides_the_inbox(net: Net) -> None:
    refused = net.relay("run", "--host", "0.0.0.0", "--port", str(PORT))
    try:
        code = exits(refused)
    finally:
        _out, err = stop(refused)
    assert code == 2, err
    assert "export RELAY_SANDBOX_KEY=" in err and "read and answer every conversation" in err
    assert "relay secrets set" not in err
    assert "Traceback" not in err

    proc = net.relay("run", "--host", "0.0.0.0", "--port", str(PORT), env={"RELAY_SANDBOX_KEY": KEY})
    try:
        assert wait_serving(net, proc), "the sandbox with RELAY_SANDBOX_KEY did not start"
        status, page = net.fetch("/hooks/inbox/")
        assert status == 200
        assert session_of(page) == ""
        for headers in ({}, {"X-Relay-Session": "x"}, {"Authorization": "Bearer wrong-key"}):
            assert net.fetch("/hooks/inbox/api/conversations", headers=headers)[0] == 401, headers
        assert net.fetch("/hooks/inbox/api/conversations", headers={"Authorization": f"Bearer {KEY}"})[0] == 200
        assert net.fetch("/hooks/webchat/api/session", method="POST")[0] == 200
    finally:
        out, err = stop(proc)
    assert KEY not in out + err
