"""Files written since a moment, in every place a relay could write one: the test's own TMPDIR, the shared
temporary directories, shared memory and the working directory. Robust against other processes' files
coming and going while the walk runs (a busy machine): whatever vanishes is skipped."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

LARGEST = 5 << 20
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".hypothesis"}


def writable_roots() -> list[Path]:
    """Where a relay run by this test could leave a file."""
    found = [os.environ.get("TMPDIR", ""), tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm", os.getcwd()]
    roots: list[Path] = []
    for text in dict.fromkeys(found):
        path = Path(text) if text else None
        if path is not None and path.is_dir() and path.resolve() not in {r.resolve() for r in roots}:
            roots.append(path)
    return roots


def _walk(root: Path) -> Iterator[Path]:
    for directory, dirs, names in os.walk(root, onerror=lambda _exc: None, followlinks=False):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in names:
            yield Path(directory, name)


def recent_files(since: float, roots: list[Path] | None = None, exclude: Iterable[Path] = ()) -> list[Path]:
    """Regular files under `roots` (default: writable_roots()) modified at or after `since`, below 5 MiB,
    outside the `exclude` folders."""
    found: dict[Path, None] = {}
    skip = tuple(Path(p).resolve() for p in exclude)
    for root in roots if roots is not None else writable_roots():
        for path in _walk(root):
            if skip and any(path.resolve().is_relative_to(s) for s in skip):
                continue
            try:
                info = path.lstat()
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_mtime >= since and info.st_size < LARGEST:
                found[path.resolve()] = None
    return list(found)


def files_holding(since: float, needles: list[bytes], exclude: Iterable[Path] = ()) -> list[str]:
    """`path: needle` for each recent file holding one of `needles` (files that vanish are skipped)."""
    hits: list[str] = []
    for path in recent_files(since, exclude=exclude):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        hits += [f"{path}: {n!r}" for n in needles if n in data]
    return hits
