"""`relay consent export | digest | forget`: an auditor's file without addresses, and erasure of a subject."""

from __future__ import annotations

import asyncio
import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from relay import config
from relay.app import RELAY_KEY, create_app
from relay.cli import main
from tests.conftest import WORKSPACE_KEY, chat_token
from tests.consent.common import keywords_on
from tests.support.crm_sink import SINK_SECRET

CONFIG = """
[workspace]
id = "audit"
keys = [{{ id = "k1", secret = "{key}" }}]

[consent]
path = "ledger/consent.sqlite3"

[connectors.webchat]
type = "webchat"

[connectors.crm]
type = "webhook"
url = "{url}"
secret = "{secret}"

[[routes]]
from = ["webchat"]
to = "crm"
"""


async def test_export_digest_and_forget(
    tmp_path: Path,
    crm_sink: Any,
    aiohttp_client: Any,
    canary: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _sink, url = crm_sink
    path = tmp_path / "relay.toml"
    path.write_text(CONFIG.format(key=WORKSPACE_KEY, url=url, secret=SINK_SECRET))
    app = await create_app(config.load(path))
    client = await aiohttp_client(app)
    relay = app[RELAY_KEY]
    keywords_on(relay, "webchat")
    chat = await chat_token(client)
    visitor = chat["X-Webchat-Token"].split(".")[0]
    for mid, text in (("m1", f"hi {canary}"), ("m2", "STOP")):
        resp = await client.post("/hooks/webchat/api/messages", json={"id": mid, "text": text}, headers=chat)
        assert resp.status == 200
    await client.close()

    out = tmp_path / "audit.jsonl"
    assert await asyncio.to_thread(main, ["consent", "export", "--config", str(path), "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["ledger"] == "relay-consent" and lines[0]["workspace"] == "audit"
    assert [(r["record"], r["state"], r["how"]) for r in lines[1:]] == [
        ("state", "opted_out", "keyword"),
        ("event", "opted_out", "keyword"),
    ]
    exported = out.read_text() + (tmp_path / "ledger" / "consent.sqlite3").read_text(errors="replace")
    assert canary not in exported and visitor not in exported and "STOP" not in exported

    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(visitor + "\n"))
    assert (
        await asyncio.to_thread(
            main, ["consent", "digest", "--config", str(path), "--channel", "webchat", "--address", "-"]
        )
        == 0
    )
    digest = capsys.readouterr().out.split()[0]
    assert digest == lines[1]["subject"]

    assert (
        await asyncio.to_thread(
            main, ["consent", "forget", "--config", str(path), "--channel", "webchat", "--address", visitor]
        )
        == 0
    )
    said = capsys.readouterr().out
    assert "2 row(s)" in said and visitor not in said
    assert await asyncio.to_thread(main, ["consent", "export", "--config", str(path)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_cli_errors_are_clear(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAY_CONFIG", raising=False)
    assert main(["consent", "export"]) == 2
    assert "--config: name the workspace config file" in capsys.readouterr().err
    path = tmp_path / "relay.toml"
    path.write_text(CONFIG.format(key=WORKSPACE_KEY, url="https://crm.example/h", secret=SINK_SECRET))
    assert main(["consent", "export", "--config", str(path)]) == 2
    assert "no ledger at" in capsys.readouterr().err
    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "consent.sqlite3").touch()
    assert main(["consent", "forget", "--config", str(path), "--channel", "telegram", "--address", "1"]) == 2
    assert "--channel: 'telegram' is neither" in capsys.readouterr().err
