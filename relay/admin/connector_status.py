"""What the connector list shows per connector: live status, message counters, the last connection test."""

from __future__ import annotations

import time
from html import escape

from relay.admin.console import Console


def status(console: Console, name: str) -> str:
    """The connector's live state: running, started, healthy."""
    relay = console.relay
    conn = relay.connectors.get(name)
    if conn is None:
        return '<span class="bad">not running</span>'
    problem = conn.health()
    if not relay.started.get(name):
        return '<span class="bad">not started (retrying)</span>'
    return f'<span class="bad">{escape(problem)}</span>' if problem else '<span class="ok">ready</span>'


def counters(console: Console, name: str) -> str:
    """Its message outcomes, last failure and failure reasons, as HTML."""
    metrics = console.relay.metrics
    outcomes = metrics.by("relay_messages_total", "outcome", connector=name)
    failures = metrics.by("relay_failures_total", "reason", connector=name)
    counts = ", ".join(f"{escape(k)} {v:g}" for k, v in sorted(outcomes.items())) or "no messages yet"
    last = metrics.last_failure.get(name)
    if last is not None:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(last[1]))
        counts += f"<br>last failure: {escape(last[0])} at {when}"
    reasons = ", ".join(f"{escape(k)} ×{v:g}" for k, v in sorted(failures.items(), key=lambda kv: -kv[1]))
    return counts + (f"<br>failures: {reasons}" if reasons else "")


def tested(console: Console, name: str) -> str:
    """The result of its last connection test, as HTML."""
    rows = console.tests.get(name)
    if not rows:
        return "not tested"
    failed = [r for r in rows if r.ok is False]
    if not failed:
        return '<span class="ok">ok</span>'
    return "<br>".join(f'<span class="bad">{escape(r.what)}: {escape(r.detail)}</span>' for r in failed)
