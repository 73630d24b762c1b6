"""BottleCRM (django-crm) as a real local test peer: start, provision, stop (the cached install is in
bottlecrm_install).

Usage from the repository root:
    python -m tests.peers.bottlecrm install     # venv + migrated SQLite template (cached; ~2 min the first time)
    python -m tests.peers.bottlecrm run         # start one instance in the foreground, print its credentials
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peers.bottlecrm_install import _run, _scratch, crm_env, install, template_path, venv_dir, venv_python
from tests.peers.common import PeerUnavailable, free_port

ADMIN_EMAIL = "agent@example.com"
RELAY_EMAIL = "relay-bot@example.com"


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
