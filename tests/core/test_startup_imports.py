"""A relay imports what its configuration needs and nothing else: read from `python -X importtime` of a real run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.scale.cluster import to_toml
from tests.state.conftest import free_port

pytestmark = pytest.mark.timeout(90)

NOT_NEEDED = (
    "slack_sdk",
    "slack_bolt",
    "msal",
    "jwt",
    "redis",
    "asyncpg",
    "aiosmtplib",
    "imapclient",
    "mailparser_reply",
    "connectors.teams",
    "connectors.slack",
    "connectors.whatsapp",
    "connectors.hubspot",
    "connectors.hubspot.admin",
    "connectors.bottlecrm",
    "connectors.bottlecrm.admin",
    "connectors.email",
    "connectors.graphmail",
    "relay.admin.site",
    "saml2",
    "authlib",
    "argon2",
    "pyotp",
)


def imported(stderr: str) -> set[str]:
    """The modules `-X importtime` reported importing."""
    return {m.group(1).strip() for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", stderr, re.M)}


def telegram_webhook(port: int, dead_port: int) -> str:
    return to_toml(
        {
            "workspace": {"id": "lean", "keys": [{"id": "k1", "secret": "lean-workspace-key-0123456789abcdef"}]},
            "server": {"host": "127.0.0.1", "port": port, "shutdown_grace": 1.0},
            "logging": {"level": "warning", "format": "json"},
            "connectors": {
                "tg": {
                    "type": "telegram",
                    "token": "123456789:LEAN-fake-token-abcdefghijklmnop",
                    "mode": "webhook",
                    "secret_token": "lean-secret-token-0123456789abcdef",
                    "api_base_url": f"http://127.0.0.1:{dead_port}/bot",
                },
                "crm": {
                    "type": "webhook",
                    "url": f"http://127.0.0.1:{dead_port}/crm",
                    "secret": "lean-crm-secret-0123456789abcdef",
                },
            },
            "routes": [{"from": ["tg"], "to": "crm"}],
        }
    )


def test_a_telegram_and_webhook_relay_imports_no_other_connector_or_client(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "relay.toml"
    config.write_text(telegram_webhook(port, free_port()))
    cmd = [sys.executable, "-X", "importtime", "-m", "relay.cli", "run", "--config", str(config)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        end = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "relay run exited before it was ready"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < end, "relay run never answered /healthz"
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    modules = imported(stderr)
    assert {"connectors.telegram.connector", "connectors.webhook.connector", "aiohttp"} <= modules, "it was measured"
    assert sorted(m for m in modules if m in NOT_NEEDED or m.split(".")[0] in NOT_NEEDED) == []


def test_a_connector_command_is_imported_only_when_invoked() -> None:
    probe = (
        "import sys; from relay.cli import parser; parser(['run']).parse_args(['run']); "
        "print('connectors.hubspot.admin' in sys.modules, 'connectors.bottlecrm.admin' in sys.modules); "
        "parser(['hubspot']); print('connectors.hubspot.admin' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["False", "False", "True"]
    helped = subprocess.run(
        [sys.executable, "-m", "relay.cli", "hubspot", "connect", "--help"], capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0 and "--reauthorize" in helped.stdout
