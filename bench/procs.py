"""Child processes pinned to a core, with their CPU and memory read from /proc."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence

PYTHON = sys.executable
TASKSET = "/usr/bin/taskset"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """An ephemeral TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from its own accounting."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid: int, key: str) -> int:
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def reset_hwm(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs); False if not permitted."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Proc:
    """A child process pinned to one core; its last output lines are kept in memory for errors."""

    def __init__(self, name: str, argv: Sequence[str], core: int | None, pass_fds: Sequence[int] = ()) -> None:
        self.name = name
        cmd = [TASKSET, "-c", str(core), *argv] if core is not None else list(argv)
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self.popen = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=tuple(pass_fds),
        )
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _drain(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            self.tail.append(raw.decode("utf-8", "replace").rstrip())

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss_kib(self) -> int:
        return status_kib(self.pid, "VmRSS")

    def hwm_kib(self) -> int:
        return status_kib(self.pid, "VmHWM")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        """Poll a URL until it answers 200, or fail with the process's last output."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.alive():
                break
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        lines = "\n  ".join(self.tail) or "(no output)"
        raise RuntimeError(f"{self.name} did not become ready at {url} (exit {self.popen.poll()}):\n  {lines}")

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; this process only."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(timeout=2)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
