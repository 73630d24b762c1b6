"""A real SIP side for call events, from Debian's packages: Kamailio (`kamailio`, `kamailio-utils-modules` for
http_client, `kamailio-tls-modules` for crypto) as the business's SIP proxy that posts signed call events, and
SIPp (`sip-tester`) as the desk phones and the calling customer. Signalling only, on 127.0.0.1 UDP ports."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.peers.common import free_port
from tests.peers.kannel import Proc

HERE = Path(__file__).parent / "sip"
MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
BUSY_NUMBER = "200"
DESK_NUMBER = "100"


def missing() -> str | None:
    """Why the SIP peer cannot run here (None when it can)."""
    if shutil.which("kamailio") is None:
        return "kamailio not found: apt-get install kamailio kamailio-utils-modules kamailio-tls-modules"
    if shutil.which("sipp") is None:
        return "sipp not found: apt-get install sip-tester"
    for module, package in (("http_client.so", "kamailio-utils-modules"), ("crypto.so", "kamailio-tls-modules")):
        if not (MODULES / module).exists():
            return f"Kamailio's {module} not found: apt-get install {package}"
    return None


def _free_udp() -> int:
    return free_port()


@dataclass
class SipPeer:
    """Kamailio posting call events to `events_url`, signed with `secret`, and two desk phones behind it."""

    events_url: str
    secret: str
    ports: dict[str, int] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ports = {name: _free_udp() for name in ("sip", "answer", "busy", "caller")}
        self._dir = tempfile.TemporaryDirectory(prefix="relay-sip-")
        self.dir = Path(self._dir.name)

    def start(self) -> None:
        text = (HERE / "kamailio.cfg.in").read_text(encoding="utf-8")
        for key, value in {
            "SIP_PORT": self.ports["sip"],
            "ANSWER_PORT": self.ports["answer"],
            "BUSY_PORT": self.ports["busy"],
            "BUSY_NUMBER": BUSY_NUMBER,
            "SECRET": self.secret,
            "EVENTS_URL": self.events_url,
        }.items():
            text = text.replace(f"@{key}@", str(value))
        cfg = self.dir / "kamailio.cfg"
        cfg.write_text(text, encoding="utf-8")
        check = subprocess.run(["kamailio", "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"kamailio refused the config:\n{check.stdout[-2000:]}{check.stderr[-2000:]}")
        kamailio = ["kamailio", "-f", str(cfg), "-DD", "-E", "-P", str(self.dir / "kamailio.pid"), "-Y", str(self.dir)]
        self.procs.append(Proc(kamailio, self.dir))
        for name, scenario in (("answer", "uas_answer.xml"), ("busy", "uas_busy.xml")):
            phone = ["sipp", "-sf", str(HERE / scenario), "-i", "127.0.0.1", "-p", str(self.ports[name])]
            self.procs.append(Proc([*phone, "-nostdin"], self.dir))
        time.sleep(1.0)
        for proc in self.procs:
            if proc.popen.poll() is not None:
                raise RuntimeError("a SIP peer process exited at start:\n" + "\n".join(proc.lines[-20:]))

    def call(self, caller: str, number: str, hold_ms: int = 1500, timeout: float = 30.0) -> int:
        """The customer calls `number` from `caller` and hangs up after `hold_ms` if answered; SIPp's exit code
        (0: the scenario ran to its end)."""
        cmd = [
            "sipp", "-sf", str(HERE / "uac_call.xml"), "-s", number, "-key", "caller", caller,
            "-d", str(hold_ms), "-i", "127.0.0.1", "-p", str(self.ports["caller"]), "-m", "1",
            "-timeout", f"{int(timeout)}", "-nostdin", f"127.0.0.1:{self.ports['sip']}",
        ]  # fmt: skip
        done = subprocess.run(cmd, cwd=self.dir, capture_output=True, timeout=timeout + 10)
        return done.returncode

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self._dir.cleanup()

    def log(self) -> str:
        return "\n".join(line for proc in self.procs for line in proc.lines[-30:])
