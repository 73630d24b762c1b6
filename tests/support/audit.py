"""A process-wide audit hook that records files opened for writing while it is switched on."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class _Recorder:
    def __init__(self) -> None:
        self.active = False
        self.writes: list[str] = []

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active or event not in ("open", "os.mkstemp", "tempfile.mkstemp", "tempfile.mkdtemp"):
            return
        if event != "open":
            self.writes.append(f"{event}:{args[0] if args else ''}")
            return
        path, mode, flags = ([*list(args), None, None, None])[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if writing and not (isinstance(path, int)):
            self.writes.append(str(path))


_RECORDER = _Recorder()
sys.addaudithook(_RECORDER.hook)


@contextmanager
def no_file_writes() -> Iterator[list[str]]:
    """Record every file opened for writing inside the block; the caller asserts the list is empty."""
    sys.dont_write_bytecode = True
    _RECORDER.writes = []
    _RECORDER.active = True
    try:
        yield _RECORDER.writes
    finally:
        _RECORDER.active = False
