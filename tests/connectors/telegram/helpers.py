"""Shared helpers for the Telegram tests: payload fixtures, workspaces and the fake server."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from tests.conftest import workspace
from tests.connectors.telegram.fake_api import SECRET, TOKEN

PAYLOADS = Path(__file__).parent / "payloads"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
INBOX_KEY = "inbox-test-key-123456"
INBOX_AUTH = {"Authorization": f"Bearer {INBOX_KEY}"}


def payload(name: str, **changes: Any) -> dict[str, Any]:
    """A recorded-shape update; top-level keys can be replaced."""
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    data.update(copy.deepcopy(changes))
    return data


def tg_config(api: str, **extra: Any) -> dict[str, Any]:
    """A telegram connector config pointed at the fake at `api` (its root URL)."""
    base = api.rstrip("/")
    return {
        "type": "telegram",
        "token": TOKEN,
        "mode": "webhook",
        "secret_token": SECRET,
        "api_base_url": f"{base}/bot",
        "poll_timeout": 1,
        "poll_retry_pause": 0.1,
        **extra,
    }


def to_crm(api: str, crm_url: str, tg: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """Workspace: telegram -> webhook CRM at crm_url."""
    from tests.support.crm_sink import SINK_SECRET

    return workspace(
        {"tg": tg_config(api, **(tg or {})), "crm": {"type": "webhook", "url": crm_url, "secret": SINK_SECRET}},
        [{"from": ["tg"], "to": "crm"}],
        **extra,
    )


def to_inbox(api: str, tg: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """Workspace: telegram -> in-memory inbox."""
    return workspace(
        {"tg": tg_config(api, **(tg or {})), "inbox": {"type": "inbox", "access_key": INBOX_KEY}},
        [{"from": ["tg"], "to": "inbox"}],
        **extra,
    )


class WriteAudit:
    """Records files opened for writing while switched on (audit hooks cannot be removed)."""

    installed: WriteAudit | None = None

    def __init__(self) -> None:
        self.on = False
        self.writes: list[str] = []

    @classmethod
    def get(cls) -> WriteAudit:
        if cls.installed is None:
            audit = cls()
            sys.addaudithook(audit.hook)
            cls.installed = audit
        cls.installed.writes.clear()
        return cls.installed

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.on:
            return
        mode = args[1] if event == "open" and len(args) > 1 else None
        flags = args[2] if event == "open" and len(args) > 2 else None
        writing = isinstance(mode, str) and any(c in mode for c in "wax+")
        writing = writing or (isinstance(flags, int) and bool(flags & 0o3))
        if writing or event in ("tempfile.mkstemp", "tempfile.mkdtemp"):
            self.writes.append(str(args[0]))
