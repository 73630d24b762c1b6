"""No content at rest with relay replicas sharing Redis: logs at DEBUG, Redis keys and values, /tmp, core dumps."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bench.reliability.relays import redis_available
from bench.reliability.rig import Rig
from relay.logs import NOISY
from tests.privacy.common import (
    CONNECTORS,
    STATS,
    core_limit,
    email_of,
    phone_of,
    scan_files,
    scan_logs,
    scan_redis,
    secrets_of,
)

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(not redis_available(), reason="needs relay.state_redis and Redis"),
]


async def test_replicas_leave_no_content_in_logs_redis_or_files(canary: str) -> None:
    started = time.time()
    needles = secrets_of(canary)
    async with Rig(replicas=2, level="debug") as rig:
        source = rig.source()
        inbound = rig.inbound(8, text=lambda m: f"{canary} {m} call {phone_of(canary)} or {email_of(canary)}")
        await rig.traffic(source, inbound, rate=20)
        await rig.traffic(source, rig.answers(6, text=lambda m: f"answer {canary} {m}"), rate=20)
        assert source.gave_up == 0
        assert len(rig.crm.accepted()) >= 8 and all(canary in t for t in rig.bot.sent[-6:])
        keys, found = scan_redis(f"relay:{rig.workspace}:", needles)
        assert keys > 0, "no Redis keys under the workspace prefix: the replicas did not share state"
        assert found == []
        for relay in rig.relays:
            STATS["processes"] += 1
            assert core_limit(relay.pid) == ("0", "0")
            STATS["no_core_processes"] += 1
    CONNECTORS.update({"telegram (2 replicas, Redis)", "webhook (2 replicas, Redis)"})
    logs = rig.logs()
    assert rig.config()["logging"]["level"] == "debug"
    assert "message delivered" in logs
    assert scan_logs(logs, needles) == []
    assert scan_files(started, needles) == []
    assert set(NOISY) >= {"httpx", "telegram", "redis"}


def test_disable_core_dumps_makes_the_process_non_dumpable() -> None:
    code = (
        "import ctypes, ctypes.util, resource\n"
        "from relay.safety import disable_core_dumps\n"
        "assert disable_core_dumps()\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'))\n"
        "print(libc.prctl(3, 0, 0, 0, 0), resource.getrlimit(resource.RLIMIT_CORE))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "(0,", "0)"]
