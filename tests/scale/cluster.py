"""Relay replicas as real processes behind a real nginx, for the multi-replica tests."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.state.conftest import free_port

NGINX = os.environ.get("RELAY_TEST_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
WORKSPACE_KEY = "scale-workspace-key-0123456789abcdef"

NGINX_CONF = """\
worker_processes 1;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  client_max_body_size 1m;
  client_body_buffer_size 1m;
  proxy_max_temp_file_size 0;
  upstream relay {{
{servers}
    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://relay;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 1s;
      proxy_read_timeout 60s;
    }}
  }}
}}
"""


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def to_toml(doc: dict[str, Any]) -> str:
    """Enough TOML for a workspace config: tables of scalars, connector sub-tables, [[routes]]."""
    lines: list[str] = []
    for section in ("workspace", "state", "server", "logging"):
        if section in doc:
            lines.append(f"[{section}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in doc[section].items()]
    for name, body in doc["connectors"].items():
        lines.append(f"[connectors.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in body.items()]
    for route in doc.get("routes", []):
        lines.append("[[routes]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in route.items()]
    return "\n".join(lines) + "\n"


@dataclass
class Cluster:
    """Replicas (relay processes) on free ports and an nginx in front; everything killed on close()."""

    tmp: Path
    replicas: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    nginx: subprocess.Popen[bytes] | None = None
    nginx_port: int = 0

    def url(self, index: int | None = None) -> str:
        port = self.nginx_port if index is None else self.ports[index]
        return f"http://127.0.0.1:{port}"

    def start_replicas(self, docs: list[dict[str, Any]]) -> None:
        """One replica per workspace config (normally the same config for all)."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for i, doc in enumerate(docs):
            cfg = self.tmp / f"relay-{i}.toml"
            cfg.write_text(to_toml(doc))
            port = free_port()
            log = open(self.tmp / f"replica-{i}.log", "wb")  # noqa: SIM115 - the child owns it
            cmd = [sys.executable, "-m", "relay.cli", "run", "--config", str(cfg), "--host", "127.0.0.1"]
            proc = subprocess.Popen([*cmd, "--port", str(port)], stdout=log, stderr=log, env=env)
            log.close()
            self.replicas.append(proc)
            self.ports.append(port)

    def start_nginx(self) -> None:
        conf_dir = self.tmp / "nginx"
        conf_dir.mkdir()
        self.nginx_port = free_port()
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in self.ports)
        conf = conf_dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=conf_dir, servers=servers, port=self.nginx_port))
        cmd = [NGINX, "-e", str(conf_dir / "error.log"), "-p", str(conf_dir), "-c", str(conf), "-g", "daemon off;"]
        self.nginx = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def wait_ready(self, timeout: float = 20.0) -> None:
        """Every replica answers /readyz with 200, and nginx forwards."""
        urls = [f"{self.url(i)}/readyz" for i in range(len(self.ports))] + [f"{self.url()}/healthz"]
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        async with aiohttp.ClientSession() as session:
            for url in urls:
                while True:
                    self.check_alive()
                    try:
                        async with session.get(url) as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    if loop.time() > end:
                        raise AssertionError(f"{url} not ready; logs:\n{self.logs()}")
                    await asyncio.sleep(0.1)

    def check_alive(self) -> None:
        for i, proc in enumerate(self.replicas):
            if proc.returncode is None and proc.poll() is not None:
                raise AssertionError(f"replica {i} exited with {proc.returncode}:\n{self.logs()}")
        if self.nginx is not None and self.nginx.poll() is not None:
            raise AssertionError(f"nginx exited: {self.nginx_log()}")

    def kill(self, index: int) -> None:
        """SIGKILL one replica (no drain, no goodbye)."""
        proc = self.replicas[index]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)

    def logs(self) -> str:
        return "\n".join(
            f"--- replica {i}\n" + (self.tmp / f"replica-{i}.log").read_text(errors="replace")[-3000:]
            for i in range(len(self.replicas))
        )

    def nginx_log(self) -> str:
        path = self.tmp / "nginx" / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def close(self) -> None:
        """Kill the replicas; stop nginx with SIGTERM so its master takes its worker along."""
        for proc in self.replicas:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
        if self.nginx is not None and self.nginx.poll() is None:
            os.kill(self.nginx.pid, signal.SIGTERM)
            try:
                self.nginx.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.nginx.pid, signal.SIGKILL)
        for proc in self.replicas:
            proc.wait(10)
        if self.nginx is not None:
            self.nginx.wait(10)
