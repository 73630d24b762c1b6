"""BottleCRM (django-crm) as a real local test peer: cached install, migrated template, start/provision/stop.

Usage from the repository root:
    python -m tests.peers.bottlecrm install     # venv + migrated SQLite template (cached; ~2 min the first time)
    python -m tests.peers.bottlecrm run         # start one instance in the foreground, print its credentials
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = "1.35.0"
SECRET_KEY = "test-only-secret-key-0123456789abcdefghijklmnop"
SETTINGS_FILE = Path(__file__).with_name("peer_settings.py")
ADMIN_EMAIL = "agent@example.com"
RELAY_EMAIL = "relay-bot@example.com"


class PeerUnavailable(RuntimeError):
    """BottleCRM cannot be installed or started here; the message says why and how to fix it."""


def peers_dir() -> Path:
    return Path(os.environ.get("RELAY_PEERS_DIR") or Path.home() / ".cache" / "relay-peers")


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


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    base = peers_dir()
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f"{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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
    with _lock("bottlecrm"):
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Credentials:
    """What provisioning created: the agent's (admin) JWT bound to the org, the relay user's PAT and profile."""

    jwt: str
    refresh: str
    org_id: str
    pat: str
    profile_id: str
    agent_profile_id: str


@dataclass
class BottleCRM:
    """One running BottleCRM on 127.0.0.1, on a private copy of the migrated template."""

    port: int = 0
    rundir: Path = field(default_factory=lambda: Path())
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> BottleCRM:
        install()
        self.rundir = _scratch("bottlecrm-run-")
        shutil.copy(template_path(), self.rundir / "crm.sqlite3")
        self.port = self.port or free_port()
        cmd = [
            str(venv_python()),
            "-m",
            "gunicorn",
            "crm.wsgi:application",
            "--chdir",
            str(self.rundir),
            "-b",
            f"127.0.0.1:{self.port}",
            "-w",
            "1",
            "--threads",
            "8",
            "--timeout",
            "60",
            "--pid",
            str(self.rundir / "gunicorn.pid"),
        ]
        out = open(self.rundir / "gunicorn.log", "wb")  # noqa: SIM115
        with out:
            self.proc = subprocess.Popen(
                cmd,
                env=crm_env(self.rundir, self.rundir / "crm.sqlite3"),
                cwd=self.rundir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                log = (self.rundir / "gunicorn.log").read_text(errors="replace")[-3000:]
                self.stop()
                raise PeerUnavailable(f"BottleCRM peer: gunicorn exited ({self.proc.returncode}):\n{log}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.base_url}/healthz/", timeout=2) as r:
                if r.status == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise PeerUnavailable(f"BottleCRM peer: /healthz/ did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """Stop gunicorn by its PID and remove the scratch directory."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if self.rundir != Path() and self.rundir.exists():
            shutil.rmtree(self.rundir, ignore_errors=True)

    def manage(self, *args: str) -> str:
        env = crm_env(self.rundir, self.rundir / "crm.sqlite3")
        return _run([str(venv_python()), "-m", "django", *args], env=env, cwd=self.rundir, timeout=120)

    def api(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        """A blocking API call (setup only: never while the relay's event loop must answer a webhook)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        return status, (json.loads(raw) if raw else None)

    def provision(self, admin: str = ADMIN_EMAIL, relay_user: str = RELAY_EMAIL) -> Credentials:
        """Admin user + org (devlogin, /api/org/, switch-org); a second user for the relay, its PAT and profile."""
        out = self.manage("devlogin", admin, "--create")
        tokens = dict(re.findall(r"^(access_token|refresh_token):\s+(\S+)", out, re.M))
        status, org = self.api("POST", "/api/org/", tokens["access_token"], {"name": "Relay Test Org"})
        _expect(status, org, "creating the org")
        org_id = org["org"]["id"]
        status, switched = self.api(
            "POST",
            "/api/auth/switch-org/",
            tokens["access_token"],
            {"org_id": org_id, "refresh": tokens["refresh_token"]},
        )
        _expect(status, switched, "switch-org")
        jwt = switched["access_token"]
        status, body = self.api("POST", "/api/users/", jwt, {"email": relay_user, "role": "ADMIN"})
        _expect(status, body, "adding the relay user")
        out = self.manage("devlogin", relay_user, "--org", org_id)
        relay_jwt = dict(re.findall(r"^(access_token|refresh_token):\s+(\S+)", out, re.M))["access_token"]
        status, pat = self.api("POST", "/api/profile/tokens/", relay_jwt, {"name": "relay"})
        _expect(status, pat, "creating the API token")
        status, me = self.api("GET", "/api/profile/", pat["token"])
        _expect(status, me, "reading the relay profile")
        status, agent = self.api("GET", "/api/profile/", jwt)
        _expect(status, agent, "reading the agent profile")
        return Credentials(
            jwt,
            switched["refresh_token"],
            org_id,
            pat["token"],
            str(me["user_obj"]["id"]),
            str(agent["user_obj"]["id"]),
        )


def _expect(status: int, body: Any, what: str) -> None:
    if status not in (200, 201):
        raise PeerUnavailable(f"BottleCRM peer: {what} answered {status}: {str(body)[:300]}")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "install"
    try:
        if command == "install":
            install()
            print(f"BottleCRM peer ready: venv {venv_dir()}, template {template_path()}")
            return 0
        if command == "run":
            crm = BottleCRM(port=int(argv[1]) if len(argv) > 1 else 0).start()
            try:
                creds = crm.provision()
                print(json.dumps({"base_url": crm.base_url, **creds.__dict__}, indent=2), flush=True)
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
                signal.sigwait({signal.SIGINT, signal.SIGTERM})
            finally:
                crm.stop()
            return 0
    except PeerUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"unknown command {command!r}; use install or run", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
