"""The benchmark's memory, start-up and Node-RED figures are reported and judged as the issue sets them."""

from __future__ import annotations

from typing import Any

from bench import hosting, peer


def results(per_child: float, ready: float, nodered_speed: float) -> dict[str, Any]:
    rows = [
        {
            "n": n,
            "pss_total_mib": 50 + per_child * n,
            "pss_per_workspace_mib": (50 + per_child * n) / n,
            "parent_pss_mib": 30.0,
            "child_pss_mib": per_child,
            "child_rss_mib": 57.0,
            "all_ready_s": 1.0,
            "added_ready_s": ready,
        }
        for n in (1, 4, 16)
    ]
    relay = {"msgs_per_s": 4000.0, "cpu_us_per_msg": 200.0}
    nodered = {"msgs_per_s": 4000.0 / nodered_speed, "cpu_us_per_msg": 1000.0, "rss_mib": 190.0}
    return {
        "startup": {"seconds": 0.6, "all_seconds": [0.6], "idle_rss_mib": 69.0},
        "host_memory": {
            "rows": rows,
            "pss_per_additional_mib": (rows[-1]["pss_total_mib"] - rows[0]["pss_total_mib"]) / 15,
        },
        "nodered": {"skipped": None},
        "summary": {"16": {"relay": relay, "nodered": nodered}},
    }


def verdicts(res: dict[str, Any]) -> dict[str, bool]:
    return {t["target"]: t["met"] for t in hosting.targets(res) + peer.targets(res)}


def test_targets_follow_the_figures() -> None:
    good = verdicts(results(per_child=14.0, ready=0.15, nodered_speed=5.0))
    assert good == {
        "PSS per additional workspace (relay host)": True,
        "idle RSS, Telegram + webhook": False,
        "ready, relay run (s)": False,
        "ready, a workspace added to relay host (s)": True,
        "throughput vs Node-RED c=16": True,
        "CPU per message vs Node-RED c=16": True,
    }
    bad = verdicts(results(per_child=25.0, ready=0.5, nodered_speed=2.0))
    assert not bad["PSS per additional workspace (relay host)"] and not bad["throughput vs Node-RED c=16"]
    assert not bad["ready, a workspace added to relay host (s)"]


def test_lines_say_what_was_measured_or_why_not() -> None:
    res = results(per_child=14.0, ready=0.15, nodered_speed=5.0)
    text = "\n".join(hosting.lines(res) + peer.lines(res))
    assert "Per additional workspace: 14.0 MiB PSS." in text and "| 16 | 800 | 5.00 | 1000 | 0.20 | 190.0 |" in text
    res["host_memory"] = {"skipped": hosting.UNREADABLE}
    res["nodered"] = {"skipped": "node and npm are needed"}
    text = "\n".join(hosting.lines(res) + peer.lines(res))
    assert "relay host memory phase skipped: smaps_rollup" in text and "Node-RED peer skipped: node and npm" in text
    assert hosting.targets(res) == [] and peer.targets(res) == []
