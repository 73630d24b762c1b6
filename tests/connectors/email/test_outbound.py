"""Sending without the mail peer: the submission fake accepts, refuses and defers, and each answer becomes
the right Reason (only the status code travels, never the server's text, which may quote the address)."""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

import pytest

from connectors.email.connector import EmailConnector
from relay.errors import DeliveryError
from relay.model import Address, Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText
from tests.conftest import RelayFactory, workspace
from tests.connectors.email.fake import FakeSubmission

CUSTOMER = Address("mail", "ana@example.org", handle="root-1@example.org")


async def _relay(start_relay: RelayFactory, aiohttp_server: Any, **extra: Any) -> tuple[EmailConnector, FakeSubmission]:
    fake = FakeSubmission(size_limit=64 << 10)
    await aiohttp_server(fake.app())
    raw = workspace(
        {"mail": fake.config(**extra), "crm": {"type": "inbox", "access_key": "inbox-test-key-123456"}},
        [{"from": ["mail"], "to": "crm"}],
    )
    _, relay = await start_relay(raw)
    conn = relay.connectors["mail"]
    assert isinstance(conn, EmailConnector)
    return conn, fake


def _answer(text: str = "It ships today.", kind: Kind = Kind.TEXT, chat: str = "ana@example.org") -> Message:
    address = Address("mail", chat, handle="root-1@example.org")
    return Message(kind=kind, id="agent-1", origin="crm", conversation=address, text=RichText.of(text))


async def test_an_answer_is_submitted_threaded_even_when_the_mailbox_cannot_be_read(
    start_relay: RelayFactory, aiohttp_server: Any
) -> None:
    conn, fake = await _relay(start_relay, aiohttp_server, display_name="Example Support")
    sent = await conn.send(_answer())
    [got] = fake.accepted
    assert got.sender == "support@example.com" and got.recipients == ["ana@example.org"]
    msg = message_from_bytes(got.data, policy=policy.default)
    assert msg["Message-ID"] == f"<{sent}>" and sent.endswith("@example.com")
    assert msg["In-Reply-To"] == "<root-1@example.org>" and msg["Subject"] == "Re: your message"
    assert msg["From"] == "Example Support <support@example.com>" and "Auto-Submitted" not in msg
    await conn.send(_answer("could not be delivered", Kind.NOTICE))
    notice = message_from_bytes(fake.accepted[-1].data, policy=policy.default)
    assert notice["Auto-Submitted"] == "auto-replied", "the relay's own notices never start a mail loop"


@pytest.mark.parametrize(
    ("command", "reply", "reason", "retryable"),
    [
        ("RCPT", "550 5.1.1 <ana@example.org>: user unknown", Reason.INVALID_RECIPIENT, False),
        ("RCPT", "450 4.2.1 mailbox busy", Reason.PLATFORM_BUSY, True),
        ("DATA", "451 4.3.0 try again later", Reason.PLATFORM_BUSY, True),
        ("DATA", "554 5.7.1 message refused as spam", Reason.PLATFORM_REJECTED, False),
    ],
)
async def test_server_refusals_become_reasons_without_the_servers_text(
    start_relay: RelayFactory, aiohttp_server: Any, command: str, reply: str, reason: Reason, retryable: bool
) -> None:
    conn, fake = await _relay(start_relay, aiohttp_server)
    fake.answers[command] = [reply]
    with pytest.raises(DeliveryError) as caught:
        await conn.send(_answer())
    assert (caught.value.reason, caught.value.retryable) == (reason, retryable)
    assert caught.value.detail == reply[:3] and "ana@" not in str(caught.value)


async def test_size_credentials_address_and_an_absent_server(start_relay: RelayFactory, aiohttp_server: Any) -> None:
    conn, fake = await _relay(start_relay, aiohttp_server)
    with pytest.raises(DeliveryError) as too_big:
        await conn.send(_answer("x" * (80 << 10)))
    assert too_big.value.reason is Reason.MESSAGE_TOO_LARGE
    with pytest.raises(DeliveryError) as invalid:
        await conn.send(_answer(chat="not an address"))
    assert invalid.value.reason is Reason.INVALID_RECIPIENT
    wrong, _ = await _relay(start_relay, aiohttp_server, password="wrong-password-0123")
    with pytest.raises(DeliveryError) as denied:
        await wrong.send(_answer())
    assert denied.value.reason is Reason.PLATFORM_AUTH_FAILED and "wrong-password" not in str(denied.value)
    gone, _ = await _relay(start_relay, aiohttp_server, smtp_port=fake.imap_port)
    with pytest.raises(DeliveryError) as down:
        await gone.send(_answer())
    assert down.value.reason is Reason.PLATFORM_UNREACHABLE and down.value.retryable
    assert fake.accepted == []
