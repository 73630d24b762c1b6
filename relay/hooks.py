"""The one inbound pipeline every webhook runs: bounded read, authenticate, parse, deliver each, answer."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, cast

from aiohttp import web

from relay import codec
from relay.connector import Hook, HookRequest, Inbound, Outcome, Result
from relay.errors import DeliveryError
from relay.http import Handler, json_answer, read_body, respond
from relay.model import Message

Deliver = Callable[[Message], Awaitable[Result]]


class Delivering(Protocol):
    """Where a hook hands its messages: a connector's context (looked up per request)."""

    @property
    def deliver(self) -> Deliver: ...


_DELIVERED = Result(Outcome.DELIVERED)
_IGNORED = codec.dumps({"status": "ignored"})


async def deliver_group(group: Sequence[Message], deliver: Deliver) -> Result:
    """Deliver a group in order, stopping at the first message the source must redeliver."""
    result = _DELIVERED
    for message in group:
        result = await deliver(message)
        if not result.acknowledged:
            break
    return result


async def deliver_all(inbound: Inbound, deliver: Deliver) -> list[Result]:
    """Every group of a parsed request, the groups at once."""
    groups = inbound.groups
    if len(groups) == 1:
        return [await deliver_group(groups[0], deliver)]
    return list(await asyncio.gather(*(deliver_group(g, deliver) for g in groups)))


def answer(results: Sequence[Result], failed_status: int = 200) -> web.Response:
    """One answer for a request: ignored, the one result, or the longest redelivery wait if any is pending."""
    if not results:
        return web.Response(body=_IGNORED, content_type="application/json")
    if len(results) == 1:
        return respond(results[0], failed_status)
    pending = [r for r in results if not r.acknowledged]
    if pending:
        return respond(max(pending, key=lambda r: r.retry_after or 0))
    return respond(_DELIVERED)


def settling(deliver: Deliver, settle: Callable[[Message, Result], Awaitable[Result]]) -> Deliver:
    """`deliver`, with each result passed through the hook's `settle` step."""

    async def run(message: Message) -> Result:
        return await settle(message, await deliver(message))

    return run


def handler(hook: Hook, ctx: Delivering) -> Handler:
    """The aiohttp handler running `hook` through the pipeline, delivering through `ctx.deliver` (errors
    become 4xx in `guarded`); an authenticate or parse step that must read the platform and cannot raises
    DeliveryError, answered like a delivery that failed (e.g. 503 + Retry-After when signing keys cannot
    be fetched)."""

    authenticate, parse, failed_status = hook.authenticate, hook.parse, hook.failed_status
    wait_auth, wait_parse = inspect.iscoroutinefunction(authenticate), inspect.iscoroutinefunction(parse)
    settle = hook.settle

    async def run(request: web.Request) -> web.StreamResponse:
        body = await read_body(request)
        seen = HookRequest(request.headers, request.query, body, request.match_info, request.remote or "")
        try:
            credential = await authenticate(seen) if wait_auth else authenticate(seen)
            parsed = parse(seen, credential)
            inbound = cast(Inbound, await parsed if wait_parse else parsed)  # type: ignore[misc]
        except DeliveryError as exc:
            outcome = Outcome.RETRY if exc.retryable else Outcome.FAILED
            return respond(Result(outcome, exc.reason, retry_after=exc.retry_after, detail=exc.detail), failed_status)
        if inbound.reply is not None:
            return inbound.reply
        send = ctx.deliver if settle is None else settling(ctx.deliver, settle)
        groups = inbound.groups
        if len(groups) == 1 and len(groups[0]) == 1:
            result = await send(groups[0][0])
            own = None if inbound.then is None else await inbound.then(result)
            if own is not None:
                return json_answer(own)
            return respond(result, failed_status, inbound.fields)
        return answer(await deliver_all(inbound, send), failed_status)

    return run
