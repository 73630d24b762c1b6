"""The mailbox is the queue: a CRM outage, a restart, a SIGKILL mid-delivery and a second replica lose and
duplicate nothing (against real Dovecot and the SMTP server)."""

from __future__ import annotations

import asyncio
import secrets
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.reliability.relays import REDIS_URL, RelayProc, free_port, redis_available
from tests.conftest import RelayFactory
from tests.connectors.email.helpers import flags, mail, relay_workspace, submit, until
from tests.peers.mail import MailPeer
from tests.support.crm_sink import CrmSink

pytestmark = [pytest.mark.peer, pytest.mark.timeout(120)]


def ids(sink: CrmSink) -> list[str]:
    return [str(m["message"]["id"]) for m in sink.messages()]


async def test_crm_outage_and_restart_resume_from_the_mailbox_alone(
    mail_peer: MailPeer, crm_sink: tuple[CrmSink, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    sink.mode = "500"
    raw = relay_workspace(mail_peer, url, ack_deadline=2.0)
    client, _ = await start_relay(raw)
    sent = [mail(f"Question {i}", subject=f"Q{i}") for i in range(4)]
    for msg in sent[:2]:
        await submit(mail_peer, msg)
    await until(lambda: sink.calls >= 2)
    assert not any(b"$RelayDone" in f for f in await flags(mail_peer)), "nothing is marked before the CRM accepted"
    sink.mode = "ok"
    await until(lambda: len(sink.messages()) == 2)
    await client.close()
    for msg in sent[2:]:
        await submit(mail_peer, msg)
    await asyncio.sleep(1.0)
    assert len(sink.messages()) == 2
    await start_relay(raw)
    await until(lambda: len(sink.messages()) == 4)
    await asyncio.sleep(1.0)
    assert sorted(ids(sink)) == sorted(m["Message-ID"].strip("<>") for m in sent)


async def test_sigkill_mid_delivery_loses_and_duplicates_nothing(
    mail_peer: MailPeer, crm_sink: tuple[CrmSink, str], tmp_path: Path
) -> None:
    sink, url = crm_sink
    sink.delay = 0.6
    port = free_port()
    raw = relay_workspace(mail_peer, url, ack_deadline=5.0)
    config: dict[str, Any] = {
        **raw,
        "server": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "logging": {"level": "info", "format": "json"},
    }
    sent = [mail(f"Question {i}", subject=f"Q{i}") for i in range(5)]
    for msg in sent:
        await submit(mail_peer, msg)
    first = RelayProc("a", config, tmp_path)
    second = RelayProc("b", config, tmp_path)
    try:
        first.start()
        await until(lambda: sink.calls >= 2, timeout=30)
        first.signal(signal.SIGKILL)
        assert await first.wait(10) is not None
        second.start()
        async with aiohttp.ClientSession() as session:
            await second.ready(session)
        await until(lambda: set(ids(sink)) == {m["Message-ID"].strip("<>") for m in sent}, timeout=40)
        await asyncio.sleep(1.0)
    finally:
        for proc in (first, second):
            if proc.popen is not None:
                await proc.stop()
    events: dict[str, set[str]] = {}
    for mid, event in zip(ids(sink), sink.event_ids, strict=True):
        events.setdefault(mid, set()).add(event)
    assert set(events) == {m["Message-ID"].strip("<>") for m in sent}, "no mail is lost"
    assert all(len(found) == 1 for found in events.values()), (
        "a mail delivered again after the kill carries the same event id, so the CRM keeps it once"
    )
    assert all(b"$RelayDone" in f for f in await flags(mail_peer))


@pytest.mark.skipif(not redis_available(), reason="needs relay.state_redis and Redis")
async def test_two_replicas_never_deliver_one_mail_twice(
    mail_peer: MailPeer, crm_sink: tuple[CrmSink, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    raw = relay_workspace(mail_peer, url)
    raw["workspace"]["id"] = "mail-" + secrets.token_hex(4)
    raw["state"] = {"backend": "redis", "url": REDIS_URL}
    one = await start_relay(raw)
    two = await start_relay(raw)
    sent = [mail(f"Question {i}", subject=f"Q{i}") for i in range(6)]
    for msg in sent:
        await submit(mail_peer, msg)
    await until(lambda: len(sink.messages()) == 6)
    await asyncio.sleep(1.5)
    assert sink.calls == 6, "one replica holds the mailbox: no mail is delivered twice, not even to the dedup"
    counts = [r.metrics.value("relay_messages_total", connector="mail") for _, r in (one, two)]
    assert sorted(counts) == [0, 6]
    leader, follower = (one, two) if counts[0] else (two, one)
    await leader[0].close()
    more = [mail("After the leader stopped", subject="Q9")]
    await submit(mail_peer, more[0])
    await until(lambda: len(sink.messages()) == 7, timeout=30)
    # the relay counts a message once the CRM answered and its claim is stored, a moment after the sink saw it
    await until(lambda: follower[1].metrics.value("relay_messages_total", connector="mail") == 1)
    assert leader[1].metrics.value("relay_messages_total", connector="mail") == 6
    assert sorted(ids(sink)) == sorted(m["Message-ID"].strip("<>") for m in sent + more)
