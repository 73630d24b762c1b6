"""End to end against real mail servers (Dovecot IMAP + LMTP, an SMTP submission server): customers' mail
reaches the CRM once with clean text, agents' answers arrive threaded, noise stays out of the CRM."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from relay.http import sign
from tests.conftest import RelayFactory
from tests.connectors.email.helpers import CUSTOMER, SUPPORT, flags, mail, mailbox, relay_workspace, submit, until
from tests.peers.mail import MailPeer
from tests.support.crm_sink import SINK_SECRET, CrmSink

pytestmark = pytest.mark.peer

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
QUOTED = """Yes, it is order 1042, thank you!

Best regards,
Ana Silva
ACME Ltd

On Mon, 7 Dec 2026 at 10:00, Example Support <support@example.com> wrote:
> Which order do you mean?
>
> Example Support
"""


async def answer(client: Any, conversation: str, text: str, reply_to: str | None = None, mid: str = "agent-1") -> int:
    """The CRM's agent answers a conversation (a signed webhook to the relay)."""
    body: dict[str, Any] = {"conversation": conversation, "id": mid, "text": text}
    if reply_to:
        body["reply_to"] = reply_to
    raw = json.dumps(body).encode()
    resp = await client.post("/hooks/crm", data=raw, headers={"X-Relay-Signature": sign(SINK_SECRET.encode(), raw)})
    return int(resp.status)


async def test_customer_mail_reaches_the_crm_once_with_clean_text(
    mail_peer: MailPeer, crm_sink: tuple[CrmSink, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(relay_workspace(mail_peer, url))
    first = mail("Hello, where is my order?\n\n-- \nAna Silva\n+351 912 345 678")
    html_only = mail(None, subject="Invoice", html="<p>Please send the <b>invoice</b>.</p><script>x()</script>")
    with_file = mail("The contract is attached.", subject="Contract", files=(("contract.pdf", "application/pdf", PDF),))
    reply = mail(QUOTED, subject="Re: Order 1042", headers={"In-Reply-To": first["Message-ID"]})
    reply["References"] = first["Message-ID"]
    for msg in (first, html_only, with_file, reply):
        await submit(mail_peer, msg)
    await until(lambda: len(sink.messages()) == 4)
    await asyncio.sleep(1.0)
    got = sink.messages()
    assert len(got) == 4, "each mail reaches the CRM once"
    by_id = {m["message"]["id"]: m for m in got}
    one = by_id[first["Message-ID"].strip("<>")]
    assert one["message"]["text"] == "Order 1042\n\nHello, where is my order?"
    assert one["sender"]["email"] == CUSTOMER and one["sender"]["name"] == "Ana Silva"
    html = by_id[html_only["Message-ID"].strip("<>")]["message"]
    assert html["text"] == "Invoice\n\nPlease send the invoice."
    filed = by_id[with_file["Message-ID"].strip("<>")]["message"]
    assert [(a["name"], a["mime"], a["size"]) for a in filed["attachments"]] == [
        ("contract.pdf", "application/pdf", len(PDF))
    ]
    media = filed["attachments"][0]["url"].split("/media/", 1)[1]
    resp = await client.get(f"/media/{media}")
    assert resp.status == 200 and await resp.read() == PDF
    follow = by_id[reply["Message-ID"].strip("<>")]
    assert follow["message"]["text"] == "Yes, it is order 1042, thank you!"
    assert follow["conversation"] == one["conversation"], "the follow-up lands in the same CRM conversation"
    assert all(b"$RelayDone" in f for f in await flags(mail_peer)), "delivered mail is marked in the mailbox"
    assert not any(b"\\Seen" in f for f in await flags(mail_peer)), "the relay never marks mail read"


async def test_agent_answer_arrives_threaded_and_is_not_read_back(
    mail_peer: MailPeer, crm_sink: tuple[CrmSink, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    client, _ = await start_relay(relay_workspace(mail_peer, url))
    first = mail("Hello, where is my order?")
    await submit(mail_peer, first)
    await until(lambda: len(sink.messages()) == 1)
    conversation = sink.messages()[0]["conversation"]
    assert await answer(client, conversation, "It ships **today**.\nTracking follows.", reply_to="crm-1") == 200
    await until(lambda: mailbox(mail_peer), timeout=20)
    [got] = await mailbox(mail_peer)
    root = first["Message-ID"]
    assert got["From"].addresses[0].addr_spec == SUPPORT
    assert got["To"].addresses[0].addr_spec == CUSTOMER
    assert got["Subject"] == "Re: Order 1042"
    assert got["In-Reply-To"] == root and root in got["References"]
    text = got.get_body(("plain",))
    html = got.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n").strip() == "It ships today.\nTracking follows."
    assert "<b>today</b>" in html.get_content()
    follow = mail("Great, thanks!", subject="Re: Order 1042", headers={"In-Reply-To": got["Message-ID"]})
    follow["References"] = f"{root} {got['Message-ID']}"
    await submit(mail_peer, follow)
    got.replace_header("To", SUPPORT)
    await submit(mail_peer, got, user="support")
    await until(lambda: len(sink.messages()) == 2)
    await asyncio.sleep(1.0)
    assert len(sink.messages()) == 2, "the relay's own mail is never read back into the CRM"
    assert sink.messages()[1]["conversation"] == conversation
    assert sink.messages()[1]["message"]["text"] == "Great, thanks!"


async def test_auto_replies_lists_and_bounces_are_not_customer_messages(
    mail_peer: MailPeer, crm_sink: tuple[CrmSink, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    client, relay = await start_relay(relay_workspace(mail_peer, url))
    away = mail("I am out of the office until Monday.", subject="Automatic reply: Order 1042")
    away["Auto-Submitted"] = "auto-replied"
    news = mail("Our newsletter", subject="News", headers={"List-Id": "<news.example.org>"})
    gone = mail("Please write to me here.", subject="Question", sender="nobody@bounce.invalid")
    for msg in (away, news, gone):
        await submit(mail_peer, msg)
    await until(lambda: len(sink.messages()) == 1)
    [customer] = sink.messages()
    assert customer["message"]["id"] == gone["Message-ID"].strip("<>")
    assert await answer(client, customer["conversation"], "Here is our answer.", mid="agent-7") == 200
    await until(lambda: len(sink.messages("status")) == 1)
    [status] = sink.messages("status")
    assert status["message"]["status"] == "failed" and status["message"]["reply_to"] == "agent-7"
    assert status["conversation"] == customer["conversation"]
    await asyncio.sleep(0.5)
    assert len(sink.messages()) == 1
    skipped = relay.metrics.value("relay_mail_skipped_total", connector="mail")
    assert skipped == 2 and relay.metrics.value("relay_mail_skipped_total", why="list") == 1
    assert all(b"$RelayDone" in f for f in await flags(mail_peer)), "noise is marked too, so it is read once"
