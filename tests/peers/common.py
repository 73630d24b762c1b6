"""What every local test peer shares: the cache directory, a lock per install, a free port, and the error
that says a peer cannot run here."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path


class PeerUnavailable(RuntimeError):
    """A peer cannot be installed or started here; the message says why and how to fix it."""


def peers_dir() -> Path:
    return Path(os.environ.get("RELAY_PEERS_DIR") or Path.home() / ".cache" / "relay-peers")


@contextlib.contextmanager
def install_lock(name: str) -> Iterator[None]:
    """One installer of a peer at a time (tests run in parallel processes share the cache)."""
    base = peers_dir()
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f"{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
