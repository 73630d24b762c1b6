"""`relay check` speaks the core's failure reasons, names the host it tried and the fix, and nothing else."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import pytest

from relay.reasons import Reason
from tests.core.test_cli import run

CONFIG = """
[workspace]
keys = [{ id = "k1", secret = "0123456789abcdefXYZ0123" }]

[connectors.chat]
type = "webchat"

[connectors.tg]
type = "telegram"
token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
mode = "polling"
api_base_url = "http://127.0.0.1:9/bot"

[connectors.teams]
type = "teams"
app_id = "00000000-0000-0000-0000-000000000000"
app_secret = "teams-secret-0123456789abcdef"
tenant_id = "11111111-1111-1111-1111-111111111111"
authority = "https://127.0.0.1:9/11111111-1111-1111-1111-111111111111"
openid_metadata_url = "https://127.0.0.1:9/v1/.well-known/openidconfiguration"

[connectors.crm]
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "crm-secret-0123456789"

[[routes]]
from = ["chat", "tg", "teams"]
to = "crm"
"""


def test_failures_name_the_reason_the_host_and_the_fix_and_stderr_stays_empty(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(CONFIG)
    out = run("check", str(path))
    assert out.returncode == 1
    assert out.stderr == ""
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["connector", "check", "result", "detail"]
    failed = [line for line in lines if " FAIL " in line]
    assert {line.split()[0] for line in failed} == {"tg", "teams", "crm"}
    reasons = {r.value for r in Reason}
    for line in failed:
        assert not re.search(r"\b[A-Z][A-Za-z]*(Error|Exception)\b", line), line
        assert "127.0.0.1:9" in line, line
    coded = [line for line in failed if line.split("FAIL", 1)[1].split()[0] in reasons]
    assert len(coded) >= 3, failed
    crm = next(line for line in failed if line.startswith("crm"))
    assert "platform_unreachable at 127.0.0.1:9: check connectors.crm.url" in crm
    tg = next(line for line in failed if line.startswith("tg"))
    assert "platform_unreachable at 127.0.0.1:9: check connectors.tg.api_base_url" in tg
    assert "teams-secret" not in out.stdout and "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in out.stdout


def test_library_noise_stays_off_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    from relay.checkup import quiet

    with quiet():
        logging.getLogger("urllib3.connectionpool").warning("Retrying (Retry(total=0)) after connection broken")
        logging.getLogger("slack_bolt.App").warning("As you gave `client` as well, `token` will be unused.")
        warnings.warn("a library's own warning", UserWarning, stacklevel=1)
    logging.getLogger("relay.test").warning("after the check, logging works again")
    assert "Retrying" not in capfd.readouterr().err
    assert logging.getLogger("relay.test").isEnabledFor(logging.WARNING)
