"""The peer harness fails loudly (never skips) when Python 3.12 is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.peers import bottlecrm_install
from tests.peers.common import PeerUnavailable


def test_missing_python312_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RELAY_PY312", str(tmp_path / "nope"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PeerUnavailable, match=r"no Python 3\.12 interpreter"):
        bottlecrm_install.find_python312()


@pytest.mark.peer
def test_python312_is_found_here() -> None:
    assert bottlecrm_install.find_python312().is_file()
