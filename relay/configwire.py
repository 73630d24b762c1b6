"""The config store a relay runs on: chosen by `[config_store]`, followed for changes other replicas store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from relay.app import RELAY_KEY
from relay.config import Loaded
from relay.configstore import ConfigStore, Document, FileStore, load
from relay.errors import ConfigError
from relay.swap import SwapError, Swapper

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


def follow(app: web.Application, store: ConfigStore) -> Swapper:
    """Apply every change another replica stores (PostgreSQL's notifications) to this app's relay; close the
    store with the app."""
    swapper = Swapper(app[RELAY_KEY])
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
