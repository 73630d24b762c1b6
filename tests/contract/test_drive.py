"""The contract driven against each connector's fake: recorded payloads, every claimed kind, check, close."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from relay import registry
from relay.app import Relay
from relay.connector import Check, Connector, ConnectorKind
from relay.errors import DeliveryError
from relay.interact import Choice, Choices, ChoiceStyle, Template
from relay.model import Address, Attachment, Kind, Message, Status
from relay.reasons import Reason
from relay.richtext import RichText
from tests.conftest import RelayFactory, chat_token, workspace
from tests.contract.case import CONVERSATION, ContractCase, load
from tests.support.fake_platform import FakePlatform

TYPES = registry.available()
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\0" * 32


@dataclass
class Driven:
    client: TestClient[Any, Any]
    relay: Relay
    conn: Connector
    fake: FakePlatform
    server: TestServer
    case: ContractCase


def _case(type_name: str) -> ContractCase:
    case = load(type_name)
    if case is None:
        pytest.fail(f"tests/connectors/{type_name}/contract.py exports no CASE")
    return case


async def drive(type_name: str, aiohttp_server: Any, start_relay: RelayFactory) -> Driven:
    """Start the connector as instance `subject`, pointed at its fake, in a workspace with a partner."""
    case = _case(type_name)
    fake = case.fake()
    server: TestServer = await aiohttp_server(fake.app())
    base = str(server.make_url("")).rstrip("/")
    config = case.connect(fake, base) if case.connect is not None else case.config(base)
    if registry.load(type_name).kind is ConnectorKind.MESSENGER:
        inbox = {"type": "inbox", "access_key": "contract-inbox-key-0123456789"}
        raw = workspace({"subject": config, "crm": inbox}, [{"from": ["subject"], "to": "crm"}])
    else:
        raw = workspace({"chat": {"type": "webchat"}, "subject": config}, [{"from": ["chat"], "to": "subject"}])
    client, relay = await start_relay(raw | case.extra)
    return Driven(client, relay, relay.connectors["subject"], fake, server, case)


async def _customer_conversation(d: Driven) -> Address:
    """For a CRM: a web chat customer writes first (through the CRM's fake); their address."""
    headers = await chat_token(d.client, "chat")
    resp = await d.client.post("/hooks/chat/api/messages", json={"id": "first", "text": "hello"}, headers=headers)
    assert resp.status == 200, await resp.text()
    return Address("chat", headers["X-Webchat-Token"].split(".")[0])


def test_every_connector_has_a_contract_case() -> None:
    assert [t for t in TYPES if load(t) is None] == []


@pytest.mark.parametrize("type_name", TYPES)
async def test_recorded_payloads_authenticate_parse_and_deliver(
    type_name: str, aiohttp_server: Any, start_relay: RelayFactory
) -> None:
    d = await drive(type_name, aiohttp_server, start_relay)
    conversation = ""
    if d.conn.manifest.kind is ConnectorKind.CRM and any(CONVERSATION.encode() in p.body for p in d.case.payloads):
        conversation = d.relay.sealer.seal(await _customer_conversation(d))
    for payload in d.case.payloads:
        body = payload.body.replace(CONVERSATION.encode(), conversation.encode())
        before = d.relay.metrics.value("relay_messages_total", connector="subject")
        resp = await d.client.post(f"/hooks/subject{payload.path}", data=body, headers=dict(payload.sign(body)))
        assert resp.status == 200, (payload.name, resp.status, await resp.text())
        after = d.relay.metrics.value("relay_messages_total", connector="subject")
        assert (after > before) is payload.delivers, payload.name


def _message(conn: Connector, address: Address, kind: Kind, ref: str | None = None, **fields: Any) -> Message:
    origin = "crm" if conn.manifest.kind is ConnectorKind.MESSENGER else "chat"
    return Message(kind=kind, id=f"{kind.value}-1", origin=origin, conversation=address, ref=ref, **fields)


def _messages(conn: Connector, address: Address) -> list[Message]:
    """One message of every kind the connector's capabilities claim (buttons and typing too), to `address`."""
    out = [_message(conn, address, Kind.TEXT, text=RichText.of("hello **there**"))]
    if conn.manifest.kind is ConnectorKind.MESSENGER:
        out.append(_message(conn, address, Kind.NOTICE, text=RichText.of("could not be delivered")))
    if conn.capabilities.files:
        file = Attachment(name="one.png", mime="image/png", size=len(PNG), data=PNG)
        out.append(_message(conn, address, Kind.MEDIA, attachments=(file,)))
    return out + _interactive(conn, address)


def _interactive(conn: Connector, address: Address) -> list[Message]:
    """A template, reply buttons and a list, for what the capabilities claim."""
    caps, out = conn.capabilities, []
    if caps.templates:
        out.append(_message(conn, address, Kind.TEMPLATE, template=Template("hello_world", "en_US")))
    two = (Choice("yes", "Yes"), Choice("no", "No"))
    for style, room in ((ChoiceStyle.BUTTONS, caps.max_buttons), (ChoiceStyle.LIST, caps.max_list)):
        if room >= len(two):
            out.append(_message(conn, address, Kind.TEXT, text=RichText.of("Sure?"), choices=Choices(style, two)))
    return out


def _changes(conn: Connector, address: Address, ref: str) -> list[Message]:
    """An edit, reaction, receipt, delete and read mark of the message `ref`, and typing, for what the
    capabilities claim."""
    caps = conn.capabilities
    out = []
    if caps.edits:
        out.append(_message(conn, address, Kind.EDIT, ref, text=RichText.of("hello again")))
    if caps.reactions:
        out.append(_message(conn, address, Kind.REACTION, ref, reaction="👍"))
    if caps.receipts:
        out.append(_message(conn, address, Kind.STATUS, ref, status=Status.DELIVERED))
    if caps.deletes:
        out.append(_message(conn, address, Kind.DELETE, ref))
    if caps.read_marks:
        out.append(_message(conn, address, Kind.READ, ref))
    if caps.typing:
        out.append(_message(conn, address, Kind.TYPING))
    return out


@pytest.mark.parametrize("type_name", TYPES)
async def test_send_works_for_every_kind_its_capabilities_claim(
    type_name: str, aiohttp_server: Any, start_relay: RelayFactory
) -> None:
    d = await drive(type_name, aiohttp_server, start_relay)
    if d.conn.manifest.kind is ConnectorKind.CRM:
        address = await _customer_conversation(d)
    else:
        assert d.case.address is not None, "a messenger's case names an address to send to"
        address = d.case.address("subject")
        if d.case.opener is not None:
            first_in = d.case.opener
            resp = await d.client.post(
                f"/hooks/subject{first_in.path}", data=first_in.body, headers=dict(first_in.sign(first_in.body))
            )
            assert resp.status == 200, (first_in.name, resp.status, await resp.text())
    if not d.case.sends:
        for message in _messages(d.conn, address):
            with pytest.raises(DeliveryError) as refused:
                await d.conn.send(message)
            assert refused.value.reason is Reason.UNSUPPORTED, "a connector that cannot send refuses, never drops"
        return
    first = ""
    for message in _messages(d.conn, address):
        platform_id = await d.conn.send(message)
        assert isinstance(platform_id, str) and platform_id, message.kind
        first = first or platform_id
    for message in _changes(d.conn, address, first):
        assert isinstance(await d.conn.send(message), str), message.kind


@pytest.mark.parametrize("type_name", TYPES)
async def test_check_never_raises(type_name: str, aiohttp_server: Any, start_relay: RelayFactory) -> None:
    d = await drive(type_name, aiohttp_server, start_relay)
    up = await d.conn.check()
    assert up and all(isinstance(c, Check) for c in up)
    await d.server.close()
    down = await d.conn.check()
    assert down and all(isinstance(c, Check) for c in down)


@pytest.mark.parametrize("type_name", TYPES)
async def test_closing_twice_is_clean(type_name: str, aiohttp_server: Any, start_relay: RelayFactory) -> None:
    d = await drive(type_name, aiohttp_server, start_relay)
    await d.conn.close()
    await d.conn.close()
