"""The fault suite: each fault run end to end against real relay processes; counts per marker."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

from bench.reliability.rig import Rig
from bench.reliability.sms import sms_outage
from bench.reliability.source import Redeliverer


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much traffic each fault gets, and how long the fault lasts."""

    messages: int
    fault_seconds: float
    rate: float
    give_up: float
    outage: float = 3.0


QUICK = Sizes(messages=12, fault_seconds=1.5, rate=20.0, give_up=50.0)
FULL = Sizes(messages=200, fault_seconds=4.0, rate=40.0, give_up=90.0, outage=300.0)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the fault table."""

    fault: str
    direction: str
    replicas: int
    sent: int
    once: int
    duplicated: int
    dup_after_event_id: int
    lost: int
    notices: int
    redeliveries: int
    seconds: float
    note: str = ""

    @property
    def ok(self) -> bool:
        """Nothing lost, and nothing that a destination honouring X-Relay-Event-Id would see twice."""
        return self.lost == 0 and self.dup_after_event_id == 0


def tally(sent: Sequence[str], received: Sequence[tuple[str, str]]) -> tuple[int, int, int, int]:
    """(delivered once, delivered more than once, more than once under different event ids, never delivered)
    over the sent markers; `received` holds (marker, event id) pairs, event id "" when there is none."""
    seen = Counter(m for m, _ in received)
    events: dict[str, set[str]] = {}
    for i, (marker, event) in enumerate(received):
        events.setdefault(marker, set()).add(event or f"none-{i}")
    once = sum(1 for m in sent if seen[m] == 1)
    dup = sum(1 for m in sent if seen[m] > 1)
    distinct = sum(1 for m in sent if len(events.get(m, ())) > 1)
    return once, dup, distinct, sum(1 for m in sent if seen[m] == 0)


async def _inbound(
    name: str,
    sizes: Sizes,
    setup: Callable[[Rig], Awaitable[None]] | None = None,
    replicas: int = 1,
    mid: Callable[[Rig], Awaitable[None]] | None = None,
    note: Callable[[Rig], str] = lambda r: "",
    crm: str = "webhook",
) -> Row:
    """Messenger -> CRM: the fake platform posts Telegram updates and redelivers until acknowledged."""
    async with Rig(replicas=replicas, give_up=sizes.give_up, crm=crm) as rig:
        source = rig.source()
        if setup is not None:
            await setup(rig)
        hook = (lambda: mid(rig)) if mid is not None else None
        seconds = await rig.traffic(source, rig.inbound(sizes.messages), sizes.rate, hook)
        await asyncio.sleep(1.0)
        sent = [rig.marker(i) for i in range(sizes.messages)]
        direction = {"hubspot": "messenger -> HubSpot", "zendesk": "messenger -> Zendesk"}.get(crm, "messenger -> CRM")
        return _row(name, direction, rig, source, sent, rig.destination().accepted(), seconds, note(rig))


def _row(
    name: str,
    direction: str,
    rig: Rig,
    source: Redeliverer,
    sent: list[str],
    got: list[tuple[str, str]],
    seconds: float,
    note: str,
) -> Row:
    once, dup, distinct, lost = tally(sent, got)
    notices = rig.bot.notices() + rig.destination().notices()
    extra = "Redis state shared" if rig.redis and len(rig.relays) > 1 else ""
    if dup and not distinct and rig.hubspot is None and rig.sunco is None:
        extra += (
            f"{'; ' if extra else ''}the {dup} raw repeats are posts the CRM accepted while the relay that sent them "
            "died or timed out before reading the answer; each repeat carried the same X-Relay-Event-Id"
        )
    return Row(
        name,
        direction,
        len(rig.relays),
        len(sent),
        once,
        dup,
        distinct,
        lost,
        notices,
        source.redeliveries,
        round(seconds, 1),
        "; ".join(x for x in (note, extra) if x),
    )


async def crm_refusing(sizes: Sizes) -> Row:
    reopening: list[asyncio.Task[None]] = []

    async def closed(rig: Rig) -> None:
        await rig.crm_server.close()

        async def reopen() -> None:
            await asyncio.sleep(sizes.fault_seconds)
            await rig.crm_server.open()

        reopening.append(asyncio.create_task(reopen()))

    row = await _inbound(f"CRM refuses connections for {sizes.fault_seconds:g} s", sizes, closed)
    await asyncio.gather(*reopening)
    return row


async def crm_500(sizes: Sizes) -> Row:
    async def fault(rig: Rig) -> None:
        rig.crm.set_fault("500", sizes.fault_seconds)

    return await _inbound(f"CRM answers 500 for {sizes.fault_seconds:g} s", sizes, fault)


async def crm_hang(sizes: Sizes) -> Row:
    async def fault(rig: Rig) -> None:
        rig.crm.hang_seconds = 2.5
        rig.crm.set_fault("hang", sizes.fault_seconds)

    return await _inbound(
        f"CRM hangs past the deadline for {sizes.fault_seconds:g} s",
        sizes,
        fault,
        note=lambda r: f"{r.crm.faulted} requests hung 2.5 s (client timeout 1 s, source deadline 2 s)",
    )


async def crm_429(sizes: Sizes) -> Row:
    async def fault(rig: Rig) -> None:
        rig.crm.retry_after = 1
        rig.crm.set_fault("429", sizes.fault_seconds)

    return await _inbound(
        f"CRM answers 429 Retry-After: 1 for {sizes.fault_seconds:g} s",
        sizes,
        fault,
        note=lambda r: f"{r.crm.faulted} requests throttled",
    )


async def messenger_429(sizes: Sizes) -> Row:
    """CRM -> messenger: the fake CRM posts signed answers and re-posts until 2xx; the Bot API throttles."""
    async with Rig(give_up=sizes.give_up) as rig:
        rig.bot.retry_after = 1
        rig.bot.throttle_until = time.monotonic() + sizes.fault_seconds
        source = rig.source()
        seconds = await rig.traffic(source, rig.answers(sizes.messages), sizes.rate)
        await asyncio.sleep(0.5)
        sent = [rig.marker(i) for i in range(sizes.messages)]
        note = f"{rig.bot.throttled} sendMessage calls answered 429 retry_after=1"
        return _row(
            f"Messenger API answers 429 for {sizes.fault_seconds:g} s",
            "CRM -> messenger",
            rig,
            source,
            sent,
            rig.bot.delivered(),
            seconds,
            note,
        )


async def replica_sigkill(sizes: Sizes) -> Row:
    async def slow(rig: Rig) -> None:
        rig.crm.delay = 0.3

    async def kill(rig: Rig) -> None:
        rig.relays[0].signal(signal.SIGKILL)

    return await _inbound(
        "Replica killed with SIGKILL mid-traffic (CRM takes 0.3 s)",
        sizes,
        slow,
        replicas=2,
        mid=kill,
        note=lambda r: f"replica r0 exit {r.relays[0].popen.poll() if r.relays[0].popen else '?'}",
    )


async def replica_sigterm(sizes: Sizes) -> Row:
    async def slow(rig: Rig) -> None:
        rig.crm.delay = 0.5

    async def term(rig: Rig) -> None:
        rig.relays[0].signal(signal.SIGTERM)

    def note(rig: Rig) -> str:
        code = rig.relays[0].popen.poll() if rig.relays[0].popen else None
        drained = any("stopped" in line for line in rig.relays[0].lines)
        return f"r0 drained and exited {code}" if drained else f"r0 exit {code}, no clean stop logged"

    return await _inbound("SIGTERM with work in flight (CRM takes 0.5 s)", sizes, slow, replicas=2, mid=term, note=note)


SUFFIX = {"webhook": "", "hubspot": " (HubSpot)", "zendesk": " (Zendesk)"}


async def crm_late(sizes: Sizes, crm: str = "webhook") -> Row:
    """The CRM takes the message, then answers after the relay's client timeout: the relay cannot tell."""

    async def fault(rig: Rig) -> None:
        target = rig.destination()
        target.hang_seconds = 2.5
        target.set_fault("late", sizes.fault_seconds)

    return await _inbound(
        f"CRM commits, then answers after the client timeout, for {sizes.fault_seconds:g} s{SUFFIX[crm]}",
        sizes,
        fault,
        note=lambda r: (
            f"{r.destination().faulted} posts taken and answered 2.5 s late (client timeout 1 s)" + _repeats(r)
        ),
        crm=crm,
    )


def _repeats(rig: Rig) -> str:
    if rig.sunco is not None:
        return f"; {rig.sunco.checks()} looks among recent messages before posting again"
    if rig.hubspot is None:
        return ""
    return f"; {rig.hubspot.repeats()} publishes repeated an idempotency id HubSpot already held"


async def crm_sigkill(sizes: Sizes, crm: str) -> Row:
    """A replica killed mid-traffic while the CRM (HubSpot or Zendesk) takes 0.3 s per message."""

    async def slow(rig: Rig) -> None:
        rig.destination().delay = 0.3

    async def kill(rig: Rig) -> None:
        rig.relays[0].signal(signal.SIGKILL)

    return await _inbound(
        f"Replica killed with SIGKILL mid-traffic (CRM takes 0.3 s){SUFFIX[crm]}",
        sizes,
        slow,
        replicas=2,
        mid=kill,
        note=lambda r: f"replica r0 exit {r.relays[0].popen.poll() if r.relays[0].popen else '?'}" + _repeats(r),
        crm=crm,
    )


async def sms_crm_outage(sizes: Sizes) -> Row:
    got = await sms_outage(sizes.messages, sizes.outage, sizes.give_up)
    once, dup, distinct, lost = tally(got.sent, got.accepted)
    name = f"CRM down {sizes.outage:g} s during SMS traffic (Twilio retries once, then gives up)"
    return Row(name, "SMS -> CRM", 1, len(got.sent), once, dup, distinct, lost, 0, got.retries, got.seconds, got.note)


FAULTS: dict[str, Callable[[Sizes], Awaitable[Row]]] = {
    "crm_refusing": crm_refusing,
    "crm_500": crm_500,
    "crm_hang": crm_hang,
    "crm_429": crm_429,
    "messenger_429": messenger_429,
    "sigkill": replica_sigkill,
    "sigterm": replica_sigterm,
    "crm_late": crm_late,
    "hubspot_late": partial(crm_late, crm="hubspot"),
    "hubspot_sigkill": partial(crm_sigkill, crm="hubspot"),
    "zendesk_late": partial(crm_late, crm="zendesk"),
    "zendesk_sigkill": partial(crm_sigkill, crm="zendesk"),
    "sms_crm_outage": sms_crm_outage,
}


async def run_all(sizes: Sizes, only: Sequence[str] = ()) -> list[Row]:
    """Run the faults one after the other."""
    return [await FAULTS[name](sizes) for name in (only or FAULTS)]
