"""What runs after `relay host` forks: one workspace's process, and the short-lived reader of a config's types."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import tomllib
from pathlib import Path
from typing import NoReturn

from relay import config as config_mod
from relay.consent_setup import DATA_DIR_ENV
from relay.errors import ConfigError
from relay.host_workspace import run_workspace
from relay.secret import SecretsFileError

EX_CONFIG = 78
PR_SET_PDEATHSIG = 1
TYPES_MAX_BYTES = 4096


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this child when the host dies, so no workspace outlives its supervisor."""
    name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and name:
        ctypes.CDLL(name, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def own_data_dir(path: Path) -> None:
    """Give the workspace its own data directory (the consent ledger's default place): $RELAY_DATA_DIR/<name>,
    else relay-data/<name> beside the configs; a `consent.path` in the config still wins."""
    base = os.environ.get(DATA_DIR_ENV)
    os.environ[DATA_DIR_ENV] = str(Path(base) / path.stem if base else path.parent / "relay-data" / path.stem)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_child(path: Path) -> NoReturn:
    """Load and serve one workspace in this forked process; exit 78 when its configuration is at fault."""
    code = 1
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        _die_with_parent()
        own_data_dir(path)
        loaded = config_mod.load(path)
        server = loaded.relay.server
        code = run_workspace(loaded, server.host, server.port, str(path), workspace=path.stem)
    except ConfigError as exc:
        _say(f"relay host: {path}: configuration has {len(exc.problems)} problem(s):")
        for problem in exc.problems:
            _say(f"  - {problem}")
        code = EX_CONFIG
    except SecretsFileError as exc:
        _say(f"relay host: {path}: {exc}")
        code = EX_CONFIG
    except OSError as exc:
        _say(f"relay host: {path}: {exc.strerror or type(exc).__name__}")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:
        _say(f"relay host: {path}: the workspace stopped on {type(exc).__name__}")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _read_types(path: Path) -> bytes:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    connectors = raw.get("connectors")
    found = set()
    if isinstance(connectors, dict):
        for section in connectors.values():
            if isinstance(section, dict) and isinstance(section.get("type"), str):
                found.add(section["type"])
    return "\n".join(sorted(found)).encode()[:TYPES_MAX_BYTES]


def types_of(path: Path) -> list[str]:
    """The connector types a config names, read in a forked process so that no value of the file (a
    literal key, say) is ever in the parent's memory, which every later workspace would inherit."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            os.write(w, _read_types(path))
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    with os.fdopen(r, "rb") as reader:
        chunks.append(reader.read(TYPES_MAX_BYTES))
    os.waitpid(pid, 0)
    return [t for t in b"".join(chunks).decode("utf-8", "replace").split("\n") if t]
