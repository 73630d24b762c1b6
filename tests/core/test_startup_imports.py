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
    "relay.checkup",
    "relay.sandbox",
    "tomlkit",
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


def test_the_relay_command_imports_its_program_with_no_collection(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text(telegram_webhook(free_port(), free_port()))
    probe = (
        "import gc, sys\n"
        "during = []\n"
        "def seen(phase, info):\n"
        "    cli = sys.modules.get('relay.cli')\n"
        "    if phase == 'start' and cli is not None and not hasattr(cli, 'main'):\n"
        "        during.append(info['generation'])\n"
        "gc.callbacks.append(seen)\n"
        "from relay.boot import main\n"
        f"sys.argv = ['relay', 'config', 'check', {str(config)!r}]\n"
        "code = main()\n"
        "print(code, len(during), gc.isenabled())\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split()[-3:] == ["0", "0", "True"], out.stdout + out.stderr


def test_serving_resumes_collections_after_freezing_without_a_full_collection() -> None:
    probe = (
        "import gc\n"
        "from relay.host_workspace import GC_YOUNG_THRESHOLD, tune_gc\n"
        "gc.disable()\n"
        "full = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and full.append(info['generation']))\n"
        "tune_gc()\n"
        "print(full, gc.isenabled(), gc.get_freeze_count() > 0, gc.get_threshold()[0] == GC_YOUNG_THRESHOLD)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["[]", "True", "True", "True"], out.stdout + out.stderr


def test_a_run_that_stops_before_serving_leaves_collections_on(tmp_path: Path) -> None:
    config = tmp_path / "relay.toml"
    config.write_text('[server]\nport = "eighty"\n')
    probe = (
        f"import gc\nfrom relay.cli import main\nprint(main(['run', '--config', {str(config)!r}]), gc.isenabled())\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["2", "True"], out.stdout + out.stderr
