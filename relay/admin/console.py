"""What the connector pages act on: the running relay, the config store, and applying a change without restart."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from relay.admin.allowlist import effective, file_allowlist, refused_type
from relay.admin.principal import AUDIT, CSRF_FIELD, CSRF_HEADER, Principal, Role, csrf_token, require
from relay.app import Relay
from relay.checkup import Row
from relay.configstore import ConfigStore, Document, load
from relay.errors import ConfigError
from relay.swap import Changes, SwapError, Swapper

log = logging.getLogger("relay.admin")


@dataclass(slots=True)
class Console:
    """The connector pages' state: the relay they change, its config store, and the last connection tests."""

    relay: Relay
    store: ConfigStore
    swapper: Swapper
    base: str = "/admin"
    tests: dict[str, list[Row]] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def of(cls, relay: Relay, store: ConfigStore, base: str = "/admin", swapper: Swapper | None = None) -> Console:
        """The console of a running relay; share the `swapper` that follows the store (changes one at a time)."""
        return cls(relay, store, swapper or Swapper(relay), base)

    async def apply(self, doc: Document) -> tuple[Changes | None, list[str]]:
        """Validate the whole document, start and swap in what changed, then store it; the problems otherwise
        (also when the stored version is no longer the one `doc` was edited from)."""
        async with self.lock:
            if doc.version and (await self.store.read()).version != doc.version:
                return None, ["the configuration was changed meanwhile (by someone else); reload and change it again"]
            return await self._apply(doc)

    async def _apply(self, doc: Document) -> tuple[Changes | None, list[str]]:
        try:
            loaded = load(self.store, doc)
        except ConfigError as exc:
            return None, [p.removeprefix(f"{self.store.source}: ") for p in exc.problems]
        previous = self.relay.loaded
        try:
            changes = await self.swapper.apply(loaded)
        except SwapError as exc:
            return None, [str(exc)]
        try:
            await self.store.write(doc)
        except Exception as exc:
            await self.swapper.apply(previous)
            log.error("configuration not saved", extra={"error": type(exc).__name__})
            return None, [f"the configuration could not be saved ({type(exc).__name__}); nothing was changed"]
        return changes, []

    async def set_allowed(self, types: list[str]) -> str | None:
        """Store the owner's allowlist as workspace.allowed_types of a new version; the problem if it is refused."""
        async with self.lock:
            doc = await self.store.read()
            raw = doc.edited()
            workspace = raw.get("workspace")
            raw["workspace"] = {**(workspace if isinstance(workspace, dict) else {}), "allowed_types": types}
            _, problems = await self._apply(Document(raw, doc.secrets, doc.version))
        return "; ".join(problems) or None

    def allowed(self) -> list[str] | None:
        """The allowlist of the configuration this relay runs now."""
        return self.relay.loaded.relay.workspace.allowed_types

    async def allowlist(self) -> tuple[list[str] | None, str]:
        """The allowlist in force now, as loading the stored configuration checks it (its workspace.allowed_types,
        else the owner's choice saved on the allowlist page) and where it comes from."""
        saved = await asyncio.to_thread(file_allowlist, self.store.base)
        return effective((await self.store.read()).raw, saved)

    async def refusal(self, kind: str) -> str | None:
        """Why a connector of this type may not be added or changed now; None when the allowlist permits it."""
        return refused_type(kind, *await self.allowlist())

    async def reload(self, doc: Document) -> Changes | None:
        """Apply a document another replica stored (None if it does not validate here)."""
        try:
            return await self.swapper.apply(load(self.store, doc))
        except (ConfigError, SwapError) as exc:
            log.error("stored configuration not applied", extra={"error": type(exc).__name__})
            return None


async def changing(request: web.Request) -> tuple[Principal, dict[str, str]]:
    """An admin's state change: role checked first, then the CSRF field of the posted form; returns the form."""
    who = require(request, Role.ADMIN)
    form = await request.post()
    expected = csrf_token(request)
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise web.HTTPForbidden(text="missing or wrong CSRF token; reload the page and try again")
    return who, {k: v for k, v in form.items() if isinstance(v, str)}


async def audit(request: web.Request, action: str, who: Principal, keys: Sequence[str], outcome: str = "ok") -> None:
    """Record an admin action: key names only, never values."""
    await request.config_dict[AUDIT].record(action, who, request.remote, keys=list(keys), outcome=outcome)


def routes_of(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's [[routes]] as a list of tables."""
    found = raw.get("routes", [])
    return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []
