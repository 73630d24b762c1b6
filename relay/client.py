"""The one platform client: connectors describe a call, the core sends it and maps what went wrong."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from relay import codec
from relay.errors import DeliveryError, MediaError
from relay.frozen import fast_init
from relay.media import host_allowed
from relay.netguard import REASON, refused
from relay.reasons import Reason
from relay.stream import MediaStream, capped_chunks
from relay.wirepool import Target, Unsupported, WireClient, WireError, WireTimeout

REDIRECTS = frozenset({301, 302, 303, 307, 308})


@fast_init
@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request as a connector describes it.

    `hosts`: None for an endpoint the admin configured (trusted); otherwise the URL came from platform
    or CRM data, and it and every redirect hop must be on one of these host patterns (or the workspace
    media allowlist) and never resolve to a private address. `idempotent`: the platform de-duplicates
    this request, so a timeout or a lost connection may be retried. `forward_auth`: whether Authorization
    follows a redirect that stays on the same host (it never follows one to another host).
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    body: bytes | aiohttp.FormData | Mapping[str, str] | None = field(default=None, repr=False)
    json: Any = field(default=None, repr=False)
    params: Mapping[str, str] | None = field(default=None, repr=False)
    timeout: float = 30.0
    read_timeout: float | None = None
    idempotent: bool = False
    hosts: tuple[str, ...] | None = None
    redirects: int = 0
    encoded: bool = False
    forward_auth: bool = True


@fast_init
@dataclass(frozen=True, slots=True)
class Answer:
    """A platform's answer, read whole (bounded by the session's limits)."""

    status: int
    headers: CIMultiDictProxy[str] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retry_after(self) -> float | None:
        """The Retry-After header in seconds, if it is a number."""
        return retry_after(self.headers)

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        if not self.body:
            return None
        try:
            return codec.loads(self.body)
        except ValueError:
            return None

    def refusal(self, *, idempotent: bool = False, scope: str | None = "connector") -> DeliveryError:
        """The default meaning of a non-2xx answer: 429 throttled, 5xx busy, 401/403 credentials,
        404 or a redirect a wrong configured URL, any other 4xx a refusal for good."""
        status = self.status
        if status == 429 or (status == 503 and self.retry_after is not None):
            return DeliveryError(Reason.THROTTLED, retry_after=self.retry_after or 1.0, scope=scope, detail=status)
        if status >= 500:
            return DeliveryError(Reason.PLATFORM_BUSY, retry_after=self.retry_after, scope=scope, detail=status)
        if status in (401, 403):
            return DeliveryError(Reason.PLATFORM_AUTH_FAILED, scope="connector", detail=status)
        if status == 404 or status in REDIRECTS:
            return DeliveryError(Reason.PLATFORM_MISCONFIGURED, scope="connector", detail=status)
        return DeliveryError(Reason.PLATFORM_REJECTED, detail=status)


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form), or None."""
    raw = headers.get("Retry-After") if headers is not None else None
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


class HostPolicy:
    """Which hosts a URL from platform data may name: the call's patterns or the admin allowlist."""

    def __init__(self, allowlist: Sequence[str]) -> None:
        self.allowlist = tuple(allowlist)

    def allows(self, url: str, hosts: Sequence[str]) -> bool:
        if URL(url).scheme != "https" and not host_allowed(url, self.allowlist):
            return False
        return host_allowed(url, hosts) or host_allowed(url, self.allowlist)


@dataclass(frozen=True, slots=True)
class Sessions:
    """The client sessions calls go out on: API calls to configured endpoints (`trusted`) and to URLs
    from platform data (`guarded`: private addresses refused after DNS, on every hop), and file
    streams from each (`files`, `guarded_files`: their own bounded pools and total deadlines)."""

    trusted: aiohttp.ClientSession
    guarded: aiohttp.ClientSession
    files: aiohttp.ClientSession
    guarded_files: aiohttp.ClientSession
    wire: WireClient | None = None


class PlatformClient:
    """Sends described calls on the right session; owns timeouts, redirects, the host policy, streaming
    caps and hashes, and maps every transport failure to a Reason."""

    def __init__(self, sessions: Sessions, policy: HostPolicy) -> None:
        self.sessions = sessions
        self.session = sessions.trusted
        self.policy = policy
        self._timeouts: dict[tuple[float, float | None], aiohttp.ClientTimeout] = {}

    @classmethod
    def standalone(cls, session: aiohttp.ClientSession) -> PlatformClient:
        """A client for a command run outside a relay (an admin CLI): one session for configured endpoints."""
        return cls(Sessions(session, session, session, session), HostPolicy(()))

    def _timeout(self, call: Call) -> aiohttp.ClientTimeout:
        key = (call.timeout, call.read_timeout)
        found = self._timeouts.get(key)
        if found is None:
            found = self._timeouts[key] = aiohttp.ClientTimeout(total=call.timeout, sock_read=call.read_timeout)
        return found

    async def _open(self, call: Call, files: bool = False, proxy: str | None = None) -> aiohttp.ClientResponse:
        """Send `call`, following at most `call.redirects` redirects, each hop checked; raises
        aiohttp/timeout errors and DeliveryError(HOST_NOT_ALLOWED)."""
        if call.hosts is None and not files and not call.redirects and call.json is None and call.params is None:
            return await self.session.request(
                call.method,
                URL(call.url, encoded=True) if call.encoded else call.url,
                headers=call.headers,
                data=call.body,
                allow_redirects=False,
                timeout=self._timeout(call),
                proxy=proxy,
            )
        url, method, headers, hops = call.url, call.method, dict(call.headers), 0
        body: Any = call.body
        while True:
            if call.hosts is not None and not self.policy.allows(url, call.hosts):
                raise DeliveryError(Reason.HOST_NOT_ALLOWED)
            sessions = self.sessions
            if files:
                session = sessions.files if call.hosts is None else sessions.guarded_files
            else:
                session = sessions.trusted if call.hosts is None else sessions.guarded
            resp = await session.request(
                method,
                URL(url, encoded=True) if call.encoded else url,
                headers=headers,
                data=body,
                json=call.json if body is None else None,
                params=call.params,
                allow_redirects=False,
                timeout=self._timeout(call),
            )
            location = resp.headers.get("Location")
            if resp.status not in REDIRECTS or hops >= call.redirects or not location:
                return resp
            resp.release()
            target = str(resp.url.join(URL(location)))
            if not call.forward_auth or URL(target).host != URL(url).host:
                headers.pop("Authorization", None)
            if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                method, body = "GET", None
            url, hops = target, hops + 1

    async def call(self, call: Call) -> Answer:
        """Send a call and read its answer; transport failures become DeliveryError with a Reason. A call to
        a configured endpoint goes over the lean client when there is one (not through a proxy, which
        aiohttp carries)."""
        wire = self.sessions.wire
        proxy = None
        if (
            wire is not None
            and call.hosts is None
            and not call.redirects
            and not call.encoded
            and call.json is None
            and call.params is None
            and (call.body is None or type(call.body) is bytes)
        ):
            target = wire.route(call.url)
            if type(target) is Target:
                try:
                    return await self._lean(wire, target, call)
                except Unsupported:
                    pass
            elif type(target) is str:
                proxy = target
        try:
            resp = await self._open(call, proxy=proxy)
            try:
                raw = await resp.read()
            finally:
                resp.release()
        except aiohttp.ClientConnectorError as exc:
            if refused(exc):
                raise DeliveryError(Reason.HOST_NOT_ALLOWED, detail="private_address") from None
            raise DeliveryError(Reason.PLATFORM_UNREACHABLE, scope="connector") from None
        except TimeoutError:
            raise DeliveryError(Reason.PLATFORM_TIMEOUT, retryable=call.idempotent, scope="connector") from None
        except aiohttp.ClientError:
            raise DeliveryError(Reason.PLATFORM_CONNECTION_LOST, retryable=call.idempotent, scope="connector") from None
        return Answer(resp.status, resp.headers, raw)

    async def _lean(self, wire: WireClient, target: Target, call: Call) -> Answer:
        body = call.body
        assert body is None or type(body) is bytes
        try:
            status, headers, raw = await wire.request(
                call.method, target, call.headers, body, call.timeout, call.read_timeout, call.idempotent
            )
        except WireTimeout:
            raise DeliveryError(Reason.PLATFORM_TIMEOUT, retryable=call.idempotent, scope="connector") from None
        except WireError as exc:
            if exc.unsent:
                raise DeliveryError(Reason.PLATFORM_UNREACHABLE, scope="connector") from None
            raise DeliveryError(Reason.PLATFORM_CONNECTION_LOST, retryable=call.idempotent, scope="connector") from None
        return Answer(status, CIMultiDictProxy(CIMultiDict(headers)), raw)

    async def stream(
        self, call: Call, limit: int, *, mime: str | None = None, name: str = "file", sha256: str | None = None
    ) -> MediaStream:
        """Open a call's body as a capped stream; with `sha256` the bytes are hashed as they pass and the
        transfer is broken off on a mismatch. Failures are MediaError."""
        try:
            resp = await self._open(call, files=True)
        except DeliveryError as exc:
            raise MediaError(f"file host refused ({exc.reason.value})") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            if refused(exc):
                raise MediaError(f"file host refused: {REASON}") from None
            raise MediaError(f"file could not be fetched ({type(exc).__name__})") from None
        if resp.status != 200:
            resp.release()
            raise MediaError(f"file host answered HTTP {resp.status}", status=resp.status)
        if resp.content_length is not None and resp.content_length > limit:
            resp.release()
            raise MediaError(f"file is larger than the {limit}-byte cap")
        found = mime or resp.content_type or "application/octet-stream"
        return MediaStream(found, capped_chunks(resp, limit, sha256), resp.content_length, name)
