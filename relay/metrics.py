"""Prometheus text metrics; labels are connector names, directions, kinds and reason codes only."""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Callable

Labels = tuple[tuple[str, str], ...]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_HELP = {
    "relay_messages_total": "Messages handled, by connector, direction, kind and outcome.",
    "relay_failures_total": "Messages not delivered, by connector, direction and reason.",
    "relay_dedup_hits_total": "Redeliveries recognised and not forwarded again.",
    "relay_ratelimit_waits_total": "Sends that waited for a rate-limit bucket.",
    "relay_notices_total": "Content-free could-not-deliver notices sent to the sender's side.",
    "relay_rejected_total": "Inbound requests refused before delivery, by reason.",
    "relay_latency_seconds": "Time from receipt to acceptance by the destination.",
    "relay_inflight": "Messages being delivered now.",
    "relay_consent_total": "Consent changes recorded in the ledger, by messenger, state and how.",
    "relay_consent_replies_total": "Consent confirmations and HELP answers, by messenger, keyword and outcome.",
    "relay_reconciled_total": "Messages re-read from a platform's own log after a failure or at start-up, by outcome.",
    "relay_mail_skipped_total": "Mail read but not sent to the CRM as a customer's (auto-reply, list, bounce, own).",
}


def _fmt(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value[:80].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counters, one histogram family and gauges (read when rendered), in the Prometheus text format."""

    def __init__(self) -> None:
        self._counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self._hist: dict[Labels, list[float]] = {}
        self._hist_sum: dict[Labels, float] = defaultdict(float)
        self.gauges: dict[str, Callable[[], float]] = {}
        self.last_failure: dict[str, tuple[str, float]] = {}

    def inc(self, name: str, /, **labels: str) -> None:
        self.inc_key(name, self.key(**labels))
        if name == "relay_failures_total":
            self.last_failure[labels.get("connector", "")] = (labels.get("reason", ""), time.time())

    def observe(self, seconds: float, **labels: str) -> None:
        self.observe_key(seconds, self.key(**labels))

    @staticmethod
    def key(**labels: str) -> Labels:
        """A label set prepared once, for `inc_key` and `observe_key` on hot paths."""
        return tuple(sorted(labels.items()))

    def inc_key(self, name: str, key: Labels) -> None:
        self._counters[name][key] += 1

    def observe_key(self, seconds: float, key: Labels) -> None:
        counts = self._hist.get(key)
        if counts is None:
            counts = self._hist[key] = [0.0] * (len(_BUCKETS) + 1)
        counts[bisect.bisect_left(_BUCKETS, seconds)] += 1
        self._hist_sum[key] += seconds

    def value(self, name: str, **labels: str) -> float:
        """A counter's current value (for tests and reports)."""
        want = set(labels.items())
        return sum(v for k, v in self._counters[name].items() if want <= set(k))

    def by(self, name: str, label: str, **labels: str) -> dict[str, float]:
        """A counter's values split by one label, among the series matching `labels` (for status pages)."""
        want, out = set(labels.items()), dict[str, float]()
        for key, value in self._counters[name].items():
            if want <= set(key):
                split = dict(key).get(label, "")
                out[split] = out.get(split, 0.0) + value
        return out

    def render(self) -> str:
        lines: list[str] = []
        for name in sorted(self._counters):
            lines += [f"# HELP {name} {_HELP.get(name, name)}", f"# TYPE {name} counter"]
            lines += [f"{name}{_fmt(k)} {v:g}" for k, v in sorted(self._counters[name].items())]
        name = "relay_latency_seconds"
        lines += [f"# HELP {name} {_HELP[name]}", f"# TYPE {name} histogram"]
        for key, counts in sorted(self._hist.items()):
            total = 0.0
            for le, c in zip((*map(str, _BUCKETS), "+Inf"), counts, strict=True):
                total += c
                lines.append(f"{name}_bucket{_fmt((*key, ('le', le)))} {total:g}")
            lines.append(f"{name}_sum{_fmt(key)} {self._hist_sum[key]:g}")
            lines.append(f"{name}_count{_fmt(key)} {total:g}")
        for name, read in sorted(self.gauges.items()):
            lines += [f"# HELP {name} {_HELP.get(name, name)}", f"# TYPE {name} gauge", f"{name} {read():g}"]
        return "\n".join(lines) + "\n"
