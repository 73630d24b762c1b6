"""Changes without restart: start the new connector instances, swap them in, drain and close the old ones."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace

from relay.app import Relay
from relay.config import Loaded
from relay.connector import Connector
from relay.consent_setup import make_guard
from relay.errors import RelayError
from relay.logs import redact_also

log = logging.getLogger("relay.swap")


class SwapError(RelayError):
    """A new connector instance did not start; nothing was changed."""

    def __init__(self, instance: str, error: str) -> None:
        super().__init__(f"connectors.{instance} did not start ({error}); nothing was changed")
        self.instance = instance


@dataclass(frozen=True, slots=True)
class Changes:
    """What an applied config changed: instances added, replaced, removed, and whether routes moved."""

    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    routes: bool = False
    in_flight: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.replaced or self.removed or self.routes)


_LIVE = frozenset({"connectors", "routes", "disabled", "minimise"})


def restart_needed(old: Loaded, new: Loaded) -> list[str]:
    """The sections that differ between two configurations and that a running relay applies only at its next
    start (its server, keys, stores...): connectors, routes and the allowlist apply at once."""
    found = []
    for name in type(old.relay).model_fields:
        before, after = getattr(old.relay, name), getattr(new.relay, name)
        if name == "workspace":
            before, after = (
                before.model_copy(update={"allowed_types": None}),
                after.model_copy(update={"allowed_types": None}),
            )
        if name not in _LIVE and before != after:
            found.append(name)
    return found


@dataclass(slots=True)
class Swapper:
    """Applies a validated workspace to a running relay; one change at a time, in-flight deliveries finish."""

    relay: Relay
    grace: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last: Changes = Changes()

    def plan(self, loaded: Loaded) -> Changes:
        """What applying `loaded` would change."""
        old, new = self.relay.loaded.instances, loaded.instances
        return Changes(
            added=tuple(n for n in new if n not in old),
            replaced=tuple(n for n in new if n in old and old[n].config != new[n].config),
            removed=tuple(n for n in old if n not in new),
            routes=self.relay.loaded.crm_of() != loaded.crm_of()
            or self.relay.loaded.relay.routes != loaded.relay.routes,
        )

    async def apply(self, loaded: Loaded) -> Changes:
        """Start what is new or changed, swap it in with the routes, then drain and close what it replaced;
        SwapError (and nothing changed) if a new instance does not start."""
        async with self.lock:
            previous = self.relay.loaded
            changes = self.plan(loaded)
            fresh = await self._start(loaded, changes.added + changes.replaced)
            pending = self.relay.engine.pending()
            outgoing = [self.relay.connectors[n] for n in changes.replaced + changes.removed]
            self._swap(loaded, fresh, changes.removed)
            changes = self.last = replace(changes, in_flight=len(pending))
        if outgoing:
            await self._drain(pending, outgoing)
        later = restart_needed(previous, loaded)
        if later:
            log.warning("configuration sections apply at the next start: %s", ", ".join(later))
        if changes.any:
            log.info(
                "configuration applied",
                extra={
                    "added": len(changes.added),
                    "replaced": len(changes.replaced),
                    "removed": len(changes.removed),
                    "in_flight": changes.in_flight,
                },
            )
        return changes

    async def _start(self, loaded: Loaded, names: tuple[str, ...]) -> dict[str, Connector]:
        fresh: dict[str, Connector] = {}
        for name in names:
            conn = self.relay.build(name, loaded.instances[name])
            try:
                await conn.start()
            except Exception as exc:
                await _close(conn)
                for started in fresh.values():
                    await _close(started)
                raise SwapError(name, type(exc).__name__) from None
            fresh[name] = conn
        return fresh

    def _swap(self, loaded: Loaded, fresh: dict[str, Connector], removed: tuple[str, ...]) -> None:
        relay = self.relay
        for name in removed:
            relay.hooks.unmount(name)
            relay.connectors.pop(name, None)
            relay.started.pop(name, None)
            relay.engine.forget(name)
        for name, conn in fresh.items():
            relay.connectors[name] = conn
            relay.started[name] = True
            relay.engine.forget(name)
            relay.hooks.mount(name, conn)
        router = relay.engine.router
        router.crm_of.clear()
        router.crm_of.update(loaded.crm_of())
        router.kinds.clear()
        router.kinds.update({n: i.manifest.kind for n, i in loaded.instances.items()})
        relay.loaded = loaded
        redact_also(loaded.secrets())
        relay.engine.guard = make_guard(loaded, relay.ledger, relay.connectors, relay.metrics)

    async def _drain(self, pending: set[asyncio.Task[object]], outgoing: list[Connector]) -> None:
        grace = self.relay.loaded.relay.server.shutdown_grace if self.grace is None else self.grace
        if pending:
            await asyncio.wait(pending, timeout=grace)
        for conn in outgoing:
            await _close(conn)


async def _close(conn: Connector) -> None:
    try:
        await conn.close()
    except Exception as exc:
        log.warning("connector close failed", extra={"connector": conn.name, "error": type(exc).__name__})
