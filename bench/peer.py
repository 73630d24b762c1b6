"""The Node-RED peer: a flow doing the same job (http in -> http request -> http response) against the same sink."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.procs import Proc
from bench.workload import HOOK_PATH


def flows(crm_url: str) -> list[dict[str, Any]]:
    """The forwarding flow, plus GET /healthz for the benchmark to know it is up."""
    tab = "bench"
    return [
        {"id": tab, "type": "tab", "label": "bench"},
        {"id": "in", "type": "http in", "z": tab, "url": HOOK_PATH, "method": "post", "wires": [["post"]]},
        {
            "id": "post",
            "type": "http request",
            "z": tab,
            "method": "POST",
            "ret": "txt",
            "url": crm_url,
            "paytoqs": "ignore",
            "wires": [["out"]],
        },
        {"id": "out", "type": "http response", "z": tab, "statusCode": "", "headers": {}, "wires": []},
        {"id": "health", "type": "http in", "z": tab, "url": "/healthz", "method": "get", "wires": [["ok"]]},
        {"id": "ok", "type": "http response", "z": tab, "statusCode": "200", "headers": {}, "wires": []},
    ]


class NodeRedPeer:
    """Node-RED from the npm install cache the peer tests keep, in its own temporary user directory."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="bench-nodered-"))

    @staticmethod
    def available() -> str | None:
        """None when Node-RED can run (installing it into the cache if needed), else why not."""
        try:
            from tests.peers.common import PeerUnavailable
            from tests.peers.nodered import install
        except ImportError as exc:
            return f"the peer harness cannot be imported ({exc}); run from the repository root"
        try:
            install()
        except PeerUnavailable as exc:
            return str(exc)
        return None

    def argv(self, port: int, crm_url: str) -> list[str]:
        from tests.peers.nodered import red_js

        (self.workdir / "flows.json").write_text(json.dumps(flows(crm_url)))
        settings = {
            "uiHost": "127.0.0.1",
            "uiPort": port,
            "userDir": str(self.workdir),
            "flowFile": "flows.json",
            "httpAdminRoot": False,
            "credentialSecret": False,
            "logging": {"console": {"level": "warn"}},
        }
        (self.workdir / "settings.js").write_text(f"module.exports = {json.dumps(settings)};\n")
        return ["node", str(red_js()), "--settings", str(self.workdir / "settings.js")]

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def start(bench: Any, core: int | None, crm_url: str, port: int) -> tuple[Proc | None, str | None]:
    """The running peer, or None and the reason it was skipped."""
    why = NodeRedPeer.available()
    if why is not None:
        return None, why
    peer = NodeRedPeer()
    bench.cleanups.append(peer.close)
    proc: Proc = bench.start("nodered", peer.argv(port, crm_url), core, f"http://127.0.0.1:{port}/healthz")
    return proc, None


def lines(res: dict[str, Any]) -> list[str]:
    """Relay against the Node-RED flow, per concurrency, as Markdown."""
    peer = res.get("nodered")
    if not peer:
        return []
    if peer.get("skipped"):
        return ["", f"Node-RED peer skipped: {peer['skipped']}."]
    out = [
        "",
        "Against a Node-RED flow doing the same job (http in -> http request -> http response, same sink):",
        "",
        "| c | Node-RED msg/s | relay / Node-RED msg/s | Node-RED CPU µs/msg | relay / Node-RED CPU | "
        "Node-RED RSS MiB |",
        "|---|---|---|---|---|---|",
    ]
    for c, row in res["summary"].items():
        if "nodered" not in row:
            continue
        n, r = row["nodered"], row["relay"]
        out.append(
            f"| {c} | {n['msgs_per_s']:.0f} | {r['msgs_per_s'] / n['msgs_per_s']:.2f} | {n['cpu_us_per_msg']:.0f} | "
            f"{r['cpu_us_per_msg'] / n['cpu_us_per_msg']:.2f} | {n['rss_mib']:.1f} |"
        )
    return out


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Relay >= 4x Node-RED's throughput at <= 0.25x its CPU per message, at every concurrency."""
    peer = res.get("nodered")
    if not peer or peer.get("skipped"):
        return []
    rows = []
    for c, row in res["summary"].items():
        if "nodered" not in row:
            continue
        n, r = row["nodered"], row["relay"]
        speed, cpu = r["msgs_per_s"] / n["msgs_per_s"], r["cpu_us_per_msg"] / n["cpu_us_per_msg"]
        rows.append(
            {"target": f"throughput vs Node-RED c={c}", "goal": ">= 4x", "measured": f"{speed:.2f}", "met": speed >= 4}
        )
        rows.append(
            {
                "target": f"CPU per message vs Node-RED c={c}",
                "goal": "<= 0.25x",
                "measured": f"{cpu:.2f}",
                "met": cpu <= 0.25,
            }
        )
    return rows
