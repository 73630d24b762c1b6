"""Where the workspace's configuration lives: the TOML file and the encrypted secrets file, written atomically,
the previous version kept for rollback (PostgreSQL for several replicas: relay/configstore_pg.py)."""

from __future__ import annotations

import asyncio
import copy
import os
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from relay import config
from relay.errors import ConfigError
from relay.secret import SecretsFileError, load_secrets, master_key, save_secrets, write_private

DEFAULT_SECRETS = "relay-secrets.json"


@dataclass(frozen=True, slots=True)
class Document:
    """One version of the configuration: the TOML document (secrets as ${NAME}) and the secret values."""

    raw: dict[str, Any]
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    version: str = ""

    def edited(self) -> dict[str, Any]:
        """A deep copy of the document to change."""
        return copy.deepcopy(self.raw)


Changed = Callable[[Document], Awaitable[None]]


class ConfigStore(Protocol):
    """Reads and writes the configuration, keeps the previous version, and says when another replica changed it."""

    source: str
    base: Path | None

    async def read(self) -> Document: ...

    async def write(self, doc: Document) -> Document: ...

    async def rollback(self) -> Document | None: ...

    async def has_previous(self) -> bool: ...

    async def watch(self, changed: Changed) -> None: ...

    async def close(self) -> None: ...


def load(store: ConfigStore, doc: Document) -> config.Loaded:
    """Validate a whole document as the relay would load it; ConfigError lists every problem."""
    return config.parse(doc.raw, store.source, store.base, dict(doc.secrets))


def toml_text(old_text: str, raw: Mapping[str, Any]) -> str:
    """`raw` as TOML, keeping the comments and layout of the sections of `old_text` it does not change."""
    import tomlkit  # only a console or CLI change writes TOML; `relay run` never pays for the import

    try:
        doc = tomlkit.parse(old_text)
    except Exception:
        doc = tomlkit.document()
    before = tomllib.loads(tomlkit.dumps(doc)) if doc else {}
    for key in [k for k in doc if k not in raw]:
        del doc[key]
    for key, value in raw.items():
        if before.get(key) != value:
            doc[key] = value
    return tomlkit.dumps(doc)


class FileStore:
    """The TOML file and the secrets file beside it; `<file>.prev` keeps the version before the last change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.source = str(path)
        self.base: Path | None = path.parent
        self._lock = asyncio.Lock()

    @property
    def previous_path(self) -> Path:
        return self.path.with_name(self.path.name + ".prev")

    def secrets_path(self, raw: Mapping[str, Any]) -> Path:
        """The secrets file the document names (workspace.secrets_file), else $RELAY_SECRETS_FILE, else the default."""
        workspace = raw.get("workspace")
        name = workspace.get("secrets_file") if isinstance(workspace, dict) else None
        name = name or os.environ.get("RELAY_SECRETS_FILE") or DEFAULT_SECRETS
        path = Path(str(name))
        return path if path.is_absolute() else self.path.parent / path

    def _read(self, path: Path) -> Document:
        try:
            data = path.read_bytes()
            raw = tomllib.loads(data.decode("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError([f"{path}: cannot read the config file ({type(exc).__name__})"]) from None
        secrets_at = self.secrets_path(raw)
        prev_secrets = secrets_at.with_name(secrets_at.name + ".prev")
        where = secrets_at if path == self.path else prev_secrets
        try:
            secrets = load_secrets(where, master_key()) if where.exists() else {}
        except SecretsFileError as exc:
            raise ConfigError([f"{self.source}: workspace.secrets_file: {exc}"]) from None
        return Document(raw, secrets, str(os.stat(path).st_mtime_ns))

    async def read(self) -> Document:
        return await asyncio.to_thread(self._read, self.path)

    def _write(self, doc: Document) -> Document:
        current = self._read(self.path)
        old_text = self.path.read_text(encoding="utf-8")
        mode = os.stat(self.path).st_mode & 0o777
        secrets_at = self.secrets_path(doc.raw)
        prev_secrets = secrets_at.with_name(secrets_at.name + ".prev")
        if current.secrets or dict(doc.secrets) != dict(current.secrets):
            master = master_key()
            save_secrets(prev_secrets, master, dict(current.secrets))
            if dict(doc.secrets) != dict(current.secrets):
                save_secrets(secrets_at, master, dict(doc.secrets))
        write_private(self.previous_path, old_text.encode("utf-8"), mode)
        write_private(self.path, toml_text(old_text, doc.raw).encode("utf-8"), mode)
        return self._read(self.path)

    async def write(self, doc: Document) -> Document:
        """Keep the current version as the previous one, then write `doc` (secrets first, each file atomically)."""
        async with self._lock:
            return await asyncio.to_thread(self._write, doc)

    async def has_previous(self) -> bool:
        return self.previous_path.exists()

    async def rollback(self) -> Document | None:
        """Make the previous version current again (and the current one previous); None if there is none."""
        async with self._lock:
            if not self.previous_path.exists():
                return None
            previous = await asyncio.to_thread(self._read, self.previous_path)
            return await asyncio.to_thread(self._write, previous)

    async def watch(self, changed: Changed) -> None:
        """One replica reads its own files: there is nobody else to hear from."""

    async def close(self) -> None:
        return None
