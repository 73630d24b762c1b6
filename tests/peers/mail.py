"""Real mail servers as a local test peer: Dovecot (IMAP with STARTTLS and implicit TLS, LMTP delivery)
and an aiosmtpd submission server in its own process, under a scratch directory on high loopback ports.

Usage from the repository root:
    python -m tests.peers.mail install   # the Debian packages (dovecot-imapd, dovecot-lmtpd), as root
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOVECOT = Path("/usr/sbin/dovecot")
PROGRAMS = {"dovecot-imapd": Path("/usr/lib/dovecot/imap"), "dovecot-lmtpd": Path("/usr/lib/dovecot/lmtp")}
USERS = {"support": "support-pass-0123", "customer": "customer-pass-0123"}
DOMAIN = {"support": "example.com", "customer": "example.org"}

CONF = """protocols = imap lmtp
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{root}/tls/cert.pem
ssl_key = <{root}/tls/key.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
mail_location = maildir:{root}/mail/%n
first_valid_uid = 8
first_valid_gid = 8
postmaster_address = postmaster@example.com
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {root}/users
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={root}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


class PeerUnavailable(RuntimeError):
    """The mail servers cannot run here; the message says why and how to fix it."""


def missing() -> list[str]:
    """The Debian packages the mail peer needs that are not installed."""
    need = [] if DOVECOT.exists() else ["dovecot-imapd"]
    return sorted({*need, *(pkg for pkg, path in PROGRAMS.items() if not path.exists())})


def install() -> None:
    """Install the missing Debian packages (as root); the image's policy keeps a system Dovecot from starting."""
    need = missing()
    if not need:
        return
    if os.geteuid() != 0:
        raise PeerUnavailable(f"mail peer: run as root or `apt-get install {' '.join(need)}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *need], check=True, env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def certificate(directory: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 and localhost (cert.pem, key.pem); returns the CA file."""
    key = ec.generate_private_key(ec.SECP256R1())
    # a name of its own: a process that trusts several of these must not confuse them
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"relay-test-{os.urandom(6).hex()}")])
    now = dt.datetime.now(dt.UTC)
    alt = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=2))
        .add_extension(alt, False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (directory / "key.pem").write_bytes(pem)
    return directory / "cert.pem"


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise PeerUnavailable(f"mail peer: {what} exited ({proc.returncode}):\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise PeerUnavailable(f"mail peer: {what} did not listen on {port} within {timeout:.0f} s:\n{_tail(log)}")


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-2000:]
    return "(no log)"


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class MailPeer:
    """Dovecot and the SMTP server for one test: mailboxes `support` (the relay's) and `customer`."""

    root: Path = field(default_factory=Path)
    imap: int = 0
    imaps: int = 0
    lmtp: int = 0
    submission: int = 0
    smtps: int = 0
    ca_file: Path = field(default_factory=Path)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def address(self, user: str) -> str:
        return f"{user}@{DOMAIN[user]}"

    def start(self) -> MailPeer:
        need = missing()
        if need:
            raise PeerUnavailable(
                f"mail peer: Debian packages missing: {' '.join(need)} (python -m tests.peers.mail install)"
            )
        self.root = Path(tempfile.mkdtemp(prefix="relay-mailpeer-", dir="/tmp"))  # the mail user must reach it
        self.root.chmod(0o755)
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir()
        for sub in ("mail", "home"):
            shutil.chown(self.root / sub, "mail", "mail")
        self.ca_file = certificate(self.root / "tls")
        users = self.root / "users"
        users.write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in USERS.items()))
        self.imap, self.imaps, self.lmtp, self.submission, self.smtps = (free_port() for _ in range(5))
        conf = self.root / "dovecot.conf"
        conf.write_text(CONF.format(root=self.root, imap=self.imap, imaps=self.imaps, lmtp=self.lmtp))
        try:
            self._spawn([str(DOVECOT), "-F", "-c", str(conf)], "dovecot.out", self.imap, "dovecot")
            self._wait(self.imaps, "dovecot")
            self._wait(self.lmtp, "dovecot")
            tls = self.root / "tls"
            args = [str(self.submission), str(self.smtps), str(tls / "cert.pem"), str(tls / "key.pem"), str(self.lmtp)]
            cmd = [sys.executable, "-m", "tests.peers.smtpd", *args, str(users)]
            self._spawn(cmd, "smtpd.out", self.submission, "smtp server")
            self._wait(self.smtps, "smtp server")
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, cmd: list[str], log: str, port: int, what: str) -> None:
        out = open(self.root / log, "wb")  # noqa: SIM115
        with out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=Path.cwd())
        self.procs.append(proc)
        _wait_port(port, proc, what, self.root / log)

    def _wait(self, port: int, what: str) -> None:
        _wait_port(port, self.procs[-1], what, self.root / "dovecot.log")

    def stop(self) -> None:
        """Stop both servers by their PIDs and remove the scratch directory (their mail storage)."""
        for proc in reversed(self.procs):
            _stop(proc)
        self.procs.clear()
        if self.root != Path() and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)


def main(argv: list[str]) -> int:
    if (argv or ["install"])[0] != "install":
        print("usage: python -m tests.peers.mail install", file=sys.stderr)
        return 2
    try:
        install()
    except (PeerUnavailable, subprocess.CalledProcessError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print("mail peer ready: Dovecot IMAP and LMTP installed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
