"""The PTB transport on the shared aiohttp session: calls, uploads, timeouts, failures that never name the token."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InputFile, MessageEntity
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest

from connectors.telegram.errors import delivery_error
from connectors.telegram.transport import POOL_FULL, AiohttpRequest, NotSent, client_timeout, env_proxy
from tests.connectors.telegram.fake_api import TOKEN, FakeTelegram


@dataclass
class RecordingTelegram(FakeTelegram):
    """The fake Bot API, also keeping each request's content type, user agent and uploaded file parts."""

    seen: list[tuple[str, str]] = field(default_factory=list)
    uploads: list[tuple[str, str | None, str, bytes]] = field(default_factory=list)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        self.seen.append((request.content_type, request.headers.get("User-Agent", "")))
        if request.content_type != "multipart/form-data":
            return await super()._params(request)
        out: dict[str, Any] = {}
        async for part in await request.multipart():
            assert isinstance(part, aiohttp.BodyPartReader)
            data = bytes(await part.read())
            if part.filename is None:
                out[part.name or ""] = data.decode()
                with contextlib.suppress(ValueError):
                    out[part.name or ""] = json.loads(data)
            else:
                self.uploads.append((part.name or "", part.filename, part.headers.get("Content-Type", ""), data))
                out[part.name or ""] = data
        return out


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as shared:
        yield shared


@pytest.fixture
async def fake(aiohttp_server: Any) -> tuple[RecordingTelegram, str]:
    recording = RecordingTelegram()
    server = await aiohttp_server(recording.app())
    return recording, str(server.make_url("/bot"))


@pytest.fixture
async def slow_api(aiohttp_server: Any) -> str:
    async def stall(request: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.json_response({"ok": True, "result": []})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", stall)
    server = await aiohttp_server(app)
    return str(server.make_url("/bot"))


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in (None, "telegram", "aiohttp", "asyncio", "connectors"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def bot(session: aiohttp.ClientSession, api: str, **timeouts: Any) -> Bot:
    return Bot(
        TOKEN,
        base_url=api,
        request=AiohttpRequest(session, **timeouts),
        get_updates_request=AiohttpRequest(session, connection_pool_size=1, **timeouts),
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def assert_tokenless(error: TelegramError, logs: pytest.LogCaptureFixture) -> None:
    secret = TOKEN.split(":")[1]
    assert logs.records, "nothing was captured: the DEBUG capture is not in effect"
    assert secret not in "".join(traceback.format_exception(error))
    assert secret not in repr(error.__cause__) and secret not in repr(error.__context__)
    assert all(secret not in r.getMessage() for r in logs.records)


async def test_calls_parse_results_and_send_form_encoded_parameters(
    session: aiohttp.ClientSession, fake: tuple[RecordingTelegram, str]
) -> None:
    recording, api = fake
    async with bot(session, api) as tg:
        me = await tg.get_me()
        sent = await tg.send_message(chat_id=42, text="hi bold", entities=[MessageEntity("bold", 3, 4)])
    assert me.username == "relay_test_bot" and me.is_bot
    assert (sent.chat.id, sent.text) == (42, "hi bold")
    method, params = recording.calls[-1]
    assert method == "sendMessage"
    assert params["entities"] == [{"type": "bold", "offset": 3, "length": 4}]
    assert recording.seen[-1] == ("application/x-www-form-urlencoded", BaseRequest.USER_AGENT)
    assert not session.closed


async def test_upload_arrives_as_multipart_with_the_file(
    session: aiohttp.ClientSession, fake: tuple[RecordingTelegram, str]
) -> None:
    recording, api = fake
    data = b"%PDF-1.4 " + bytes(range(256)) * 40
    document = InputFile(data, filename="отчёт 1.pdf")
    sent = await bot(session, api).send_document(chat_id=7, document=document, caption="the report")
    assert sent.document is not None and sent.document.file_size == len(data)
    assert recording.seen[-1][0] == "multipart/form-data"
    assert recording.uploads == [("document", "отчёт 1.pdf", "application/pdf", data)]
    assert recording.calls[-1][1]["caption"] == "the report"


async def test_api_errors_keep_ptb_semantics(
    session: aiohttp.ClientSession, fake: tuple[RecordingTelegram, str]
) -> None:
    recording, api = fake
    recording.blocked.add(9)
    with pytest.raises(TelegramError, match="blocked by the user"):
        await bot(session, api).send_message(chat_id=9, text="hi")


async def test_read_timeout_is_timed_out_without_the_token(
    session: aiohttp.ClientSession, slow_api: str, logs: pytest.LogCaptureFixture
) -> None:
    tg = bot(session, slow_api, read_timeout=0.2)
    logs.clear()
    with pytest.raises(TimedOut) as caught:
        await tg.get_me()
    assert_tokenless(caught.value, logs)
    assert delivery_error(caught.value).reason == "platform_timeout"


async def test_connection_refused_is_network_error_without_the_token(
    session: aiohttp.ClientSession, logs: pytest.LogCaptureFixture
) -> None:
    tg = bot(session, f"http://127.0.0.1:{free_port()}/bot")
    logs.clear()
    with pytest.raises(NetworkError) as caught:
        await tg.get_me()
    assert not isinstance(caught.value, TimedOut)
    assert isinstance(caught.value.__cause__, NotSent)
    assert_tokenless(caught.value, logs)
    refused = delivery_error(caught.value)
    assert refused.retryable and refused.reason == "platform_unreachable"


async def test_a_full_pool_times_out_before_sending(session: aiohttp.ClientSession, slow_api: str) -> None:
    tg = bot(session, slow_api, pool_timeout=0.1)
    first = asyncio.create_task(tg.get_updates(timeout=0))
    await asyncio.sleep(0.05)
    with pytest.raises(TimedOut) as caught:
        await tg.get_updates(timeout=0)
    assert caught.value.message == POOL_FULL and isinstance(caught.value.__cause__, NotSent)
    assert await first == ()


async def test_shutdown_leaves_the_shared_session_open(
    session: aiohttp.ClientSession, fake: tuple[RecordingTelegram, str]
) -> None:
    tg = bot(session, fake[1])
    await tg.initialize()
    await tg.shutdown()
    assert not session.closed
    assert (await tg.get_me()).username == "relay_test_bot"
    assert AiohttpRequest(session, read_timeout=None).read_timeout is None


def test_timeouts_map_to_aiohttp() -> None:
    assert client_timeout(read=30, write=5, connect=10, pool=1) == aiohttp.ClientTimeout(
        total=46, connect=11, sock_connect=10, sock_read=30
    )
    unbounded = client_timeout(read=None, write=5, connect=None, pool=1)
    assert (unbounded.total, unbounded.connect, unbounded.sock_connect, unbounded.sock_read) == (None, None, None, None)


async def test_bot_api_calls_honour_the_proxy_environment(
    session: aiohttp.ClientSession, fake: tuple[RecordingTelegram, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    recording, api = fake
    proxy = api.rsplit("/", 1)[0]
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    me = await bot(session, "http://telegram.invalid/bot").get_me()
    assert me.is_bot and recording.seen, "the unresolvable API host was reached through the proxy"


async def test_no_proxy_exempts_the_api_host(
    session: aiohttp.ClientSession, fake: tuple[RecordingTelegram, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    recording, api = fake
    monkeypatch.setenv("HTTP_PROXY", api.rsplit("/", 1)[0])
    monkeypatch.setenv("NO_PROXY", "telegram.invalid")
    with pytest.raises(NetworkError) as caught:
        await bot(session, "http://telegram.invalid/bot").get_me()
    assert isinstance(caught.value.__cause__, NotSent) and not recording.seen


def test_env_proxy_choice() -> None:
    proxies = {"https": "http://p:3128", "all": "http://all:3128", "no": "internal.example"}
    assert env_proxy("https://api.telegram.org/botX/getMe", proxies) == "http://p:3128"
    assert env_proxy("http://api.telegram.org/botX/getMe", proxies) == "http://all:3128"
    assert env_proxy("http://internal.example/botX/getMe", proxies) is None
    assert env_proxy("https://api.telegram.org/botX/getMe", {}) is None
    assert env_proxy("http://api.internal.example/botX/getMe", {**proxies, "no": ".example"}) is None
    assert env_proxy("https://api.telegram.org/botX/getMe", {**proxies, "no": "*"}) is None
    assert env_proxy("http://127.0.0.1:8081/botX/getMe", proxies) is None
