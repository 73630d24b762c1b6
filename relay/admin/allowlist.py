"""The workspace allowlist: which connector types the owner lets anyone configure."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from relay.secret import write_private

FILE_NAME = "allowed-types.json"
STORED = "the stored configuration (workspace.allowed_types)"
DATA_DIR_ENV = "RELAY_DATA_DIR"


def data_dir(base: Path | None) -> Path | None:
    """Where the console keeps its files: $RELAY_DATA_DIR, else relay-data/ next to the config file."""
    found = os.environ.get(DATA_DIR_ENV)
    if found:
        return Path(found)
    return base / "relay-data" if base is not None else None


def file_allowlist(base: Path | None) -> list[str] | None:
    """The allowlist the owner saved in the console (in the data directory), or None when there is none."""
    directory = data_dir(base)
    if directory is None:
        return None
    try:
        doc = json.loads((directory / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    types = doc.get("allowed_types") if isinstance(doc, dict) else None
    return [str(t) for t in types] if isinstance(types, list) else None


def effective(raw: Mapping[str, Any], saved: list[str] | None) -> tuple[list[str] | None, str]:
    """The allowlist in force and where it comes from: workspace.allowed_types in the file wins."""
    workspace = raw.get("workspace")
    pinned = workspace.get("allowed_types") if isinstance(workspace, dict) else None
    if isinstance(pinned, list):
        return [str(t) for t in pinned], "workspace.allowed_types"
    return saved, FILE_NAME


def refused_type(kind: str, allowed: list[str] | None, where: str) -> str | None:
    """Why the allowlist in force (from effective()) refuses a connector of this type; None when it permits it."""
    if allowed is None or kind in allowed:
        return None
    return (
        f"connector type '{kind}' is not allowed in this workspace ({where} allows {', '.join(allowed) or 'none'}); "
        "ask the workspace owner to allow it on /admin/allowlist"
    )


def disallowed(raw: Mapping[str, Any], saved: list[str] | None) -> list[str]:
    """One problem per connector whose type the workspace allowlist does not permit."""
    allowed, where = effective(raw, saved)
    connectors = raw.get("connectors")
    if allowed is None or not isinstance(connectors, dict):
        return []
    problems = []
    for name, body in connectors.items():
        kind = body.get("type") if isinstance(body, dict) else None
        why = refused_type(kind, allowed, where) if isinstance(kind, str) else None
        if why is not None:
            problems.append(f"connectors.{name}.type: {why} or remove this connector")
    return problems


class Allowlist:
    """The allowlist as the console sees and changes it; the config file's own list cannot be overridden."""

    def __init__(self, base: Path | None, pinned: list[str] | None, configured: Mapping[str, str]) -> None:
        self.base = base
        self._allowed, self._source = effective({"workspace": {"allowed_types": pinned}}, file_allowlist(base))
        self.configured: Callable[[], Mapping[str, str]] = lambda: dict(configured)
        self._kept: tuple[Callable[[], list[str] | None], Callable[[list[str]], Awaitable[str | None]]] | None = None

    def follow(self, configured: Callable[[], Mapping[str, str]]) -> None:
        """Check a new allowlist against the connectors running now (instance name to type), not at start."""
        self.configured = configured

    def keep_in_document(
        self, current: Callable[[], list[str] | None], store: Callable[[list[str]], Awaitable[str | None]]
    ) -> None:
        """Keep the list as workspace.allowed_types of the stored configuration every replica loads (the
        PostgreSQL config store, where no operator's file pins it): `current` reads it, `store` saves a version."""
        self._kept = (current, store)

    @property
    def allowed(self) -> list[str] | None:
        return self._kept[0]() if self._kept else self._allowed

    @property
    def source(self) -> str:
        return STORED if self._kept else self._source

    @property
    def pinned(self) -> bool:
        """True when the config file sets workspace.allowed_types, so the console cannot change it."""
        return self.source == "workspace.allowed_types"

    def permits(self, kind: str) -> bool:
        """Whether a connector of this type may be configured."""
        return refused_type(kind, self.allowed, self.source) is None

    def refusal(self, types: list[str]) -> str | None:
        """Why this allowlist cannot be saved (a configured connector would fall outside it); None if it can."""
        if self.pinned:
            return "the config file sets workspace.allowed_types; change it there"
        if self._kept is None and data_dir(self.base) is None:
            return "this workspace runs without a config directory; set workspace.allowed_types in a config file"
        left_out = sorted(f"{name} ({kind})" for name, kind in self.configured().items() if kind not in types)
        if left_out:
            return f"connectors still configured with a type left out: {', '.join(left_out)}; remove them first"
        return None

    async def save(self, types: list[str]) -> str | None:
        """Store the owner's choice (atomically in the data directory, or as a new version of the stored
        configuration); the problem when it cannot be stored."""
        if self._kept is not None:
            return await self._kept[1](sorted(types))
        directory = data_dir(self.base)
        assert directory is not None, "refusal() said so"
        data = json.dumps({"allowed_types": sorted(types)}, indent=1).encode()
        try:
            await asyncio.to_thread(_save, directory, data)
        except OSError as exc:
            return f"cannot write {directory / FILE_NAME} ({exc.strerror}); make {DATA_DIR_ENV} a writable directory"
        self._allowed, self._source = sorted(types), FILE_NAME
        return None


def _save(directory: Path, data: bytes) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(directory / FILE_NAME, data)
