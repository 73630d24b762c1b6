"""Whether `relay run` can listen where it is told to, checked before anything starts or is announced."""

from __future__ import annotations

import errno
import socket


def bind_problem(host: str, port: int, config: str | None) -> str | None:
    """Why host:port cannot be listened on, with the flag or config key that picks another; None when it can."""
    if port == 0:
        return None
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return f"cannot listen on {host}:{port}: no such address on this machine; {_fix('host', config, port)}"
    for family, kind, proto, _, address in found:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                what = (exc.strerror or str(exc)).lower()
                if exc.errno == errno.EADDRINUSE:
                    return (
                        f"cannot listen on {host}:{port}: address already in use (another program, or another relay, "
                        f"listens there); {_fix('port', config, port)}"
                    )
                if exc.errno == errno.EACCES:
                    fix = _fix("port", config, port)
                    return f"cannot listen on {host}:{port}: {what} (ports below 1024 need privileges); {fix}"
                return f"cannot listen on {host}:{port}: {what}; {_fix('host', config, port)}"
    return None


def _fix(key: str, config: str | None, port: int) -> str:
    example = f"--port {port + 1 if port < 65535 else 8080}" if key == "port" else "--host 127.0.0.1"
    where = f" or set {key} in [server] of {config}" if config else ""
    return f"pick another with `relay run {example}`{where}"
