"""The pipeline's `Inbound.then`: it sees a single message's result and may answer with its own JSON body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from relay.connector import Hook, HookRequest, Inbound, Outcome, Result
from relay.hooks import Deliver, handler
from relay.model import Address, Kind, Message
from relay.reasons import Reason

MESSAGE = Message(kind=Kind.TEXT, id="m-1", origin="src", conversation=Address("src", "c-1"))


class Ctx:
    """A context whose delivery answers with a fixed result."""

    def __init__(self, result: Result) -> None:
        self.result = result

    @property
    def deliver(self) -> Deliver:
        async def run(message: Message) -> Result:
            return self.result

        return run


async def serve(aiohttp_client: Any, result: Result, own: Mapping[str, Any] | None, seen: list[Result]) -> Any:
    async def then(got: Result) -> Mapping[str, Any] | None:
        seen.append(got)
        return own

    def parse(request: HookRequest, _: Any) -> Inbound:
        return Inbound(((MESSAGE,),), then=then)

    hook = Hook("POST", "/", lambda _: None, parse, failed_status=422)
    app = web.Application()
    app.router.add_post("/", handler(hook, Ctx(result)))
    return await aiohttp_client(app)


async def test_then_answers_with_its_own_body_once_it_saw_the_result(aiohttp_client: Any) -> None:
    seen: list[Result] = []
    client = await serve(aiohttp_client, Result(Outcome.DELIVERED), {"statusCode": 200, "value": "x"}, seen)
    resp = await client.post("/", data=b"{}")
    assert resp.status == 200 and await resp.json() == {"statusCode": 200, "value": "x"}
    assert resp.content_type == "application/json" and [r.outcome for r in seen] == [Outcome.DELIVERED]


async def test_then_without_a_body_keeps_the_usual_answer(aiohttp_client: Any) -> None:
    seen: list[Result] = []
    failed = Result(Outcome.FAILED, Reason.PLATFORM_REJECTED)
    client = await serve(aiohttp_client, failed, None, seen)
    resp = await client.post("/", data=b"{}")
    assert resp.status == 422 and (await resp.json())["reason"] == "platform_rejected" and seen == [failed]
