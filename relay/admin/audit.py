"""The admin audit log as an append-only JSON-lines file: one writer, each entry synced before it counts."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from relay.admin.principal import Principal

_KEY = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,128}$")
_ACTION = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")


def _append(path: Path, line: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def writable_problem(path: Path) -> str | None:
    """Why entries cannot be appended at `path` (its directory is created if missing); None when they can."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            found.append(entry)
    return found


def matches(entry: dict[str, Any], text: str) -> bool:
    """Whether an entry's action, subject, role, method, outcome, address or keys contain `text`."""
    if not text:
        return True
    fields = [entry.get(k) for k in ("action", "subject", "role", "method", "outcome", "address")]
    hay = " ".join(str(f) for f in fields if f) + " " + " ".join(str(k) for k in entry.get("keys") or [])
    return text.lower() in hay.lower()


def make_entry(
    action: str, who: Principal | None, address: str | None, keys: Sequence[str], outcome: str
) -> dict[str, Any]:
    """One audit entry; an action, outcome or key that does not look like a name is recorded as `?`, never as given."""
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "action": action if _ACTION.match(action) else "?",
        "outcome": outcome if _ACTION.match(outcome) else "?",
        "subject": who.subject if who else None,
        "role": who.role.name.lower() if who else None,
        "method": who.method if who else None,
        "address": address,
        "keys": [k if _KEY.match(k) else "?" for k in keys],
    }


class FileAudit:
    """Audit entries appended to a JSON-lines file (mode 0600); key names only, values never reach it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def record(
        self,
        action: str,
        who: Principal | None,
        address: str | None,
        keys: Sequence[str] = (),
        outcome: str = "ok",
    ) -> None:
        """Append one entry (see `make_entry`)."""
        line = (json.dumps(make_entry(action, who, address, keys, outcome), separators=(",", ":")) + "\n").encode()
        async with self._lock:
            try:
                await asyncio.to_thread(_append, self.path, line)
            except OSError:
                raise web.HTTPServiceUnavailable(text="the audit log cannot be written; nothing was done") from None

    async def entries(self, text: str = "", limit: int | None = 500) -> list[dict[str, Any]]:
        """Entries containing `text`, newest first (at most `limit`)."""
        async with self._lock:
            found = await asyncio.to_thread(_read, self.path)
        chosen = [e for e in reversed(found) if matches(e, text)]
        return chosen if limit is None else chosen[:limit]
