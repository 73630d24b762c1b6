"""The floor: the thinnest aiohttp forwarder (`python -m bench.baseline PORT SINK_URL SECRET [--fast]`).

Checks the secret header, parses the update, POSTs a small JSON to the sink over one shared
ClientSession (a pool as large as the relay's) and answers 200 once the sink answered; the startup
heap is frozen out of the collector, like the relay's. The targets are judged against this plain
forwarder (stdlib json, asyncio's loop, the collector's default thresholds); `--fast` runs the same
code on the relay's runtime (uvloop, orjson, the relay's young-generation threshold) as a stricter
reference that is reported beside it."""

from __future__ import annotations

import gc
import hmac
import json
import sys
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

POOL = 256
RELAY_GC_YOUNG_THRESHOLD = 50_000  # relay.cli.GC_YOUNG_THRESHOLD, without importing the relay


def app(
    sink_url: str, secret: bytes, loads: Callable[[bytes], Any], dumps: Callable[[Any], bytes], gc_young: int | None
) -> web.Application:
    state: dict[str, Any] = {"inflight": 0}

    async def forward(request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode(), secret):
            return web.Response(status=403)
        state["inflight"] += 1
        try:
            update = loads(await request.read())
            msg = update["message"]
            out = {"id": f"{msg['chat']['id']}:{msg['message_id']}", "chat": msg["chat"]["id"], "text": msg["text"]}
            body = dumps(out)
            async with state["session"].post(sink_url, data=body, headers={"Content-Type": "application/json"}) as r:
                await r.read()
                status = 200 if r.status < 300 else 503
        finally:
            state["inflight"] -= 1
        return web.Response(status=status, body=b'{"status":"delivered"}', content_type="application/json")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "inflight": state["inflight"]})

    application = web.Application()
    application.router.add_post("/hooks/tg/", forward)
    application.router.add_get("/healthz", healthz)

    async def lifecycle(_: web.Application) -> Any:
        state["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL))
        gc.collect()
        gc.freeze()
        if gc_young:
            gc.set_threshold(gc_young, 10, 10)
        yield
        await state["session"].close()

    application.cleanup_ctx.append(lifecycle)
    return application


def main(argv: list[str]) -> None:
    port, sink, secret = int(argv[0]), argv[1], argv[2].encode()
    if "--fast" in argv[3:]:
        import orjson
        import uvloop

        forwarder = app(sink, secret, orjson.loads, orjson.dumps, RELAY_GC_YOUNG_THRESHOLD)
        web.run_app(forwarder, host="127.0.0.1", port=port, access_log=None, print=None, loop=uvloop.new_event_loop())
    else:
        forwarder = app(sink, secret, json.loads, lambda value: json.dumps(value).encode(), None)
        web.run_app(forwarder, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main(sys.argv[1:])
