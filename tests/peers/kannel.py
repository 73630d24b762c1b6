"""Kannel (Debian's `kannel` and `kannel-extras`) as a real test peer: bearerbox with a fake SMSC link, smsbox
with sendsms and an sms-service calling the relay, and `fakesmsc` as the handset side of the simulated SMS
centre. Everything listens on 127.0.0.1 ports chosen at start, lives in a temp dir, and writes no log file."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

from tests.peers.common import free_port

FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
_GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (.*)>$")


def missing() -> str | None:
    """Why Kannel cannot run here (None when it can)."""
    for binary in ("bearerbox", "smsbox"):
        if shutil.which(binary) is None:
            return f"{binary} not found: apt-get install kannel kannel-extras"
    if not Path(FAKESMSC).exists():
        return f"{FAKESMSC} not found: apt-get install kannel-extras"
    return None


def _wait_port(port: int, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:g} s")


class Proc:
    """A child process whose output is kept in memory (never in a file)."""

    def __init__(self, cmd: list[str], cwd: Path) -> None:
        self.popen = subprocess.Popen(
            cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip())

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(8)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._reader.join(5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


@dataclass
class Handset:
    """A phone on the simulated SMS centre: one `fakesmsc` connection that sent one text and prints what
    the gateway delivers to it."""

    proc: Proc

    def received(self) -> list[tuple[str, str, str]]:
        """(sender, receiver, text) of every SMS delivered to the handset side, in order; the parts of a
        concatenated SMS come one by one (`parts()` tells them apart)."""
        return [(sender, receiver, text) for sender, receiver, text, _ in self._messages()]

    def parts(self) -> list[str]:
        """The concatenation header (UDH, url-encoded) of each message received, "" when it had none."""
        return [udh for _, _, _, udh in self._messages()]

    def _messages(self) -> list[tuple[str, str, str, str]]:
        out = []
        for line in list(self.proc.lines):
            found = _GOT.search(line)
            if found is None:
                continue
            sender, receiver, rest = found.groups()
            udh = ""
            if rest.startswith("udh "):
                _, udh, rest = rest.split(" ", 2)
            kind, _, data = rest.partition(" ")
            if kind == "text":
                text = data
            else:
                raw = unquote_to_bytes(data.replace("+", "%20"))
                text = raw.decode("utf-16-be" if kind == "ucs-2" else "utf-8", "replace")
            out.append((sender, receiver, text, udh))
        return out


@dataclass
class Kannel:
    """One gateway. `mo_url` is the sms-service get-url; `retries` and `delay` are smsbox's
    http-request-retry and http-queue-delay."""

    mo_url: str
    retries: int = 0
    delay: int = 10
    ports: dict[str, int] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    handsets: list[Handset] = field(default_factory=list)
    username: str = "relay"
    password: str = "kannel-test-password-0123"

    def __post_init__(self) -> None:
        self.ports = {name: free_port() for name in ("admin", "box", "smsc", "sendsms")}
        self._dir = tempfile.TemporaryDirectory(prefix="relay-kannel-")
        self.dir = Path(self._dir.name)

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sendsms']}/cgi-bin/sendsms"

    def config(self) -> str:
        p = self.ports
        return f"""group = core
admin-port = {p["admin"]}
admin-interface = 127.0.0.1
admin-password = admin-{self.password}
admin-allow-ip = "127.0.0.1"
smsbox-port = {p["box"]}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {p["smsc"]}
our-host = 127.0.0.1
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {p["box"]}
sendsms-port = {p["sendsms"]}
sendsms-interface = 127.0.0.1
mo-recode = true
http-request-retry = {self.retries}
http-queue-delay = {self.delay}
reply-couldnotfetch = ""
reply-emptymessage = ""

group = sendsms-user
username = {self.username}
password = {self.password}
concatenation = true
max-messages = 10

group = sms-service
keyword = default
catch-all = true
get-url = "{self.mo_url}?from=%p&to=%P&text=%b&id=%I&time=%T"
max-messages = 0
omit-empty = true
"""

    def start(self) -> None:
        conf = self.dir / "kannel.conf"
        conf.write_text(self.config(), encoding="utf-8")
        self.procs.append(Proc(["bearerbox", "-v", "1", str(conf)], self.dir))
        _wait_port(self.ports["smsc"])
        self.procs.append(Proc(["smsbox", "-v", "1", str(conf)], self.dir))
        _wait_port(self.ports["sendsms"])

    def text(self, sender: str, receiver: str, body: str) -> Handset:
        """A handset sends one SMS and stays connected for the answers (an earlier handset hangs up)."""
        for handset in self.handsets:
            handset.proc.stop()
        kind, data = ("text", body) if body.isascii() and "\n" not in body else ("ucs2", "")
        if kind == "ucs2":
            data = quote(body.encode("utf-16-be"), safe="")
        cmd = [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.ports["smsc"]), "-m", "1", "-i", "0.1"]
        handset = Handset(Proc([*cmd, f"{sender} {receiver} {kind} {data}"], self.dir))
        self.handsets.append(handset)
        return handset

    def stop(self) -> None:
        for proc in [*(h.proc for h in self.handsets), *reversed(self.procs)]:
            proc.stop()
        self._dir.cleanup()

    def log(self) -> str:
        return "\n".join(line for proc in self.procs for line in proc.lines[-40:])
