"""The integration webhook: the shared secret before anything is parsed, then which events are relayed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from connectors.zendesk import inbound
from relay.connector import HookRequest
from relay.errors import AuthError, BadRequest
from relay.model import Address
from relay.seal import Sealer, WorkspaceKey
from tests.connectors.zendesk.fake import APP_ID
from tests.connectors.zendesk.fake_integrations import WEBHOOK_SECRET

HERE = Path(__file__).parent / "payloads"
SEALER = Sealer("test", [WorkspaceKey("k1", b"inbound-test-key-0123456789")])
LOG = logging.getLogger("test.zendesk")


def _request(body: bytes, **headers: str) -> HookRequest:
    return HookRequest(CIMultiDictProxy(CIMultiDict(headers)), {}, body)


def _parse(body: bytes) -> list[list[str]]:
    found = inbound.parse("zd", APP_ID, SEALER, LOG, _request(body))
    return [[m.id for m in group] for group in found.groups]


CUSTOMER = Address("chat", "v1")


def _body(name: str, address: Address = CUSTOMER) -> bytes:
    return (HERE / name).read_bytes().replace(b"{{conversation}}", SEALER.seal(address).encode())


@pytest.mark.parametrize("given", [None, "", "8564b3e6a8b20a4bdb68b05ce9bc593", WEBHOOK_SECRET + "x"])
def test_a_missing_or_wrong_x_api_key_is_refused_with_401(given: str | None) -> None:
    headers = {} if given is None else {"X-API-Key": given}
    with pytest.raises(AuthError) as err:
        inbound.authenticate(WEBHOOK_SECRET.encode(), _request(b"not even json", **headers))
    assert err.value.status == 401


def test_the_right_x_api_key_passes() -> None:
    inbound.authenticate(WEBHOOK_SECRET.encode(), _request(b"{}", **{"x-api-key": WEBHOOK_SECRET}))


def test_business_messages_are_relayed_and_user_messages_never() -> None:
    assert _parse(_body("agent_text.json")) == [["5f74c7d84a146f3abd72af1d"]]
    assert _parse(_body("batch.json")) == [["5f74c7d84a146f3abd72af61"]]
    for name in ("relay_echo.json", "activity.json", "native_widget.json"):
        assert _parse(_body(name)) == [], name


def test_events_are_grouped_per_conversation_in_order() -> None:
    doc = json.loads(_body("agent_text.json"))
    first = doc["events"][0]
    second = json.loads(json.dumps(first))
    second["id"], second["payload"]["message"]["id"] = "e2", "m2"
    other = json.loads(json.dumps(first))
    other["id"], other["payload"]["message"]["id"] = "e3", "m3"
    other["payload"]["conversation"]["id"] = "another"
    other["payload"]["conversation"]["metadata"]["relay_conversation"] = SEALER.seal(Address("chat", "v2"))
    doc["events"] = [first, other, second]
    assert _parse(json.dumps(doc).encode()) == [["5f74c7d84a146f3abd72af1d", "m2"], ["m3"]]


def test_a_reference_that_does_not_open_skips_only_its_event(caplog: pytest.LogCaptureFixture) -> None:
    doc = json.loads(_body("agent_text.json"))
    forged = json.loads(json.dumps(doc["events"][0]))
    forged["id"], forged["payload"]["message"]["id"] = "e9", "m9"
    forged["payload"]["conversation"]["metadata"]["relay_conversation"] = "c2.k1.forged"
    doc["events"].append(forged)
    assert _parse(json.dumps(doc).encode()) == [["5f74c7d84a146f3abd72af1d"]]
    assert "reference_invalid" in caplog.text or any(
        getattr(r, "reason", "") == "reference_invalid" for r in caplog.records
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"events": []}', "invalid fields: app"),
        (b'{"app": {"id": "another"}, "events": []}', "app.id"),
        (json.dumps({"app": {"id": APP_ID}, "webhook": {"version": "v1.1"}, "events": []}).encode(), "version v2"),
        (json.dumps({"app": {"id": APP_ID}, "events": [{"type": 1}]}).encode(), "invalid fields"),
    ],
)
def test_malformed_bodies_get_400_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(BadRequest) as err:
        inbound.parse("zd", APP_ID, SEALER, LOG, _request(body))
    assert err.value.status == 400 and reason in err.value.reason
