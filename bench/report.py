"""Summaries, targets, and the outputs: benchmarks.json, benchmarks.png, and the table in benchmarks.md."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from bench import hosting, peer

METRICS = ("msgs_per_s", "p50_ms", "p99_ms", "cpu_us_per_msg", "rss_mib")
TARGETS = ("baseline", "baseline_fast", "relay", "nodered")
MIB = 1024 * 1024
START, END = "<!-- bench:results -->", "<!-- /bench:results -->"


def summarise(runs: list[dict[str, Any]], concurrency: list[int]) -> dict[str, Any]:
    """Medians per target and concurrency; the relay's ratios of the medians to the baseline (`ratio`,
    what the targets judge) and to the uvloop + orjson baseline (`ratio_fast`, reported beside it)."""
    out: dict[str, Any] = {}
    for c in concurrency:
        row: dict[str, Any] = {}
        for target in TARGETS:
            mine = [r for r in runs if r["target"] == target and r["connections"] == c]
            if not mine:
                continue
            row[target] = {m: statistics.median(r[m] for r in mine) for m in METRICS}
            row[target]["min_msgs_per_s"] = min(r["msgs_per_s"] for r in mine)
            row[target]["max_msgs_per_s"] = max(r["msgs_per_s"] for r in mine)
        for key, base in (("ratio", "baseline"), ("ratio_fast", "baseline_fast")):
            if base in row:
                row[key] = {m: row["relay"][m] / row[base][m] if row[base][m] else 0.0 for m in METRICS}
        out[str(c)] = row
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 8 with the measured figure and whether this run met it."""
    s = results["summary"]
    rows: list[dict[str, Any]] = []

    def add(name: str, goal: str, value: float, fmt: str, met: bool) -> None:
        rows.append({"target": name, "goal": goal, "measured": format(value, fmt), "met": met})

    for c in ("16", "64"):
        if c in s:
            r = s[c]["ratio"]["msgs_per_s"]
            add(f"throughput c={c}", ">= 0.8x baseline", r, ".2f", r >= 0.8)
    for c in s:
        r = s[c]["ratio"]["cpu_us_per_msg"]
        add(f"CPU per message c={c}", "<= 1.3x baseline", r, ".2f", r <= 1.3)
    for c in s:
        r = s[c]["ratio"]["p99_ms"]
        add(f"p99 latency c={c}", "<= 1.5x baseline", r, ".2f", r <= 1.5)
    extra = inflight_extra(results)
    add("memory per in-flight message", "<= 4096 B beyond the baseline's", extra, ".0f", extra <= 4096)
    idle = results["idle_rss_mib"]["relay"]
    add("idle RSS", "<= 60 MiB", idle, ".1f", idle <= 60)
    med = results["attachment"]
    add(
        "20 MB attachment peak RSS growth",
        "<= 25% of the file",
        med["peak_growth_ratio"] * 100,
        ".1f",
        med["peak_growth_ratio"] <= 0.25 and med["fetched_bytes"] == med["file_bytes"],
    )
    ov = results["overload"]
    others = {k: v for k, v in ov["statuses"].items() if k not in ("200", "503")}
    add(
        "overload: only 503 besides 200 (with Retry-After)",
        "no other status",
        sum(others.values()),
        "d",
        not others and ov["shed_without_retry_after"] == 0 and ov["unanswered"] == 0,
    )
    add(
        "overload: longest wait (ms)",
        f"< source deadline {ov['deadline_s'] * 1000:.0f} ms",
        ov["max_wait_ms"],
        ".0f",
        ov["max_wait_ms"] < ov["deadline_s"] * 1000,
    )
    return rows + hosting.targets(results) + peer.targets(results)


def inflight_extra(results: dict[str, Any]) -> float:
    """What one in-flight message costs the relay beyond what it costs the bare forwarder, which holds
    the same body plus aiohttp's own request, task and client call (so the body is counted once)."""
    inf = results["inflight"]
    return float(inf["relay"]["bytes_per_msg"] - inf["baseline"]["bytes_per_msg"])


def markdown(results: dict[str, Any]) -> str:
    """The numbers of one run as Markdown tables."""
    lines = [
        f"Run of {results['started']} ({results['mode']}, {results['reps']} x {results['seconds']} s per point, "
        f"load average before/after {results['loadavg_before']}/{results['loadavg_after']}).",
        "",
        "| c | baseline msg/s | relay msg/s | ratio | baseline p99 ms | relay p99 ms | ratio | "
        "baseline CPU µs/msg | relay CPU µs/msg | ratio | baseline RSS MiB | relay RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c, row in results["summary"].items():
        b, r, q = row["baseline"], row["relay"], row["ratio"]
        lines.append(
            f"| {c} | {b['msgs_per_s']:.0f} | {r['msgs_per_s']:.0f} | {q['msgs_per_s']:.2f} | {b['p99_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {q['p99_ms']:.2f} | {b['cpu_us_per_msg']:.0f} | {r['cpu_us_per_msg']:.0f} | "
            f"{q['cpu_us_per_msg']:.2f} | {b['rss_mib']:.1f} | {r['rss_mib']:.1f} |"
        )
    if all("ratio_fast" in row for row in results["summary"].values()):
        lines += [
            "",
            "Against the same forwarder on uvloop with orjson (the relay's runtime; reported, not judged):",
            "",
            "| c | fast baseline msg/s | relay / fast msg/s | fast baseline p99 ms | relay / fast p99 | "
            "fast baseline CPU µs/msg | relay / fast CPU |",
            "|---|---|---|---|---|---|---|",
        ]
        for c, row in results["summary"].items():
            f, q = row["baseline_fast"], row["ratio_fast"]
            lines.append(
                f"| {c} | {f['msgs_per_s']:.0f} | {q['msgs_per_s']:.2f} | {f['p99_ms']:.1f} | {q['p99_ms']:.2f} | "
                f"{f['cpu_us_per_msg']:.0f} | {q['cpu_us_per_msg']:.2f} |"
            )
    inf, med, ov, idle = results["inflight"], results["attachment"], results["overload"], results["idle_rss_mib"]
    lines += [
        "",
        f"Idle RSS: relay {idle['relay']:.1f} MiB, baseline {idle['baseline']:.1f} MiB. "
        f"In flight ({inf['relay']['n']} messages held at the sink): relay {inf['relay']['bytes_per_msg']:.0f} B/msg "
        f"({inf['relay']['bytes_beyond_body']:.0f} B beyond the {results['body_bytes']}-byte body), baseline "
        f"{inf['baseline']['bytes_per_msg']:.0f} B/message (the relay's own share: {inflight_extra(results):.0f} B); "
        "an idle keep-alive connection costs the relay "
        f"{inf['relay']['bytes_per_idle_connection']:.0f} B.",
        f"Attachment: {med['file_bytes'] / MIB:.0f} MiB relayed in {med['seconds']:.2f} s, peak RSS growth "
        f"{med['peak_growth_bytes'] / MIB:.1f} MiB ({med['peak_growth_ratio'] * 100:.1f}% of the file).",
        f"Overload: offered {ov['offered_per_s']:.0f} req/s (sent {ov['sent_per_s']:.0f}/s) with max_inflight "
        f"{ov['max_inflight']}: statuses {ov['statuses']}, accepted {ov['accepted_per_s']:.0f} msg/s, accepted p50/p99 "
        f"{ov['accepted_p50_ms']:.0f}/{ov['accepted_p99_ms']:.0f} ms, 503 p99 {ov['shed_p99_ms']:.1f} ms, longest wait "
        f"{ov['max_wait_ms']:.0f} ms.",
        *hosting.lines(results),
        *peer.lines(results),
        "",
        "| target | goal | measured | met |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {t['target']} | {t['goal']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |"
        for t in results["targets"]
    ]
    return "\n".join(lines)


def chart(results: dict[str, Any], path: Path) -> None:
    """Throughput, p99, CPU per message (median, min-max bars) and the ratios against their targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conc = list(results["summary"])
    runs = results["runs"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    panels = (("msgs_per_s", "messages / s"), ("p99_ms", "p99 latency (ms)"), ("cpu_us_per_msg", "CPU µs / message"))
    shown = [t for t in TARGETS if t in results["summary"][conc[0]]]
    width = 0.8 / len(shown)
    for ax, (metric, label) in zip(axes.flat, panels, strict=False):
        for i, target in enumerate(shown):
            xs, meds, lo, hi = [], [], [], []
            for j, c in enumerate(conc):
                vals = [r[metric] for r in runs if r["target"] == target and str(r["connections"]) == c]
                med = results["summary"][c][target][metric]
                xs.append(j + (i - (len(shown) - 1) / 2) * width)
                meds.append(med)
                lo.append(med - min(vals))
                hi.append(max(vals) - med)
            ax.bar(xs, meds, width, yerr=[lo, hi], capsize=3, label=target)
        ax.set_xticks(range(len(conc)), [f"c={c}" for c in conc])
        ax.set_title(label)
        ax.legend()
    ax = axes.flat[3]
    goals = {"msgs_per_s": 0.8, "cpu_us_per_msg": 1.3, "p99_ms": 1.5}
    names = {"msgs_per_s": "throughput", "cpu_us_per_msg": "CPU/msg", "p99_ms": "p99"}
    for i, (metric, goal) in enumerate(goals.items()):
        xs = [j + (i - 1) * 0.27 for j in range(len(conc))]
        bars = ax.bar(xs, [results["summary"][c]["ratio"][metric] for c in conc], 0.27, label=names[metric])
        ax.hlines(goal, xs[0] - 0.14, xs[-1] + 0.14, colors=bars.patches[0].get_facecolor(), linestyles="dashed")
    ax.set_xticks(range(len(conc)), [f"c={c}" for c in conc])
    ax.set_yscale("log")
    ax.set_title("relay / baseline (dashed: target)")
    ax.legend()
    fig.suptitle(f"Relay vs bare aiohttp forwarder, one core each ({results['started']})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(results: dict[str, Any], out: Path, docs_md: Path | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    chart(results, out / "benchmarks.png")
    if docs_md is not None and docs_md.exists():
        text = docs_md.read_text()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            tail = rest.split(END, 1)[1]
            docs_md.write_text(f"{head}{START}\n{markdown(results)}\n{END}{tail}")
