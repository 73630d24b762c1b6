"""`relay run` on a port it cannot have says so before it announces or starts anything, with the fix."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.core.test_cli import run


def test_a_taken_port_is_refused_before_the_sandbox_is_announced() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run("run", "--host", "127.0.0.1", "--port", str(port))
    assert out.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in out.stderr
    assert f"`relay run --port {port + 1}`" in out.stderr
    assert "open http://" not in out.stderr and "connector started" not in out.stderr
    assert "Traceback" not in out.stderr


def test_a_taken_port_from_the_config_names_the_key(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = tmp_path / "relay.toml"
        path.write_text(
            f'[server]\nport = {port}\n[workspace]\nkeys = [{{ id = "k1", secret = "0123456789abcdefXYZ0123" }}]\n'
            '[connectors.chat]\ntype = "webchat"\n[connectors.inbox]\ntype = "inbox"\n'
            '[[routes]]\nfrom = ["chat"]\nto = "inbox"\n'
        )
        out = run("run", "--config", str(path))
    assert out.returncode == 1
    assert f"or set port in [server] of {path}" in out.stderr
    assert "connector started" not in out.stderr and "listening" not in out.stderr
