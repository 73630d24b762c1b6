"""`relay host --workspaces DIR`: each workspace config in its own process, forked from a parent that imported once."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from relay import registry
from relay.host_child import EX_CONFIG, run_child, types_of
from relay.host_workspace import loop_factory
from relay.logs import setup_logging
from relay.safety import disable_core_dumps

log = logging.getLogger("relay.host")

SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}
POLL_SECONDS = 1.0
BACKOFF_MAX = 30.0
STEADY_SECONDS = 60.0
Stamp = tuple[int, int, int]


@dataclass
class Workspace:
    """One config file and the process serving it."""

    name: str
    path: Path
    stamp: Stamp
    pid: int | None = None
    started: float = 0.0
    failures: int = 0
    next_start: float = 0.0
    broken: bool = False
    removed: bool = False
    replace: bool = False


def scan(directory: Path) -> dict[str, tuple[Path, Stamp]] | None:
    """The workspace configs of the directory (`*.toml`, hidden files skipped) by name, with their version
    stamp; None when the directory cannot be read (then nothing is stopped on its account)."""
    found: dict[str, tuple[Path, Stamp]] = {}
    try:
        entries = sorted(p for p in directory.iterdir() if p.suffix == ".toml")
    except OSError:
        return None
    for path in entries:
        if path.name.startswith("."):
            continue
        try:
            st = path.stat()
        except OSError:
            continue
        found[path.stem] = (path, (st.st_mtime_ns, st.st_size, st.st_ino))
    return found


def backoff(failures: int) -> float:
    """Seconds before the next start after `failures` crashes in a row: 1, 2, 4 ... up to BACKOFF_MAX."""
    return float(min(BACKOFF_MAX, 2 ** max(0, failures - 1)))


class Host:
    """The parent: scans, forks, reaps, restarts; it never serves a request nor reads a secret."""

    def __init__(self, directory: Path, grace: float) -> None:
        self.directory, self.grace = directory, grace
        self.workspaces: dict[str, Workspace] = {}
        self.loaded_types: set[str] = set()
        self.unreadable = False

    def reconcile(self, now: float) -> None:
        """Follow the directory: start new configs, restart changed ones, stop removed ones."""
        found = scan(self.directory)
        if (found is None) != self.unreadable:
            self.unreadable = found is None
            state = "cannot be read; the workspaces keep running as they are" if found is None else "readable again"
            log.warning("relay host: %s %s", self.directory, state)
        if found is None:
            found = {ws.name: (ws.path, ws.stamp) for ws in self.workspaces.values() if not ws.removed}
        for name, ws in list(self.workspaces.items()):
            if ws.removed:
                continue
            if name not in found:
                ws.removed = True
                log.info("workspace %s: %s removed; stopping it", name, ws.path.name)
                if ws.pid is None:
                    del self.workspaces[name]
                else:
                    os.kill(ws.pid, signal.SIGTERM)
            elif found[name][1] != ws.stamp:
                ws.stamp, ws.broken, ws.failures, ws.next_start = found[name][1], False, 0, now
                log.info("workspace %s: %s changed; restarting it", name, ws.path.name)
                if ws.pid is not None:
                    ws.replace = True
                    os.kill(ws.pid, signal.SIGTERM)
        for name, (path, stamp) in found.items():
            if name not in self.workspaces:
                self.workspaces[name] = Workspace(name, path, stamp, next_start=now)
        for ws in list(self.workspaces.values()):
            if ws.pid is None and not ws.broken and not ws.removed and now >= ws.next_start:
                self.start(ws, now)

    def preload(self, path: Path) -> None:
        """Import the connector types a config names, here, so every child shares them; then freeze the heap."""
        fresh = [t for t in types_of(path) if t not in self.loaded_types]
        for type_name in fresh:
            try:
                registry.load(type_name)
            except Exception:
                log.warning("connector type %s could not be imported here; its workspace reports why", type_name)
            self.loaded_types.add(type_name)
        gc.collect()
        gc.freeze()

    def start(self, ws: Workspace, now: float) -> None:
        self.preload(ws.path)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            run_child(ws.path)
        ws.pid, ws.started, ws.replace = pid, now, False
        log.info("workspace %s: started from %s (pid %d)", ws.name, ws.path.name, pid)

    def reap(self, now: float) -> None:
        """Collect every exited child and decide what follows: nothing, a restart now, or one after a backoff."""
        while self.workspaces:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            ws = next((w for w in self.workspaces.values() if w.pid == pid), None)
            if ws is None:
                continue
            ws.pid = None
            code = os.waitstatus_to_exitcode(status)
            how = f"exit code {code}" if code >= 0 else f"signal {signal.Signals(-code).name}"
            if ws.removed:
                del self.workspaces[ws.name]
                log.info("workspace %s: stopped (%s)", ws.name, how)
            elif ws.replace:
                ws.next_start = now
            elif code == EX_CONFIG:
                ws.broken = True
                log.error(
                    "workspace %s: %s has problems (listed above); fix the file and it starts again; "
                    "the other workspaces keep serving",
                    ws.name,
                    ws.path,
                )
            else:
                ws.failures = 1 if now - ws.started >= STEADY_SECONDS else ws.failures + 1
                ws.next_start = now + backoff(ws.failures)
                log.warning("workspace %s: exited (%s); restarting in %.0f s", ws.name, how, backoff(ws.failures))

    def run(self) -> int:
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        log.info("relay host: serving the workspaces in %s (pid %d)", self.directory, os.getpid())
        self.reconcile(time.monotonic())
        while True:
            got = signal.sigtimedwait(SIGNALS, POLL_SECONDS)
            if got is not None and got.si_signo in (signal.SIGTERM, signal.SIGINT):
                return self.shutdown()
            if got is not None and got.si_signo == signal.SIGHUP:
                log.info("relay host: SIGHUP, scanning %s", self.directory)
            now = time.monotonic()
            self.reap(now)
            self.reconcile(now)

    def shutdown(self) -> int:
        """SIGTERM every child (each drains its work), wait up to the grace period, then SIGKILL what is left."""
        log.info("relay host: stopping %d workspace(s)", sum(1 for w in self.workspaces.values() if w.pid))
        for ws in self.workspaces.values():
            ws.removed = True
            if ws.pid is not None:
                os.kill(ws.pid, signal.SIGTERM)
        end = time.monotonic() + self.grace
        while any(w.pid for w in self.workspaces.values()) and time.monotonic() < end:
            signal.sigtimedwait({signal.SIGCHLD}, 0.2)
            self.reap(time.monotonic())
        for ws in self.workspaces.values():
            if ws.pid is not None:
                log.warning("workspace %s: still running after %.0f s; killed", ws.name, self.grace)
                os.kill(ws.pid, signal.SIGKILL)
                os.waitpid(ws.pid, 0)
        log.info("relay host: stopped")
        return 0


def run_host(directory: Path, grace: float) -> int:
    """`relay host`: import what every workspace shares, then supervise one child per config until SIGTERM."""
    disable_core_dumps()
    setup_logging("info", "text")
    if not directory.is_dir():
        print(
            f"relay host: {directory} is not a directory; pass --workspaces DIR with one *.toml per workspace",
            file=sys.stderr,
        )
        return 2
    loop_factory("uvloop")
    return Host(directory, grace).run()
