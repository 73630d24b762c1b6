"""A CRM's file, named by URL, reaches every messenger the same way: the relay fetches it once under its
allowlist, then uploads it or sends a sealed relay link; the CRM's URL never reaches the platform."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import pytest

from relay import registry
from relay.connector import ConnectorKind, Outcome
from relay.model import Attachment, Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText
from tests.conftest import RelayFactory, workspace
from tests.contract.case import ContractCase, load
from tests.support.crm_files import CrmFiles

PDF = b"%PDF-1.4\n" + os.urandom(40_000)
MESSENGERS = [t for t in registry.available() if registry.load(t).kind is ConnectorKind.MESSENGER]
INBOX = {"type": "inbox", "access_key": "contract-inbox-key-0123456789"}


def _loopback(extra: dict[str, Any]) -> dict[str, Any]:
    """The case's workspace settings, with the file host on loopback allowed."""
    media = dict(extra.get("media", {}))
    network = dict(extra.get("network", {}))
    media["allowlist"] = [*media.get("allowlist", []), "127.0.0.1"]
    network["allow_private"] = [*network.get("allow_private", []), "127.0.0.1/32"]
    return extra | {"media": media, "network": network}


async def _start(type_name: str, aiohttp_server: Any, start_relay: RelayFactory) -> tuple[Any, Any, Any, str, Any]:
    case: ContractCase | None = load(type_name)
    assert case is not None and case.address is not None
    if not case.sends:
        pytest.skip("this connector only receives")
    host = CrmFiles()
    host.files["invoice.pdf"] = ("application/pdf", PDF)
    files = str((await aiohttp_server(host.app())).make_url("/files")).rstrip("/")
    fake = case.fake()
    server = await aiohttp_server(fake.app())
    base = str(server.make_url("")).rstrip("/")
    config = case.connect(fake, base) if case.connect is not None else case.config(base)
    raw = workspace({"subject": config, "crm": INBOX}, [{"from": ["subject"], "to": "crm"}])
    client, relay = await start_relay(raw | _loopback(case.extra))
    reach = getattr(fake, "reach", None)
    if isinstance(reach, dict):
        reach[relay.public_url] = str(client.make_url("")).rstrip("/")
    if case.opener is not None:
        first = case.opener
        resp = await client.post(f"/hooks/subject{first.path}", data=first.body, headers=dict(first.sign(first.body)))
        assert resp.status == 200, await resp.text()
    return client, relay, fake, files, (host, case)


def _answer(case: ContractCase, url: str, id: str) -> Message:
    assert case.address is not None
    file = Attachment(name="invoice.pdf", mime="application/pdf", url=url)
    return Message(
        kind=Kind.MEDIA,
        id=id,
        origin="crm",
        conversation=case.address("subject"),
        text=RichText.of("your invoice"),
        attachments=(file,),
    )


def _sent(fake: Any) -> str:
    """Everything the platform's fake received, decoded."""
    return "\n".join(unquote_plus(f"{r.path}?{r.query} {r.headers} {r.body.decode('latin-1')}") for r in fake.recorded)


@pytest.mark.parametrize("type_name", MESSENGERS)
async def test_a_crm_file_is_fetched_once_then_uploaded_or_linked(
    type_name: str, aiohttp_server: Any, start_relay: RelayFactory
) -> None:
    client, relay, fake, files, (host, case) = await _start(type_name, aiohttp_server, start_relay)
    result = await relay.engine.deliver(_answer(case, f"{files}/invoice.pdf", "crm-file-1"), 30.0)
    assert result.outcome is Outcome.DELIVERED, result
    by_platform = len(getattr(fake, "fetched", []))
    assert len(host.requests("/files/invoice.pdf")) == 1 + by_platform, "once before the send, once per link download"
    sent = _sent(fake)
    assert urlsplit(files).netloc not in sent, "the CRM's URL never reaches the platform"
    for token in set(re.findall(r"/media/(m1\.[A-Za-z0-9._-]+)", sent)):
        got = await client.get(f"/media/{token}")
        assert got.status == 200 and await got.read() == PDF


@pytest.mark.parametrize("type_name", MESSENGERS)
async def test_a_dead_crm_file_fails_before_the_messenger_is_called(
    type_name: str, aiohttp_server: Any, start_relay: RelayFactory
) -> None:
    _, relay, fake, files, (_, case) = await _start(type_name, aiohttp_server, start_relay)
    before = len(fake.recorded)
    result = await relay.engine.deliver(_answer(case, f"{files}/gone.pdf", "crm-file-2"), 30.0)
    assert (result.outcome, result.reason, result.detail) == (Outcome.FAILED, Reason.MEDIA_UNAVAILABLE, "HTTP 404")
    assert len(fake.recorded) == before, "nothing was sent to the customer"
