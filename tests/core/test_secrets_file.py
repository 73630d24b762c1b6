"""The secrets file is written through a fresh private temporary file: never a leftover, never a symlink."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from relay.secret import load_secrets, save_secrets

MASTER = "a-master-key-for-tests-0123456789"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_symlink_at_the_old_temporary_name_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "relay-secrets.json"
    (tmp_path / "relay-secrets.json.tmp").symlink_to(victim)
    save_secrets(target, MASTER, {"CRM_SECRET": "value-0123456789"})
    assert victim.read_text() == "keep me"
    assert not target.is_symlink() and _mode(target) == 0o600
    assert load_secrets(target, MASTER) == {"CRM_SECRET": "value-0123456789"}


def test_a_leftover_world_readable_file_does_not_lend_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "relay-secrets.json"
    leftover = tmp_path / "relay-secrets.json.tmp"
    leftover.write_text("stale")
    os.chmod(leftover, 0o644)
    target.write_text("{}")
    os.chmod(target, 0o644)
    save_secrets(target, MASTER, {"A": "value-0123456789"})
    assert _mode(target) == 0o600
    assert load_secrets(target, MASTER) == {"A": "value-0123456789"}


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "relay-secrets.json"

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        save_secrets(target, MASTER, {"A": "value-0123456789"})
    assert list(tmp_path.iterdir()) == []
