"""axe-core, the accessibility engine the browser tests inject into the pages: a pinned npm package
installed once into the peers cache.

Usage from the repository root:
    python -m tests.peers.axe install     # npm install axe-core (cached; a few seconds the first time)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.peers.common import install_lock, peers_dir

VERSION = "4.14.1"


class AxeUnavailable(RuntimeError):
    """axe-core cannot be installed here; the message says why and how to fix it."""


def script() -> Path:
    """Where axe.min.js of the pinned version lives once installed."""
    return peers_dir() / f"axe-core-{VERSION}" / "node_modules" / "axe-core" / "axe.min.js"


def install(log: object = print) -> Path:
    """Install the pinned axe-core with npm unless it is there already; return axe.min.js."""
    target = script()
    with install_lock("axe-core"):
        if target.is_file():
            return target
        npm = shutil.which("npm")
        if npm is None:
            raise AxeUnavailable("axe-core: npm is not installed (Debian: apt-get install npm)")
        prefix = target.parents[2]
        prefix.mkdir(parents=True, exist_ok=True)
        if callable(log):
            log(f"axe-core: installing {VERSION} into {prefix}")
        cmd = [npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(prefix), f"axe-core@{VERSION}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0 or not target.is_file():
            raise AxeUnavailable(
                f"axe-core: `npm install axe-core@{VERSION}` failed:\n{(proc.stdout + proc.stderr)[-2000:]}"
            )
    return target


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        raise SystemExit("usage: python -m tests.peers.axe install")
    try:
        print(f"axe-core {VERSION}: {install()}")
    except AxeUnavailable as exc:
        raise SystemExit(str(exc)) from None
