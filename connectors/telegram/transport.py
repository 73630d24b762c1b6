"""python-telegram-bot requests sent through the relay's shared aiohttp session; errors never name the URL."""

from __future__ import annotations

import asyncio
import errno
import re
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram import Bot
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

POOL_FULL = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* sent to Telegram. "
    "Consider adjusting the connection pool size or the pool timeout."
)
_ESCAPES = {'"': "%22"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_ESCAPE = re.compile("|".join(map(re.escape, _ESCAPES)))


class NotSent(Exception):
    """The cause of a PTB error raised before the request reached Telegram (safe to retry)."""


def _filename(name: str) -> str:
    """Escape a multipart filename as browsers and httpx do, not aiohttp's default percent-quoting."""
    return _ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], name)


def _pick(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _sum(*parts: float | None) -> float | None:
    known = [p for p in parts if p is not None]
    return sum(known) if len(known) == len(parts) else None


def client_timeout(
    read: float | None, write: float | None, connect: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """httpx-style timeouts as aiohttp's: no write timeout there, so the parts' sum bounds the whole request."""
    return aiohttp.ClientTimeout(
        total=_sum(pool, connect, write, read), connect=_sum(pool, connect), sock_connect=connect, sock_read=read
    )


def body(data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """Form-encoded parameters, or multipart with the files: what HTTPXRequest sends."""
    if data is None:
        return None
    if not data.contains_files:
        return data.json_parameters
    form = aiohttp.FormData(quote_fields=False)
    for name, value in data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime) in data.multipart_data.items():
        form.add_field(name, content, content_type=mime, filename=_filename(filename))
    return form


def failure(exc: Exception) -> tuple[TelegramError, Exception | None]:
    """PTB's error named by class only (aiohttp messages hold the URL), caused by NotSent when nothing was sent."""
    code = errno.errorcode.get(exc.errno or 0) if isinstance(exc, OSError) else None
    detail = f"{type(exc).__name__} ({code})" if code else type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TimedOut(f"Timed out connecting ({detail})"), NotSent(detail)
    if isinstance(exc, TimeoutError):
        return TimedOut(f"Timed out ({detail})"), None
    if isinstance(exc, aiohttp.ClientConnectorError):
        return NetworkError(detail), NotSent(detail)
    return NetworkError(detail), None


_LOOPBACK = frozenset(("localhost", "127.0.0.1", "::1"))


def env_proxy(url: str, proxies: Mapping[str, str]) -> str | None:
    """The proxy that HTTP_PROXY / HTTPS_PROXY / ALL_PROXY name for `url`, unless NO_PROXY exempts its host
    (a local Bot API server on a loopback address never goes through one)."""
    parts = urlsplit(url)
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    host = (parts.hostname or "").lower()
    if host in _LOOPBACK:
        return None
    for entry in proxies.get("no", "").split(","):
        entry = entry.strip().lower().lstrip(".")
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return None
    return proxy or None


class AiohttpRequest(BaseRequest):
    """PTB's request interface on a borrowed aiohttp session, with HTTPXRequest's defaults."""

    __slots__ = ("_connect", "_env", "_media_write", "_pool", "_proxies", "_read", "_session", "_slots", "_write")

    def __init__(
        self,
        session: aiohttp.ClientSession,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._session = session
        self._slots = asyncio.Semaphore(connection_pool_size)
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._env = urllib.request.getproxies_environment()
        self._proxies: dict[str, str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call passes none."""
        return self._read

    async def initialize(self) -> None:
        """Nothing to open: the session is borrowed."""

    async def shutdown(self) -> None:
        """Nothing to close: the session belongs to the relay."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request and return (status, payload); failures raise TimedOut or NetworkError."""
        files = request_data is not None and request_data.contains_files
        pool = _pick(pool_timeout, self._pool)
        timeout = client_timeout(
            _pick(read_timeout, self._read),
            _pick(write_timeout, self._media_write if files else self._write),
            _pick(connect_timeout, self._connect),
            pool,
        )
        try:
            async with asyncio.timeout(pool):
                await self._slots.acquire()
        except TimeoutError:
            raise TimedOut(POOL_FULL) from NotSent(POOL_FULL)
        origin = url.split("/", 3)[2]
        if origin not in self._proxies:
            self._proxies[origin] = env_proxy(url, self._env)
        try:
            async with self._session.request(
                method,
                url,
                data=body(request_data),
                headers={"User-Agent": self.USER_AGENT},
                timeout=timeout,
                allow_redirects=False,
                proxy=self._proxies[origin],
            ) as response:
                return response.status, await response.read()
        except Exception as exc:
            error, cause = failure(exc)
        finally:
            self._slots.release()
        raise error from cause


class RelayBot(Bot):
    """PTB's Bot plus raw getUpdates: updates are parsed one by one, so one odd update cannot stall
    polling and PTB's batch-parse error log (which prints the updates) never runs."""

    async def raw_updates(self, params: dict[str, Any], read_timeout: float) -> list[Any]:
        result = await self._post("getUpdates", params, read_timeout=read_timeout)
        return result if isinstance(result, list) else []
