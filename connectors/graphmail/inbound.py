"""Graph mail in: change notifications (clientState checked; the validation handshake answered only while
the relay itself creates or renews its subscription) only wake the sweep; the mailbox is the queue. One
replica (a lease) keeps the subscription alive and sweeps the inbox: deliver, then move to the done folder."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aiohttp import web

from connectors.graphmail import convert
from connectors.graphmail.config import GraphMailConfig
from relay.client import Answer, Call
from relay.connector import Context, HookRequest, Inbound
from relay.credential import same
from relay.errors import AuthError, BadRequest, DeliveryError, MediaError
from relay.http import parse_json
from relay.lease import Lease
from relay.mailbuild import is_own
from relay.mailparse import MailClass
from relay.model import Message

MAX_TOKEN = 1024
MAX_BACKOFF = 300.0


class Caller(Protocol):
    """Authorised Graph calls (the msal adapter implements them)."""

    async def call(self, make: Callable[[str], Call]) -> Answer: ...

    async def stream_call(self, make: Callable[[str], Call], limit: int, truncate: bool = False) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Validation:
    """A subscription validation request: the token to echo."""

    token: str


async def authenticate(
    client_state: bytes, validating: Callable[[], Awaitable[bool]], request: HookRequest
) -> Validation | None:
    """A validation handshake is accepted only while this relay creates or renews its subscription; every
    notification in a batch must carry the subscription's clientState (compared in constant time)."""
    token = request.query.get("validationToken")
    if token is not None:
        if not await validating():
            raise AuthError("no subscription is being created or renewed now", 403)
        if not token or len(token) > MAX_TOKEN or not token.isprintable():
            raise AuthError("validationToken is malformed", 403)
        return Validation(token)
    try:
        data = parse_json(request.body)
    except BadRequest:
        raise AuthError("not a Graph change notification", 401) from None
    items = data.get("value") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise AuthError("not a Graph change notification", 401)
    for item in items:
        state = item.get("clientState") if isinstance(item, dict) else None
        if not isinstance(state, str) or not same(state.encode(), client_state):
            raise AuthError("clientState does not match this relay's subscription", 403)
    return None


def parse(sweeper: Sweeper, request: HookRequest, found: Validation | None) -> Inbound:
    """Echo a validation token; otherwise note what the notifications say and wake the sweep."""
    if found is not None:
        reply = web.Response(text=found.token, content_type="text/plain", headers={"X-Content-Type-Options": "nosniff"})
        return Inbound(reply=reply)
    data = parse_json(request.body)
    for item in data.get("value", []) if isinstance(data, dict) else []:
        event = item.get("lifecycleEvent")
        if event == "subscriptionRemoved":
            sweeper.subscription = None
        elif event == "reauthorizationRequired":
            sweeper.reauthorize = True
        elif event not in (None, "missed"):
            raise BadRequest("unknown lifecycle event")
    sweeper.wake.set()
    return Inbound()


class Sweeper:
    """The receive loop: lease, the done folder, the subscription, then sweep the inbox on every wake-up
    (a notification) and every `sweep_interval` seconds (notifications are hints and may be lost)."""

    def __init__(
        self,
        name: str,
        config: GraphMailConfig,
        ctx: Context,
        graph: Caller,
        read: Callable[[bytes, str, bool], tuple[MailClass | None, Message | None]],
        deadline: float,
    ) -> None:
        self.name = name
        self.config = config
        self.ctx = ctx
        self.graph = graph
        self.read = read
        self.wake = asyncio.Event()
        self.lease = Lease(ctx.state, "graphmail:" + ctx.sealer.digest(f"lease:{name}"), max(60.0, deadline + 30.0))
        self.window_key = "graphmail:" + ctx.sealer.digest(f"validating:{name}")
        self.folder: str | None = None
        self.subscription: tuple[str, datetime] | None = None
        self.reauthorize = False
        self.sweeps = 0

    async def validating(self) -> bool:
        return await self.ctx.state.get(self.window_key) is not None

    async def release(self) -> None:
        """Give the lease up at a clean stop, so another replica takes the mailbox over at once."""
        try:
            await self.lease.release()
        except Exception as exc:
            self._log("state store unavailable", exc)

    def _log(self, what: str, exc: BaseException) -> None:
        detail = exc.reason.value if isinstance(exc, DeliveryError) else type(exc).__name__
        self.ctx.log.warning(what, extra={"connector": self.name, "error": detail})

    async def run(self) -> None:
        delay = 1.0
        while True:
            pause = self.config.sweep_interval
            try:
                if await self.lease.take():
                    await self.upkeep()
                    pause = await self.sweep() or self.config.sweep_interval
                    delay = 1.0
                else:
                    pause = min(5.0, self.lease.ttl / 4)
            except Exception as exc:
                self._log("mailbox sweep failed", exc)
                retry = exc.retry_after if isinstance(exc, DeliveryError) else None
                pause, delay = retry or delay * random.uniform(1.0, 1.3), min(MAX_BACKOFF, delay * 2)
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=pause)

    async def _ok(self, make: Callable[[str], Call]) -> Answer:
        answer = await self.graph.call(make)
        if not answer.ok:
            raise convert.graph_error(answer)
        return answer

    async def upkeep(self) -> None:
        """The done folder exists; the subscription exists and lives long enough (webhook mode)."""
        cfg = self.config
        if self.folder is None:
            found = convert.values(await self._ok(convert.find_folder(cfg)))
            made = found[0] if found else (await self._ok(convert.create_folder(cfg))).json()
            self.folder = str(made["id"])
        if cfg.notifications != "webhook":
            return
        now = datetime.now(UTC)
        if self.subscription is None:
            self.subscription = await self._adopt() or await self._subscribe(now)
        sub_id, expires = self.subscription
        if self.reauthorize or expires - now < timedelta(minutes=cfg.renew_before_minutes):
            self.reauthorize = False
            url = f"{cfg.graph_url.rstrip('/')}/subscriptions/{sub_id}"
            answer = await self._validated(
                convert.post(cfg, url, {"expirationDateTime": convert.expiry(cfg, now)}, "PATCH")
            )
            if answer.status == 404:
                self.subscription = await self._subscribe(now)
            elif not answer.ok:
                raise convert.graph_error(answer)
            else:
                self.subscription = (sub_id, _expiry(answer.json(), now))

    async def _adopt(self) -> tuple[str, datetime] | None:
        """This relay's subscription from before a restart (nothing is kept locally to remember it)."""
        url = f"{self.config.graph_url.rstrip('/')}/subscriptions"
        answer = await self._ok(lambda token: Call("GET", url, {"Authorization": f"Bearer {token}"}, idempotent=True))
        for item in convert.values(answer):
            if item.get("notificationUrl") == self.ctx.hook_url("/notify") and item.get("id"):
                return str(item["id"]), _expiry(item, datetime.now(UTC))
        return None

    async def _subscribe(self, now: datetime) -> tuple[str, datetime]:
        cfg = self.config
        body = convert.subscription(cfg, self.ctx.hook_url("/notify"), self.ctx.hook_url("/lifecycle"), now)
        answer = await self._validated(convert.post(cfg, f"{cfg.graph_url.rstrip('/')}/subscriptions", body))
        if not answer.ok:
            raise convert.graph_error(answer)
        data = answer.json()
        self.ctx.log.info("graph subscription created", extra={"connector": self.name})
        return str(data["id"]), _expiry(data, now)

    async def _validated(self, make: Callable[[str], Call]) -> Answer:
        """A call during which Graph may validate the notification URLs (the handshake is accepted then)."""
        await self.ctx.state.set(self.window_key, "1", 30.0)
        try:
            return await self.graph.call(make)
        finally:
            await self.ctx.state.delete(self.window_key)

    async def sweep(self) -> float:
        """Deliver what is in the inbox, oldest first; stop at the first mail not accepted and return how
        long to wait before trying again (0 when the inbox is done)."""
        self.sweeps += 1
        cfg = self.config
        done: set[str] = set()
        while True:
            items = [str(i["id"]) for i in convert.values(await self._ok(convert.inbox(cfg))) if i.get("id")]
            items = [i for i in items if i not in done]
            if not items:
                return 0.0
            for graph_id in items:
                done.add(graph_id)
                if not await self.lease.take():
                    return 0.0
                pause = await self._one(graph_id)
                if pause:
                    return pause

    async def _one(self, graph_id: str) -> float:
        try:
            raw, header_only = await self.graph.stream_call(convert.mime(self.config, graph_id), self._cap()), False
        except MediaError:
            raw, header_only = await self._header(graph_id), True
        kind, message = self.read(raw, graph_id, header_only)
        if message is not None:
            result = await self.ctx.deliver(message)
            if not result.acknowledged:
                return result.retry_after or 5.0
        else:
            why = kind.value if kind is not None else "unreadable"
            self.ctx.metrics.inc("relay_mail_skipped_total", connector=self.name, why=why)
        assert self.folder is not None
        await self._ok(convert.move(self.config, graph_id, self.folder))
        return 0.0

    def _cap(self) -> int:
        return self.config.max_mail_bytes

    async def _header(self, graph_id: str) -> bytes:
        """The header of a message over the size cap (from the first bytes of its MIME)."""
        head = await self.graph.stream_call(convert.mime(self.config, graph_id), 64 << 10, truncate=True)
        end = head.find(b"\r\n\r\n")
        return head[: end + 4] if end >= 0 else head


def _expiry(data: Any, now: datetime) -> datetime:
    """A subscription's expirationDateTime (Graph writes seven fractional digits and a Z); `now` if unreadable."""
    raw = data.get("expirationDateTime") if isinstance(data, dict) else None
    try:
        return datetime.strptime(str(raw)[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return now


def own_checker(tag: Callable[[str], str], address: str) -> Callable[[str | None, str | None], bool]:
    """Mail the relay wrote itself: its Message-ID carries our keyed tag, or it is from our address."""

    def own(message_id: str | None, sender: str | None = None) -> bool:
        if message_id is not None and is_own(message_id, tag):
            return True
        return sender is not None and sender.lower() == address.lower()

    return own
