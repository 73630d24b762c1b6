"""slack-sdk insists on its own HTTP for Web API methods and Socket Mode: its clients, errors as Reasons, logs."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from connectors.slack.convert import party
from relay.client import retry_after
from relay.errors import DeliveryError
from relay.model import Party
from relay.reasons import Reason

AUTH = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "not_allowed_token_type"}
)
UNREACHABLE = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "user_not_found", "user_disabled", "cannot_dm_bot"}
)
USER_TTL = 300.0
USER_CACHE = 2000
LOOKUP_TIMEOUT = 0.35
IDENTITY_WAIT = 0.25
IDENTITY_COOLDOWN = 10.0

Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]
Envelope = Callable[[str, dict[str, Any]], Awaitable[bool]]


class _Quiet(logging.Filter):
    """Keeps library log lines to their opening words: their tails may hold bodies, URLs or tickets."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        head = re.split(r"[:(\[{]", text, maxsplit=1)[0].strip()[:80]
        if record.exc_info and record.exc_info[1] is not None:
            head += f" [{type(record.exc_info[1]).__name__}]"
        record.msg, record.args, record.exc_info, record.exc_text = f"slack library: {head}", None, None, None
        return True


def library_logger() -> logging.Logger:
    """The logger handed to slack-sdk's clients: WARNING and above, content stripped."""
    log = logging.getLogger("relay.connector.slack.lib")
    log.setLevel(logging.WARNING)
    if not any(isinstance(f, _Quiet) for f in log.filters):
        log.addFilter(_Quiet())
    return log


def web_client(base_url: str, session: aiohttp.ClientSession, token: str | None = None) -> AsyncWebClient:
    """A Web API client on the relay's session: no retries of its own (the engine retries), quiet logs."""
    return AsyncWebClient(
        token=token, base_url=base_url, session=session, logger=library_logger(), retry_handlers=[], timeout=30
    )


def refusal(status: int, headers: Mapping[str, str] | None, body: Any) -> DeliveryError:
    """A Web API answer that was not `ok`: Slack's error code decides, then the HTTP status."""
    raw = body.get("error") if isinstance(body, dict) else None
    error = re.sub(r"[^a-z0-9_]", "", str(raw or ""))[:60]
    if status == 429 or error == "ratelimited":
        return DeliveryError(Reason.THROTTLED, retry_after=retry_after(headers) or 1.0, detail=error or status)
    if error in AUTH:
        return DeliveryError(Reason.PLATFORM_AUTH_FAILED, scope="connector", detail=error)
    if error in UNREACHABLE:
        return DeliveryError(Reason.RECIPIENT_UNREACHABLE, detail=error)
    if error:
        return DeliveryError(Reason.PLATFORM_REJECTED, detail=error)
    if status >= 500:
        # Slack may have acted on the request before failing: a post is not repeated blindly.
        return DeliveryError(Reason.PLATFORM_BUSY, retryable=False, scope="connector", detail=status)
    if status in (401, 403):
        return DeliveryError(Reason.PLATFORM_AUTH_FAILED, scope="connector", detail=status)
    if status == 404:
        return DeliveryError(Reason.PLATFORM_MISCONFIGURED, scope="connector", detail=status)
    return DeliveryError(Reason.PLATFORM_REJECTED, detail=status)


def _refused(exc: SlackApiError) -> DeliveryError:
    resp = exc.response
    status = getattr(resp, "status_code", None) or getattr(resp, "status", 0)
    return refusal(int(status or 0), getattr(resp, "headers", None), getattr(resp, "data", None))


async def call(request: Awaitable[AsyncSlackResponse]) -> dict[str, Any]:
    """Await one Web API method; its JSON answer, or every failure as a content-free DeliveryError."""
    try:
        response = await request
    except SlackApiError as exc:
        raise _refused(exc) from None
    except aiohttp.ClientConnectorError:
        raise DeliveryError(Reason.PLATFORM_UNREACHABLE, scope="connector") from None
    except TimeoutError:
        raise DeliveryError(Reason.PLATFORM_TIMEOUT, scope="connector") from None
    except aiohttp.ClientError:
        raise DeliveryError(Reason.PLATFORM_CONNECTION_LOST, scope="connector") from None
    except SlackClientError as exc:
        raise DeliveryError(Reason.PLATFORM_REJECTED, detail=type(exc).__name__) from None
    return response.data if isinstance(response.data, dict) else {}


class Directory:
    """Who the app is (auth.test) and who wrote (users.info), cached; never slows a delivery for long."""

    def __init__(self, name: str, web: AsyncWebClient, include_email: bool, spawn: Spawn, log: logging.Logger) -> None:
        self.name = name
        self.web = web
        self.include_email = include_email
        self.spawn = spawn
        self.log = log
        self._user: str | None = None
        self._known = False
        self._tried = 0.0
        self._task: asyncio.Task[None] | None = None
        self._users: OrderedDict[str, tuple[float, Party]] = OrderedDict()

    async def own_user(self) -> str | None:
        """The app's bot user id. Waits at most IDENTITY_WAIT; a slow first auth.test finishes in the
        background, a failed one is tried again after a cooldown."""
        if self._known:
            return self._user
        task = self._task
        if task is None or (task.done() and time.monotonic() - self._tried > IDENTITY_COOLDOWN):
            self._tried = time.monotonic()
            task = self._task = self.spawn(self._auth_test(), "auth.test")
        await asyncio.wait({task}, timeout=IDENTITY_WAIT)
        return self._user

    async def _auth_test(self) -> None:
        try:
            got = await call(self.web.auth_test())
        except DeliveryError as exc:
            self.log.warning("auth.test failed", extra={"connector": self.name, "reason": exc.reason})
            return
        user = got.get("user_id")
        self._user, self._known = user if isinstance(user, str) else None, True

    async def sender(self, user_id: str | None) -> Party | None:
        """The sender: id always; display name (and e-mail if allowed) from users.info, briefly cached."""
        if user_id is None:
            return None
        hit = self._users.get(user_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        info: dict[str, Any] | None = None
        try:
            got = await asyncio.wait_for(call(self.web.users_info(user=user_id)), LOOKUP_TIMEOUT)
            user = got.get("user")
            info = user if isinstance(user, dict) else None
        except (DeliveryError, TimeoutError) as exc:
            reason = exc.reason if isinstance(exc, DeliveryError) else Reason.PLATFORM_TIMEOUT
            self.log.info("users.info failed", extra={"connector": self.name, "reason": reason})
        found = party(user_id, info, self.include_email)
        if info is not None:
            self._users[user_id] = (time.monotonic() + USER_TTL, found)
            self._users.move_to_end(user_id)
            while len(self._users) > USER_CACHE:
                self._users.popitem(last=False)
        return found


class Socket:
    """Socket Mode on slack-sdk's client (its own websocket, reconnects and pings): each envelope goes to
    `handle`, and is acknowledged only when that says Slack may forget it; Slack redelivers the rest."""

    def __init__(self, app_token: str, web: AsyncWebClient, handle: Envelope) -> None:
        self.app_token = app_token
        self.web = web
        self.handle = handle
        self.client: SocketModeClient | None = None

    async def run(self) -> None:
        """Open the connection (the client keeps it open until close)."""
        self.client = SocketModeClient(
            app_token=self.app_token, logger=library_logger(), web_client=self.web, ping_interval=10
        )
        self.client.socket_mode_request_listeners.append(self._on_request)
        await self.client.connect()  # type: ignore[no-untyped-call]

    async def _on_request(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        if await self.handle(request.type, request.payload):
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    async def close(self) -> None:
        """Stop the client and its session; safe to call twice."""
        client, self.client = self.client, None
        if client is not None:
            await client.close()  # type: ignore[no-untyped-call]
