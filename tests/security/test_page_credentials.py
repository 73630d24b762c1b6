"""A credential header that is not ASCII, or not even UTF-8, is a 401 like any wrong credential, not a 500."""

from __future__ import annotations

import asyncio

from tests.conftest import RelayFactory, chat_token, sandbox_workspace, workspace

KEYLESS = workspace(
    {"webchat": {"type": "webchat"}, "inbox": {"type": "inbox"}},
    [{"from": ["webchat"], "to": "inbox"}],
)


async def test_non_ascii_credentials_are_a_401(start_relay: RelayFactory) -> None:
    client, _ = await start_relay(sandbox_workspace())
    keyless, _ = await start_relay(KEYLESS)
    for c, headers in (
        (client, {"Authorization": "Bearer inbox-test-key-12345é"}),
        (client, {"Authorization": "Bearer ключ"}),
        (keyless, {"X-Relay-Session": "сессия"}),
    ):
        resp = await c.get("/hooks/inbox/api/conversations", headers=headers)
        assert resp.status == 401, headers
    chat = await chat_token(client)
    forged = chat["X-Webchat-Token"].split(".")[0] + ".подпись"
    resp = await client.get("/hooks/webchat/api/events?wait=0", headers={"X-Webchat-Token": forged})
    assert resp.status == 401


async def test_undecodable_credential_bytes_are_a_401(start_relay: RelayFactory) -> None:
    client, _ = await start_relay(sandbox_workspace())
    visitor = (await chat_token(client))["X-Webchat-Token"].split(".")[0].encode()
    for path, header in (
        (b"/hooks/inbox/api/conversations", b"Authorization: Bearer \xff\xfe"),
        (b"/hooks/webchat/api/events?wait=0", b"X-Webchat-Token: " + visitor + b".\xff\xfe"),
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"\r\nConnection: close\r\n\r\n")
        status = (await reader.readline()).split()[1]
        writer.close()
        await writer.wait_closed()
        assert status == b"401", header
