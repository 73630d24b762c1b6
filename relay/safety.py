"""Process hardening at start-up: no core dumps, so no message content can land on disk that way."""

from __future__ import annotations

import ctypes
import ctypes.util
import resource
import sys

PR_SET_DUMPABLE = 4


def disable_core_dumps() -> bool:
    """Set the core-file limit to zero and mark the process non-dumpable; True if both held."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    ok = resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)
    if sys.platform.startswith("linux"):
        libc_name = ctypes.util.find_library("c")
        if libc_name:
            libc = ctypes.CDLL(libc_name, use_errno=True)
            ok = libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 and ok
    return ok
