"""The connector contract: manifest, config base, context from the core, and the four methods."""

from __future__ import annotations

import asyncio
import builtins
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp
from aiohttp import web
from multidict import CIMultiDictProxy
from pydantic import BaseModel, ConfigDict, Field

from relay.capabilities import Capabilities as Capabilities
from relay.capabilities import Limit as Limit
from relay.errors import DeliveryError, MediaError
from relay.exposure import Exposure
from relay.frozen import fast_init
from relay.metrics import Metrics
from relay.model import Address, Message
from relay.reasons import Reason
from relay.stream import MediaStream as MediaStream

if TYPE_CHECKING:
    from relay.client import PlatformClient
    from relay.media import MediaService
    from relay.seal import Sealer
    from relay.state import StateStore


class ConnectorKind(StrEnum):
    MESSENGER = "messenger"
    CRM = "crm"


class ConnectorConfig(BaseModel):
    """Base of every connector's config model: unknown keys are errors. `ack_deadline` is the one
    documented override of a capability: how long a source may wait for the destination."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    ack_deadline: float | None = Field(default=None, gt=0, le=120)


class Outcome(StrEnum):
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    FAILED = "failed"
    OVERLOADED = "overloaded"


@fast_init
@dataclass(frozen=True, slots=True)
class Result:
    """What became of a message handed to the core."""

    outcome: Outcome
    reason: Reason | None = None
    platform_id: str | None = None
    retry_after: float | None = None
    detail: str | None = None

    @property
    def acknowledged(self) -> bool:
        """True when the source may forget the message (delivered, duplicate, or failed for good)."""
        return self.outcome in (Outcome.DELIVERED, Outcome.DUPLICATE, Outcome.FAILED)


@dataclass(frozen=True, slots=True)
class Check:
    """One line of `relay check`: what was tried, whether it worked (None: could not tell), a content-free
    detail, and for a failure its reason and the host tried (the core infers both when they are not given)."""

    what: str
    ok: bool | None
    detail: str = ""
    reason: Reason | None = None
    host: str = ""


@dataclass(frozen=True, slots=True)
class Route:
    """An aiohttp route mounted under /hooks/<instance>; `public` routes are pages that need no auth;
    `local` ones have no authentication of their own and are served over loopback only."""

    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    public: bool = False
    local: bool = False


@fast_init
@dataclass(frozen=True, slots=True)
class HookRequest:
    """What a webhook's authenticate and parse steps see of a request (never the aiohttp request); `remote`
    is the peer address of the connection (a proxy's, behind one), for address allowlists."""

    headers: CIMultiDictProxy[str] = field(repr=False)
    query: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    match: Mapping[str, str] = field(default_factory=dict, repr=False)
    remote: str = field(default="", repr=False)


@fast_init
@dataclass(frozen=True, slots=True)
class Inbound:
    """What a parse step found: groups of messages (in order within a group, groups at once), or an
    immediate answer (a handshake or challenge) with nothing to deliver; `fields` join the answer to a
    single message once it is delivered (e.g. the reference of a conversation the request started);
    `then`, for a single message, sees its result and may give the JSON body of a 200 answer instead of
    the usual one (e.g. what an invoke waits for), or None."""

    groups: tuple[tuple[Message, ...], ...] = ()
    reply: web.StreamResponse | None = None
    fields: tuple[tuple[str, str], ...] = ()
    then: Callable[[Result], Awaitable[Mapping[str, Any] | None]] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, *messages: Message) -> Inbound:
        """Each message on its own, delivered at once."""
        if len(messages) == 1:
            return cls((messages,))
        return cls(tuple((m,) for m in messages))


@dataclass(frozen=True, slots=True)
class Hook:
    """A webhook route under /hooks/<instance>: the core runs shed, bounded read, `authenticate`,
    `parse`, delivery of each message and the answer. `authenticate` returns what `parse` needs of
    the credential (or None); `failed_status` answers a message refused for good (e.g. 422 to a CRM);
    `settle`, if set, sees each message's result before the answer and may change it (e.g. tell the
    CRM its message was sent, and have the source redeliver if that could not be done). Either step
    may be a plain function or a coroutine function."""

    method: str
    path: str
    authenticate: Callable[[HookRequest], Any]
    parse: Callable[[HookRequest, Any], Inbound | Awaitable[Inbound]]
    failed_status: int = 200
    settle: Callable[[Message, Result], Awaitable[Result]] | None = None


@dataclass(slots=True)
class Context:
    """What the core hands a connector: client sessions, delivery, sealing, media, state.

    `session` is for endpoints the admin configured; `fetch_session` for any URL taken from platform or CRM
    data (attachment and media URLs, service URLs): it never connects to private or metadata addresses.
    `messenger(channel)` is a messenger routed to this CRM, for what a CRM may ask of it beyond messages
    (its capabilities, its templates); DeliveryError for any other instance."""

    instance: str
    workspace: str
    public_url: str
    session: aiohttp.ClientSession
    client: PlatformClient
    fetch_session: aiohttp.ClientSession
    deliver: Callable[[Message], Awaitable[Result]]
    sealer: Sealer
    media: MediaService
    state: StateStore
    log: logging.Logger
    max_body_bytes: int = 1 << 20
    metrics: Metrics = field(default_factory=Metrics)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    exposure: Exposure = field(default_factory=lambda: Exposure(""))
    messenger: Callable[[str], Connector] = field(default=lambda _: _not_routed())

    def hook_url(self, path: str = "") -> str:
        """The public URL of one of this instance's routes."""
        return f"{self.public_url.rstrip('/')}/hooks/{self.instance}{path}"

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run a background loop owned by this connector; cancelled at close."""
        task = asyncio.create_task(coro, name=f"{self.instance}:{name}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


def _not_routed() -> Connector:
    raise DeliveryError(Reason.NOT_ROUTED_HERE)


class Connector(ABC):
    """A platform adapter: inbound routes or a receive loop, `send`, `check`, `close`."""

    manifest: ClassVar[Manifest]

    def __init__(self, name: str, config: Any, ctx: Context) -> None:
        self.name = name
        self.config = config
        self.ctx = ctx
        self.capabilities = self.tune(self.manifest.capabilities)

    def tune(self, manifest: Capabilities) -> Capabilities:
        """This instance's capabilities: the manifest's, with the config's documented overrides."""
        deadline = getattr(self.config, "ack_deadline", None)
        return replace(manifest, ack_deadline=deadline) if deadline else manifest

    def routes(self) -> Sequence[Route | Hook]:
        """Pages and webhooks mounted under /hooks/<instance>; none for loop-only connectors."""
        return ()

    async def start(self) -> None:
        """Begin receiving (register webhooks, start loops). Called once the web server listens."""
        return None

    @abstractmethod
    async def send(self, message: Message) -> str:
        """Deliver one message; return the platform's id; raise DeliveryError if not accepted."""

    async def close(self) -> None:
        """Stop loops and release resources."""
        for task in list(self.ctx.tasks):
            task.cancel()
        if self.ctx.tasks:
            await asyncio.gather(*self.ctx.tasks, return_exceptions=True)

    async def check(self) -> list[Check]:
        """Reach the platform with the configured credentials; never raise."""
        return [Check("configuration", True, "nothing to reach")]

    def health(self) -> str | None:
        """A content-free problem only an admin can fix (e.g. a revoked install), shown by /readyz; or None."""
        return None

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        """Stream a platform file held by this instance, refusing more than `limit` bytes."""
        raise MediaError("this connector holds no media")

    async def templates(self, after: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """The platform's approved message templates from cursor `after`, read now (never stored), and the
        cursor to continue from when more remain; a CRM asks through its context."""
        raise DeliveryError(Reason.UNSUPPORTED)

    def limits(self, address: Address) -> Sequence[Limit]:
        """The rate limits (from the capabilities) that apply to sending to `address`."""
        return self.capabilities.limits


@dataclass(frozen=True, slots=True)
class Manifest:
    """How a connector declares itself; exported as `MANIFEST` and registered as an entry point."""

    type: str
    kind: ConnectorKind
    summary: str
    config: builtins.type[ConnectorConfig]
    factory: builtins.type[Connector]
    capabilities: Capabilities = field(default_factory=Capabilities)

    def __post_init__(self) -> None:
        self.factory.manifest = self
