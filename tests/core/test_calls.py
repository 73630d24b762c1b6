"""Call events in the core: the content-free line for destinations without calls, and the peer address hooks see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from relay.connector import Capabilities, Hook, HookRequest, Inbound, Outcome, Result
from relay.degrade import degrade
from relay.hooks import Deliver, handler
from relay.model import Address, Attachment, CallEvent, CallStatus, Kind, Message, Party

PHONE = "+4915112345678"
AT = datetime(2026, 1, 5, 14, 2, 33, tzinfo=UTC)


def _call(status: CallStatus, duration: int | None = None, **more: Any) -> Message:
    return Message(
        kind=Kind.CALL,
        id="CA1:" + status,
        origin="calls",
        conversation=Address("sms", PHONE),
        sender=Party(id=PHONE, phone=PHONE, name="Ana Silva"),
        sent_at=AT,
        call=CallEvent("inbound", status, duration),
        **more,
    )


def _no_link(att: Attachment) -> str | None:
    return None


def test_a_crm_without_calls_gets_one_content_free_line() -> None:
    parts = degrade(_call(CallStatus.MISSED), Capabilities(), _no_link)
    assert len(parts) == 1
    part = parts[0]
    assert part.kind is Kind.TEXT and part.call is None
    assert part.text.plain == "📞 Missed call (incoming), 2026-01-05 14:02 UTC"
    assert PHONE not in part.text.plain and "Ana" not in part.text.plain


def test_an_answered_call_says_how_long() -> None:
    line = degrade(_call(CallStatus.ANSWERED, 192), Capabilities(), _no_link)[0].text.plain
    assert line == "📞 Answered call (incoming), 2026-01-05 14:02 UTC, 3 min 12 s"
    short = degrade(_call(CallStatus.ANSWERED, 9), Capabilities(), _no_link)[0].text.plain
    assert short.endswith("UTC, 9 s")


def test_a_crm_with_calls_gets_the_event_itself() -> None:
    message = _call(CallStatus.VOICEMAIL, 20)
    assert degrade(message, Capabilities(calls=True), _no_link) == [message]


def test_a_recording_link_stays_a_link_line() -> None:
    link = Attachment(name="recording", mime="audio/mpeg", url="https://pbx.example.com/rec/1")
    parts = degrade(_call(CallStatus.VOICEMAIL, attachments=(link,)), Capabilities(), _no_link)
    assert len(parts) == 1
    assert parts[0].kind is Kind.TEXT and parts[0].attachments == ()
    assert parts[0].text.plain.startswith("📞 Voicemail (incoming)")
    assert any(span.href == "https://pbx.example.com/rec/1" for span in parts[0].text.spans)


@dataclass
class Target:
    """Where the hook under test hands its messages."""

    deliver: Deliver


async def test_hooks_see_the_peer_address(aiohttp_client: Any) -> None:
    seen: list[str] = []

    def authenticate(request: HookRequest) -> None:
        seen.append(request.remote)

    def parse(request: HookRequest, _: Any) -> Inbound:
        return Inbound()

    async def deliver(message: Message) -> Result:
        return Result(Outcome.DELIVERED)

    app = web.Application()
    app.router.add_get("/hook", handler(Hook("GET", "/hook", authenticate, parse), Target(deliver)))
    client = await aiohttp_client(app)
    assert (await client.get("/hook")).status == 200
    assert seen == ["127.0.0.1"]
