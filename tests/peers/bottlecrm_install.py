"""BottleCRM's cached install (Python 3.12, venv, migrated SQLite template) and the peer basics other peers
share: the cache directory, its lock, a free port, PeerUnavailable."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.peers.common import PeerUnavailable, install_lock, peers_dir

VERSION = "1.35.0"
SECRET_KEY = "test-only-secret-key-0123456789abcdefghijklmnop"
SETTINGS_FILE = Path(__file__).with_name("peer_settings.py")


def _version_key(path: Path) -> tuple[int, ...]:
    nums = re.findall(r"\d+", path.parent.parent.name)
    return tuple(int(n) for n in nums)


def find_python312() -> Path:
    """The Python 3.12 interpreter BottleCRM needs: $RELAY_PY312, else pyenv's newest 3.12.x, else python3.12."""
    explicit = os.environ.get("RELAY_PY312")
    candidates: list[Path] = [Path(explicit)] if explicit else []
    roots = [os.environ.get("PYENV_ROOT", "")]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        roots.append(subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10).stdout.strip())
    roots.append(str(Path.home() / ".pyenv"))
    for root in filter(None, roots):
        candidates += sorted(Path(root).glob("versions/3.12.*/bin/python3"), key=_version_key, reverse=True)
    which = shutil.which("python3.12")
    if which:
        candidates.append(Path(which))
    for cand in candidates:
        if not cand.is_file():
            continue
        try:
            out = subprocess.run(
                [str(cand), "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if out == "True":
            return cand
    raise PeerUnavailable(
        "BottleCRM peer: no Python 3.12 interpreter found (django-crm 1.x requires Python >= 3.12). "
        "Install one with `pyenv install 3.12` or point RELAY_PY312 at a python3.12 binary."
    )


def venv_dir() -> Path:
    return peers_dir() / f"bottlecrm-{VERSION}-venv"


def template_path() -> Path:
    return peers_dir() / f"bottlecrm-{VERSION}.sqlite3"


def venv_python() -> Path:
    return venv_dir() / "bin" / "python"


def crm_env(rundir: Path, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTHON"))}
    env.update(
        PYTHONPATH=str(rundir),
        DJANGO_SETTINGS_MODULE="peer_settings",
        CRM_DB="sqlite",
        CRM_SQLITE=str(db),
        SECRET_KEY=SECRET_KEY,
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 900) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise PeerUnavailable(f"BottleCRM peer: `{' '.join(cmd[:4])} ...` failed ({proc.returncode}):\n{tail}")
    return proc.stdout


def _scratch(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    shutil.copy(SETTINGS_FILE, path / "peer_settings.py")
    return path


def install(log: Any = print) -> None:
    """Create the cached venv and the migrated template once; a no-op when both exist."""
    with install_lock("bottlecrm"):
        venv = venv_dir()
        marker = venv / ".relay-installed"
        if not marker.exists():
            python = find_python312()
            log(f"BottleCRM peer: creating {venv} with {python} and installing django-crm=={VERSION}")
            shutil.rmtree(venv, ignore_errors=True)
            _run([str(python), "-m", "venv", str(venv)])
            _run(
                [
                    str(venv_python()),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    f"django-crm=={VERSION}",
                ]
            )
            marker.write_text(VERSION + "\n")
        template = template_path()
        if not template.exists():
            log("BottleCRM peer: migrating a fresh SQLite template (about 90 s, once)")
            scratch = _scratch("bottlecrm-migrate-")
            try:
                db = scratch / "crm.sqlite3"
                _run([str(venv_python()), "-m", "django", "migrate", "-v0"], env=crm_env(scratch, db), cwd=scratch)
                tmp = template.with_suffix(".tmp")
                shutil.copy(db, tmp)
                os.replace(tmp, template)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
