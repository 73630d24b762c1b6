"""docs/reliability.md: the fault table, the hostile-input counts and the at-rest scan, from measured runs."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.reliability.faults import Row, Sizes

ROOT = Path(__file__).resolve().parents[2]
STATS_ENV = "RELAY_RELIABILITY_STATS"


@dataclass
class Suite:
    """A pytest run of one test folder, with the counters its tests recorded."""

    folder: str
    passed: bool
    summary: str
    stats: dict[str, Any] = field(default_factory=dict)


def run_suite(folder: str) -> Suite:
    """Run `pytest tests/<folder>` in a subprocess; its tests write their counters to a JSON file."""
    with tempfile.TemporaryDirectory(prefix="relay-rel-stats-") as tmp:
        out = Path(tmp) / "stats.json"
        env = {**os.environ, STATS_ENV: str(out), "PYTHONDONTWRITEBYTECODE": "1"}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/{folder}"]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        stats = json.loads(out.read_text()) if out.exists() else {}
    return Suite(folder, done.returncode == 0, lines[-1] if lines else "(no output)", stats)


def _fault_table(rows: list[Row]) -> list[str]:
    out = [
        "| Fault | Direction | Replicas | Sent | Delivered once | Delivered twice (raw) "
        "| Twice under different event ids | Lost | Notices | Source redeliveries | Seconds | Result |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in rows:
        verdict = "pass" if r.ok else "**FAIL**"
        out.append(
            f"| {r.fault} | {r.direction} | {r.replicas} | {r.sent} | {r.once} | {r.duplicated} "
            f"| {r.dup_after_event_id} | {r.lost} | {r.notices} | {r.redeliveries} | {r.seconds} | {verdict} |"
        )
    notes = [f"- *{r.fault}*: {r.note}." for r in rows if r.note]
    return [*out, "", *notes]


def _hostile(suite: Suite) -> list[str]:
    s = suite.stats
    return [
        "| Requests tried | 4xx | 2xx (authenticated or public) | 5xx | Tracebacks in bodies "
        "| Forwards without valid auth | Routes enumerated | Unauthenticated routes outside the allowlist |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|",
        f"| {s.get('requests', 0)} | {s.get('4xx', 0)} | {s.get('2xx', 0)} | {s.get('5xx', 0)} "
        f"| {s.get('tracebacks', 0)} | {s.get('forwards_without_auth', 0)} | {s.get('routes', 0)} "
        f"| {s.get('open_routes', 0)} |",
        "",
        f"Connector types covered: {', '.join(s.get('types', [])) or 'none recorded'}. "
        f"Largest memory growth over a burst of hostile requests: {s.get('max_memory_kib', 0)} KiB "
        f"(bound {s.get('memory_bound_kib', 0)} KiB). pytest: `{suite.summary}`.",
    ]


def _at_rest(suite: Suite) -> list[str]:
    s = suite.stats
    return [
        "| Files opened for writing during traffic | Canary hits in logs | in Redis keys/values | in /tmp files "
        "| Relay processes with core-file limit 0 (soft and hard) |",
        "|--:|--:|--:|--:|--:|",
        f"| {s.get('file_writes', 0)} | {s.get('log_hits', 0)} | {s.get('redis_hits', 0)} "
        f"| {s.get('tmp_hits', 0)} | {s.get('no_core_processes', 0)} of {s.get('processes', 0)} |",
        "",
        f"Connectors carrying canaries both ways: {', '.join(s.get('connectors', [])) or 'none recorded'}. "
        f"Not in this suite: {', '.join(_uncovered(s)) or 'none'}"
        f"{_ELSEWHERE if set(_uncovered(s)) <= set(_E2E) and _uncovered(s) else ''}. "
        "Non-dumpable: the relay calls `disable_core_dumps()` at start-up and a child process that does the same "
        "reads `prctl(PR_GET_DUMPABLE) == 0` (the flag is not observable from outside when running as root). "
        f"Log lines scanned: {s.get('log_lines', 0)}; Redis keys scanned: {s.get('redis_keys', 0)}; "
        f"trace spans scanned: {s.get('spans', 0)} (canary hits: {s.get('span_hits', 0)}). "
        f"pytest: `{suite.summary}`.",
    ]


_E2E = {
    "teams": "tests/connectors/teams/test_e2e.py",
    "bottlecrm": "tests/connectors/bottlecrm/test_peer_e2e.py",
}
_ELSEWHERE = (
    " (their own end-to-end tests carry a canary both ways with an audit hook and a log scan: "
    + ", ".join(_E2E.values())
    + ")"
)


def _uncovered(stats: dict[str, Any]) -> list[str]:
    from relay import registry

    covered = {str(c).split(" ")[0] for c in stats.get("connectors", [])}
    return [t for t in registry.available() if t not in covered]


def render(rows: list[Row], sizes: Sizes, suites: list[Suite], redis: bool, seconds: float) -> str:
    """The whole report as Markdown."""
    by = {s.folder: s for s in suites}
    lines = [
        "# Reliability report",
        "",
        "Written by `python -m bench.reliability` (do not edit by hand; run the command again).",
        f"Generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, in {seconds:.0f} s.",
        "",
        "## Faults",
        "",
        f"Every run is end to end: relay processes (`python -m relay.cli run --config X`), a fake Telegram "
        f"platform posting webhook updates with the secret-token header, and a fake CRM behind the `webhook` "
        f"connector. The platform redelivers every update not answered 2xx after 0.3 s, across replicas, for up "
        f"to {sizes.give_up:g} s; the fake CRM re-posts its signed answers the same way. Source deadline 2 s, "
        f"CRM client timeout 1 s. {sizes.messages} messages per fault at {sizes.rate:g}/s. Shared state: "
        f"{'Redis (redis://127.0.0.1:6379/0, a fresh workspace prefix per run)' if redis else 'in memory'}.",
        "",
        "*Delivered twice (raw)* counts messages the fake CRM accepted more than once. *Twice under different "
        "event ids* counts those a CRM following docs/webhook-contract.md (ignore a repeated `X-Relay-Event-Id`) "
        "would still see twice; Telegram has no idempotency key, so there every repeat counts. *Notices* are "
        "content-free could-not-deliver notices seen by the fakes. Target: 0 lost and 0 duplicated.",
        "",
        "Rows marked *(HubSpot)* send the same Telegram traffic to the `hubspot` connector, against the HubSpot "
        "fake of tests/connectors/hubspot/fake.py (OAuth, custom-channel publish, one relay replica or two). The "
        "relay sends each message with an `integrationIdempotencyId` derived from the platform message id; the "
        "fake keeps one message per id and answers a repeat with the stored one (HubSpot's API names the field; "
        "its documentation does not describe a repeat). There *Delivered twice (raw)* counts messages the agent's "
        "thread would show twice, and the event id is the idempotency id.",
        "",
        "Rows marked *(Zendesk)* send it to the `zendesk` connector, against the Sunshine Conversations fake of "
        "tests/connectors/zendesk/fake.py. SunCo has no idempotency key: the relay marks each post in the shared "
        "state before sending it and puts a keyed relay id in the message's metadata, and an attempt after an "
        "unclear end first looks for that id among the conversation's last 100 messages. There every repeat "
        "counts as a duplicate.",
        "The *SMS -> CRM* row sends texts from the local Twilio of tests/connectors/twilio_sms/fake.py to the "
        "`twilio_sms` connector while the CRM answers 500 for the whole outage: Twilio posts each webhook, retries "
        "it once, then gives up (error 11200), as Twilio does. Every text must reach the CRM once it is back, read "
        "from Twilio's message log by the relay's reconciliation (texts spread over the outage from 20 numbers).",
        "",
        *_fault_table(rows),
        "",
        "## Hostile input",
        "",
        "Property-based requests (hypothesis) against every route the app mounts, for every connector type: "
        "bad JSON, wrong types, bodies over `server.max_body_bytes`, deep nesting, odd unicode, bad and replayed "
        "signatures, unauthenticated and authenticated.",
        "",
        *(_hostile(by["security"]) if "security" in by else ["Not run."]),
        "",
        "## No content at rest",
        "",
        "Unique canaries, phone numbers and e-mail addresses sent both ways through each connector that has a "
        "platform fake here, in process "
        "(audit hook on file writes, DEBUG logs captured) and through relay replicas sharing Redis "
        "(logging.level = debug; stderr, Redis keys and values, /tmp and /proc/<pid>/limits checked).",
        "",
        *(_at_rest(by["privacy"]) if "privacy" in by else ["Not run."]),
        "",
    ]
    return "\n".join(lines)
