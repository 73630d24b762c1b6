"""Access tokens in memory (one refresh at a time, before expiry, once on a 401) and a hook's settle step."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from relay import hooks
from relay.client import Answer, Call
from relay.connector import Hook, HookRequest, Inbound, Outcome, Result
from relay.model import Address, Kind, Message
from relay.reasons import Reason
from relay.secret import Secret
from relay.tokens import Grant, TokenCache, TokenRevoked, call_with_token


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_one_refresh_for_many_callers_and_again_before_expiry() -> None:
    clock, issued = Clock(), list[str]()

    async def obtain() -> Grant:
        await asyncio.sleep(0.01)
        issued.append(f"t{len(issued)}")
        return Grant(Secret(issued[-1]), 1800)

    tokens = TokenCache(obtain, margin=300, clock=clock)
    got = await asyncio.gather(*(tokens.get() for _ in range(20)))
    assert {t.reveal() for t in got} == {"t0"} and tokens.refreshes == 1
    clock.now += 1499
    assert (await tokens.get()).reveal() == "t0"
    clock.now += 2
    assert (await tokens.get()).reveal() == "t1", "refreshed 300 s before the 1800 s ran out"
    tokens.expire(Secret("someone else's"))
    assert (await tokens.get()).reveal() == "t1"
    tokens.expire(Secret("t1"))
    assert (await tokens.get()).reveal() == "t2"


async def test_a_revoked_grant_is_not_asked_again_during_the_cooldown() -> None:
    clock, calls = Clock(), list[int]()

    async def obtain() -> Grant:
        calls.append(1)
        raise TokenRevoked("BAD_REFRESH_TOKEN")

    tokens = TokenCache(obtain, cooldown=30, clock=clock)
    for _ in range(3):
        with pytest.raises(TokenRevoked) as caught:
            await tokens.get()
    assert caught.value.reason is Reason.PLATFORM_AUTH_FAILED and not caught.value.retryable
    assert len(calls) == 1 and tokens.revoked is not None
    clock.now += 31
    with pytest.raises(TokenRevoked):
        await tokens.get()
    assert len(calls) == 2


async def test_a_401_refreshes_once_then_gives_the_answer() -> None:
    sent: list[str] = []
    answers = iter((401, 200, 401, 401))

    class Client:
        async def call(self, call: Call) -> Answer:
            sent.append(call.headers["Authorization"])
            return Answer(next(answers), CIMultiDictProxy(CIMultiDict()), b"")

    count = iter(range(10))

    async def obtain() -> Grant:
        return Grant(Secret(f"t{next(count)}"), 1800)

    tokens = TokenCache(obtain)
    client: Any = Client()

    def make(token: Secret) -> Call:
        return Call("GET", "https://api.example.com/x", {"Authorization": token.reveal()})

    assert (await call_with_token(client, tokens, make)).status == 200
    assert sent == ["t0", "t1"]
    assert (await call_with_token(client, tokens, make)).status == 401
    assert sent[2:] == ["t1", "t2"]


async def test_settle_sees_each_result_and_may_ask_for_a_redelivery(aiohttp_client: Any) -> None:
    message = Message(kind=Kind.TEXT, id="a1", origin="crm", conversation=Address("chat", "v"))
    seen: list[tuple[str, Outcome]] = []

    async def authenticate(request: HookRequest) -> None:
        return None

    async def parse(request: HookRequest, _: Any) -> Inbound:
        return Inbound.of(message)

    async def deliver(m: Message) -> Result:
        return Result(Outcome.DELIVERED)

    async def settle(m: Message, result: Result) -> Result:
        seen.append((m.id, result.outcome))
        return Result(Outcome.RETRY, Reason.PLATFORM_BUSY, retry_after=3)

    app = web.Application()
    app.router.add_post("/h", hooks.handler(Hook("POST", "/h", authenticate, parse, settle=settle), deliver))
    client = await aiohttp_client(app)
    resp = await client.post("/h", data=b"{}")
    assert resp.status == 503 and resp.headers["Retry-After"] == "3"
    assert seen == [("a1", Outcome.DELIVERED)]
