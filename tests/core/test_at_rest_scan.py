"""The no-content scans: each test has its own TMPDIR, and a directory vanishing mid-walk is skipped."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.privacy.common import recent_files, scan_files


def test_each_test_has_its_own_tmpdir(tmp_path: Path) -> None:
    own = Path(os.environ["TMPDIR"])
    assert own.is_dir() and list(own.iterdir()) == []
    assert own.resolve() not in (Path("/tmp").resolve(), Path("/var/tmp").resolve())
    assert Path(tempfile.gettempdir()) == own
    with tempfile.NamedTemporaryFile(delete=False) as fh:
        assert Path(fh.name).parent == own


def test_a_directory_vanishing_during_the_scan_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(os.environ.get("TMPDIR") or tempfile.mkdtemp())
    monkeypatch.setenv("TMPDIR", str(root))
    since = time.time() - 1
    kept = root / "kept"
    kept.mkdir()
    (kept / "written.txt").write_text("CANARY-vanishing-test")
    doomed = root / "other-process" / "deep"
    doomed.mkdir(parents=True)
    (doomed / "file").write_text("x")
    real_scandir = os.scandir

    def vanishing(path: Any = ".") -> Any:
        if not isinstance(path, int) and Path(os.fsdecode(path)) == doomed:
            shutil.rmtree(doomed.parent)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", vanishing)
    assert kept / "written.txt" in recent_files(since)
    assert not doomed.exists()
    doomed.mkdir(parents=True)
    found = scan_files(since, ["CANARY-vanishing-test"])
    assert len(found) == 1 and "written.txt" in found[0]
