"""Call events in the caller's SMS conversation: the generic signed form (hex or base64url MACs), Twilio Voice
callbacks, which outcomes pass, links only when enabled, and a CRM without calls getting a text line."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from tests.conftest import RelayFactory, workspace
from tests.connectors.calls.contract import CALLS_SECRET, calls_config, event_body, signed_event
from tests.connectors.twilio_sms.fake import FakeTwilio
from tests.connectors.twilio_sms.fake_account import ACCOUNT
from tests.connectors.twilio_sms.helpers import CUSTOMER, sms_config
from tests.support.crm_sink import SINK_SECRET, CrmSink

RECORDING = "RE" + "f0" * 16


async def _rig(aiohttp_server: Any, start_relay: RelayFactory, crm_sink: Any, **calls: Any) -> Any:
    """SMS (the local Twilio) and calls joining its conversations, in front of the webhook CRM sink."""
    fake = FakeTwilio()
    base = str((await aiohttp_server(fake.app())).make_url("")).rstrip("/")
    sink, url = crm_sink
    connectors = {
        "sms": sms_config(base),
        "calls": calls_config(base, conversation_instance="sms", **calls),
        "crm": {"type": "webhook", "url": url, "secret": SINK_SECRET},
    }
    extra = {"media": {"allowlist": ["127.0.0.1:*"]}, "network": {"allow_private": ["127.0.0.0/8"]}}
    client, relay = await start_relay(workspace(connectors, [{"from": ["sms", "calls"], "to": "crm"}], **extra))
    fake.reach[relay.public_url] = str(client.make_url("")).rstrip("/")
    fake.sms_url = relay.public_url + "/hooks/sms"
    return client, relay, fake, sink


async def test_a_missed_call_sits_in_the_callers_sms_conversation(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    client, _, fake, sink = await _rig(aiohttp_server, start_relay, crm_sink)
    await fake.text(CUSTOMER, "I tried to call you")
    raw, headers = signed_event(event_body("call-1", "missed", CUSTOMER, caller_name="Ana Silva"))
    resp = await client.post("/hooks/calls/events", data=raw, headers=headers)
    assert resp.status == 200, await resp.text()
    text, call = sink.messages()[0], sink.messages("call")[0]
    assert call["conversation"] == text["conversation"] and call["channel"] == "sms"
    assert call["call"] == {"direction": "inbound", "status": "missed", "duration": None}
    assert call["sender"] == {"id": CUSTOMER, "name": "Ana Silva", "phone": CUSTOMER, "is_bot": False}
    assert call["message"]["attachments"] == [] and call["message"]["text"] == ""


async def test_the_generic_form_takes_hex_or_base64url_macs_and_refuses_the_rest(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    client, _, _, sink = await _rig(aiohttp_server, start_relay, crm_sink)
    raw = json.dumps(event_body("call-2", "answered", CUSTOMER, duration=93)).encode()
    t = int(time.time())
    mac = hmac.new(CALLS_SECRET.encode(), f"{t}.".encode() + raw, hashlib.sha256).digest()
    kamailio_style = base64.urlsafe_b64encode(mac).decode().rstrip("=")
    for signature, status in (
        (f"t={t},v1=" + "0" * 64, 401),
        (f"t={t - 900},v1={mac.hex()}", 401),
        (f"t={t},v1={kamailio_style}", 200),
        (f"t={t},v1={mac.hex()}", 200),
    ):
        headers = {"X-Relay-Signature": signature, "Content-Type": "application/json"}
        resp = await client.post("/hooks/calls/events", data=raw, headers=headers)
        assert resp.status == status, (signature, resp.status)
    assert [c["call"]["duration"] for c in sink.messages("call")] == [93], "the repeat is a duplicate"
    resp = await client.post("/hooks/calls/events", data=raw)
    assert resp.status == 401


async def test_ringing_is_left_out_by_default_and_links_pass_only_when_enabled(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    client, _, _, sink = await _rig(aiohttp_server, start_relay, crm_sink)
    links = {"recording_url": "https://pbx.example.com/r/1.mp3", "transcript_url": "https://ai.example.com/t/1"}
    for body in (event_body("c3", "ringing", CUSTOMER), event_body("c3", "voicemail", CUSTOMER, **links)):
        raw, headers = signed_event(body)
        assert (await client.post("/hooks/calls/events", data=raw, headers=headers)).status == 200
    assert [c["call"]["status"] for c in sink.messages("call")] == ["voicemail"]
    assert sink.messages("call")[0]["message"]["attachments"] == []
    client2, _, _, _ = await _rig(aiohttp_server, start_relay, crm_sink, links=True)
    raw, headers = signed_event(event_body("c4", "voicemail", CUSTOMER, **links))
    assert (await client2.post("/hooks/calls/events", data=raw, headers=headers)).status == 200
    urls = [a["url"] for a in sink.messages("call")[-1]["message"]["attachments"]]
    assert urls == [links["recording_url"], links["transcript_url"]]


def _voice(status: str, **more: str) -> list[tuple[str, str]]:
    params = {"CallSid": "CA" + "c1" * 16, "AccountSid": ACCOUNT, "From": CUSTOMER, "To": "+15550001111"}
    params |= {
        "Direction": "inbound",
        "CallStatus": status,
        "ApiVersion": "2010-04-01",
        "CallbackSource": "call-progress-events",
    }
    params |= {"Timestamp": "Mon, 05 Jan 2026 14:02:40 +0000", "SequenceNumber": "3", **more}
    return list(params.items())


async def test_twilio_voice_callbacks_become_call_events_with_a_sealed_recording_link(
    aiohttp_server: Any, start_relay: RelayFactory, crm_sink: tuple[CrmSink, str]
) -> None:
    client, relay, fake, sink = await _rig(aiohttp_server, start_relay, crm_sink, links=True)
    fake.recordings[RECORDING] = b"ID3-recorded-voicemail"
    url = relay.public_url + "/hooks/calls/twilio"
    assert await fake.post(url, _voice("in-progress"))
    assert await fake.post(url, _voice("completed", DialCallStatus="no-answer", RecordingSid=RECORDING))
    assert await fake.post(url, _voice("completed", CallDuration="40", CallSid="CA" + "d2" * 16))
    statuses = [(c["call"]["status"], c["call"]["duration"]) for c in sink.messages("call")]
    assert statuses == [("voicemail", None), ("answered", 40)]
    assert sink.messages("call")[1]["message"]["sent_at"] == "2026-01-05T14:02:00+00:00", "start = end - duration"
    link = sink.messages("call")[0]["message"]["attachments"][0]["url"]
    assert link.startswith(relay.public_url + "/media/") and "twilio" not in link and RECORDING not in link
    resp = await client.get(link.removeprefix(relay.public_url))
    assert resp.status == 200 and await resp.read() == b"ID3-recorded-voicemail"
    forged = await client.post("/hooks/calls/twilio", data="CallSid=CA1", headers={"X-Twilio-Signature": "x" * 28})
    assert forged.status == 403


async def test_a_crm_without_calls_gets_a_content_free_line(aiohttp_server: Any, start_relay: RelayFactory) -> None:
    fake = FakeTwilio()
    base = str((await aiohttp_server(fake.app())).make_url("")).rstrip("/")
    inbox = {"type": "inbox", "access_key": "calls-inbox-key-0123456789"}
    raw_ws = workspace({"calls": calls_config(base), "inbox": inbox}, [{"from": ["calls"], "to": "inbox"}])
    client, _ = await start_relay(raw_ws)
    raw, headers = signed_event(event_body("c5", "answered", CUSTOMER, duration=192, at="2026-01-05T14:02:00Z"))
    assert (await client.post("/hooks/calls/events", data=raw, headers=headers)).status == 200
    auth = {"Authorization": "Bearer calls-inbox-key-0123456789"}
    convs = (await (await client.get("/hooks/inbox/api/conversations", headers=auth)).json())["conversations"]
    thread = await (await client.get(f"/hooks/inbox/api/conversations/{convs[0]['conversation']}", headers=auth)).json()
    assert "📞 Answered call (incoming), 2026-01-05 14:02 UTC, 3 min 12 s" in json.dumps(thread, ensure_ascii=False)
