"""`relay check`: reach each platform with its credentials and say, in the core's failure reasons, which host
failed and what to do; library noise stays off the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import socket
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import BaseModel

from relay.app import Relay, untrusted_session
from relay.client import Answer
from relay.config import Loaded
from relay.connector import Check, Connector
from relay.errors import DeliveryError
from relay.reasons import Reason
from relay.state import MemoryStateStore

# Exception names connectors and libraries report, by the failure reason they stand for.
_EXCEPTIONS = {
    Reason.PLATFORM_UNREACHABLE: (
        "ClientConnectorDNSError ClientConnectorError ClientConnectorCertificateError ClientConnectorSSLError "
        "ClientSSLError ClientOSError ConnectError ConnectionError ConnectionRefusedError NewConnectionError "
        "NameResolutionError NetworkError gaierror SSLError CertificateError OSError"
    ),
    Reason.PLATFORM_TIMEOUT: (
        "TimeoutError ServerTimeoutError TimedOut ReadTimeout ConnectTimeout ConnectionTimeoutError "
        "SocketTimeoutError TimeoutException CancelledError"
    ),
    Reason.PLATFORM_CONNECTION_LOST: (
        "ServerDisconnectedError ClientPayloadError RemoteProtocolError ReadError ClientResponseError "
        "ConnectionResetError ProtocolError"
    ),
    Reason.PLATFORM_AUTH_FAILED: "InvalidToken Unauthorized Forbidden SlackApiError InvalidAuth",
}
_BY_NAME = {name: reason for reason, names in _EXCEPTIONS.items() for name in names.split()}
_EXC_NAME = re.compile(
    r"\b(?:[A-Za-z_]+\.)*([A-Z][A-Za-z]*(?:Error|Exception|Timeout|TimedOut)|gaierror|InvalidToken|Unauthorized|Forbidden)\b"
)
_STATUS = re.compile(r"\bHTTP (\d{3})\b")
_CODE = re.compile(r"^[a-z]+(?:_[a-z0-9]+)+$")
_SHORT = {"token_endpoint_unreachable": Reason.PLATFORM_UNREACHABLE, "token_rejected": Reason.PLATFORM_AUTH_FAILED}

FIX = {
    Reason.PLATFORM_UNREACHABLE: "check {key} (host name and port) and that this machine can resolve and reach "
    "{host} (DNS, firewall, proxy, TLS)",
    Reason.PLATFORM_TIMEOUT: "{host} did not answer in time: check that it is up and that nothing between drops the "
    "traffic, or raise the connector's timeout",
    Reason.PLATFORM_CONNECTION_LOST: "{host} broke the connection: check that {key} names the right service, "
    "scheme (https/http) and port",
    Reason.PLATFORM_AUTH_FAILED: "{host} refused the credentials: copy them again from the platform into the config "
    "(or `relay secrets set NAME`)",
    Reason.PLATFORM_MISCONFIGURED: "{host} answered 404 or a redirect: check the path in {key}",
    Reason.PLATFORM_BAD_RESPONSE: "{host} answered, but not as the platform does: check {key}",
    Reason.PLATFORM_BUSY: "{host} answered 5xx: try again later; if it persists, check the platform's status page",
    Reason.PLATFORM_REJECTED: "{host} refused the request: check the connector's settings against the platform",
    Reason.THROTTLED: "{host} rate-limited the relay: wait a minute and run `relay check` again",
    Reason.HOST_NOT_ALLOWED: "add {host} to media.allowlist (or its network to network.allow_private)",
    Reason.TOKEN_UNAVAILABLE: "no access token came from {host}: check the credentials and that it is reachable",
    Reason.INTERNAL_ERROR: "the check itself failed unexpectedly (a fault in the connector, not in your settings); "
    "the other rows still hold",
}


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: the connector's check, and for a failure its reason, host and fix."""

    connector: str
    what: str
    ok: bool | None
    detail: str


def reason_of(check: Check) -> Reason | None:
    """The core's failure reason a connector's check result stands for, or None when its words say it."""
    if check.reason is not None:
        return check.reason
    detail = check.detail.strip()
    if detail in Reason._value2member_map_:
        return Reason(detail)
    if detail in _SHORT:
        return _SHORT[detail]
    for name in _EXC_NAME.findall(detail):
        if name in _BY_NAME:
            return _BY_NAME[name]
    status = _STATUS.search(detail)
    if status and not check.ok:
        return Answer(int(status.group(1)), CIMultiDictProxy(CIMultiDict()), b"").refusal().reason
    if _EXC_NAME.search(detail) or _CODE.match(detail):
        return Reason.INTERNAL_ERROR
    return None


def words_of(detail: str) -> str:
    """A connector's detail without exception names, short codes and empty brackets."""
    text = _EXC_NAME.sub("", detail)
    text = re.sub(r"\(\s*\)", "", text).strip(" :;,")
    return "" if text in Reason._value2member_map_ or _CODE.match(text) or text in _SHORT else text


def _urls(model: BaseModel, prefix: str) -> Iterator[tuple[str, str]]:
    for key, value in model.__dict__.items():
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            yield f"{prefix}.{key}", value
        elif isinstance(value, BaseModel):
            yield from _urls(value, f"{prefix}.{key}")


def _netloc(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or url


class Hosts:
    """The hosts a connector's check tried: requests on the core's session, and names any library resolved."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._on_request)

    async def _on_request(self, session: Any, ctx: SimpleNamespace, params: Any) -> None:
        self.seen.append(_netloc(str(params.url)))

    @contextlib.contextmanager
    def resolving(self) -> Iterator[None]:
        """Record every host name resolved through the socket module while inside."""
        original = socket.getaddrinfo

        def recording(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(host, str):
                self.seen.append(f"{host}:{port}" if port else host)
            return original(host, port, *args, **kwargs)

        socket.getaddrinfo = recording
        try:
            yield
        finally:
            socket.getaddrinfo = original


def explain(name: str, check: Check, tried: list[str], config: BaseModel) -> Row:
    """A check as a row: a failure reads `<reason> at <host>: <what to do>` (plus the connector's own words)."""
    reason = reason_of(check)
    if check.ok is not False:
        return Row(name, check.what, check.ok, words_of(check.detail) or check.detail)
    urls = list(_urls(config, f"connectors.{name}"))
    host = check.host or (tried[-1] if tried else (_netloc(urls[0][1]) if urls else "the platform"))
    if reason is None:
        return Row(name, check.what, False, f"{check.detail} (at {host})")
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    key = next((k for k, url in urls if urlsplit(url).hostname == bare), urls[0][0] if urls else "the connector's URL")
    fix = FIX.get(reason, reason.meaning).format(host=host, key=key)
    extra = words_of(check.detail)
    return Row(name, check.what, False, f"{reason.value} at {host}: {fix}" + (f" ({extra})" if extra else ""))


async def check_one(conn: Connector, config: BaseModel, tried: list[str] | None = None) -> list[Row]:
    """One connector's check, each failure with its reason, host and fix (`tried`: the hosts it reached)."""
    try:
        checks = await asyncio.wait_for(conn.check(), 20)
    except DeliveryError as exc:
        checks = [Check("check", False, exc.reason.value)]
    except Exception as exc:
        checks = [Check("check", False, type(exc).__name__)]
    return [explain(conn.name, c, list(tried or ()), config) for c in checks]


async def run_checks(loaded: Loaded) -> list[Row]:
    """Every connector's check in turn, each failure with its reason, host and fix."""
    rows: list[Row] = []
    hosts = Hosts()
    timeout = aiohttp.ClientTimeout(total=15)
    session = aiohttp.ClientSession(timeout=timeout, trace_configs=[hosts.trace])
    async with session, untrusted_session(loaded, timeout) as fetch:
        relay = Relay(loaded, session, MemoryStateStore(), fetch)
        for name, conn in relay.connectors.items():
            hosts.seen.clear()
            with hosts.resolving():
                rows += await check_one(conn, loaded.instances[name].config, hosts.seen)
        await relay.close_connectors()
    return rows


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep library log records, warnings and stray writes off stderr: the table says what matters."""
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def table(rows: list[Row]) -> str:
    """The rows as aligned text: connector, check, result, detail."""
    width = max([len("connector"), *(len(r.connector) for r in rows)])
    what_w = max([len("check"), *(len(r.what) for r in rows)])
    lines = [f"{'connector':<{width}}  {'check':<{what_w}}  result  detail"]
    for r in rows:
        result = "ok" if r.ok else "?" if r.ok is None else "FAIL"
        lines.append(f"{r.connector:<{width}}  {r.what:<{what_w}}  {result:<6}  {r.detail}".rstrip())
    return "\n".join(lines)
