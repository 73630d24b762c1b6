"""The config store a relay runs on: chosen by `[config_store]`, followed for changes other replicas store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from relay.app import RELAY_KEY, Relay
from relay.config import Loaded
from relay.configstore import ConfigStore, Document, FileStore, load
from relay.errors import ConfigError
from relay.swap import SwapError, Swapper

if TYPE_CHECKING:
    from relay.admin.site import Extension

log = logging.getLogger("relay.configstore")

CONFIG_STORE: web.AppKey[ConfigStore] = web.AppKey("relay.config_store")
SWAPPER: web.AppKey[Swapper] = web.AppKey("relay.swapper")


async def open_store(loaded: Loaded, path: Path | None) -> tuple[ConfigStore | None, Loaded]:
    """The configured store and the workspace as it holds it; a PostgreSQL store empty for this workspace is
    seeded with the file's document. (None for the built-in sandbox, which has no file.)"""
    cfg = loaded.relay.config_store
    if cfg.backend == "file":
        return (FileStore(path) if path is not None else None), loaded
    from relay.configstore_pg import PostgresStore

    assert cfg.dsn is not None, "validated by StoreConfig"
    store = PostgresStore(
        cfg.dsn.reveal(), loaded.relay.workspace.id, cfg.schema_name, cfg.keep, f"postgres:{cfg.schema_name}"
    )
    seed = await FileStore(path).read() if path is not None else None
    await store.open(seed)
    try:
        return store, load(store, await store.read())
    except BaseException:
        await store.close()
        raise


def follow(app: web.Application, store: ConfigStore, swapper: Swapper | None = None) -> Swapper:
    """Apply every change another replica stores (PostgreSQL's notifications) to this app's relay; close the
    store with the app."""
    swapper = swapper or Swapper(app[RELAY_KEY])
    app[CONFIG_STORE] = store
    app[SWAPPER] = swapper

    async def reload(doc: Document) -> None:
        try:
            await swapper.apply(load(store, doc))
        except (ConfigError, SwapError) as exc:
            log.error("stored configuration not applied", extra={"error": type(exc).__name__})

    async def following(app: web.Application) -> AsyncIterator[None]:
        await store.watch(reload)
        yield
        await store.close()

    app.cleanup_ctx.append(following)
    return swapper


class StoreWiring:
    """One relay's config store, the swapper that applies its changes one at a time, and the console's
    connector pages on both."""

    def __init__(self, store: ConfigStore) -> None:
        self.store = store
        self.swapper: Swapper | None = None

    def swapper_for(self, relay: Relay) -> Swapper:
        if self.swapper is None:
            self.swapper = Swapper(relay)
        return self.swapper

    def pages(self, relay: Relay) -> Extension:
        """The connector pages for the admin console (imported only when the console is configured)."""
        from relay.admin.console import Console
        from relay.admin.console_pages import console_extension

        return console_extension(Console.of(relay, self.store, swapper=self.swapper_for(relay)))

    def follow(self, app: web.Application) -> Swapper:
        """Follow the store's changes on this app's relay, through the same swapper as the pages."""
        return follow(app, self.store, self.swapper_for(app[RELAY_KEY]))

    async def reread(self, relay: Relay) -> None:
        """Read the store again (on SIGHUP: an operator edited the file) and apply what changed, as the console
        does; a configuration that does not load or start is logged, problem by problem, and nothing changes."""
        try:
            changes = await self.swapper_for(relay).apply(load(self.store, await self.store.read()))
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("configuration not reloaded: %s", problem)
            return
        except SwapError as exc:
            log.error("configuration not reloaded: %s", exc)
            return
        if not changes.any:
            log.info("configuration reloaded: no connector or route changed")
