"""The other ways to reach a mail server (STARTTLS for IMAP, implicit TLS for SMTP), the move-to-folder marker
for servers without keywords, and `check()` against the real servers."""

from __future__ import annotations

import asyncio

import pytest

from connectors.email.connector import EmailConnector
from tests.conftest import RelayFactory
from tests.connectors.email.helpers import mail, mailbox, relay_workspace, submit, until
from tests.connectors.email.test_peer_e2e import PDF, answer
from tests.peers.mail import MailPeer
from tests.support.crm_sink import CrmSink

pytestmark = pytest.mark.peer


async def test_move_marker_starttls_imap_and_implicit_tls_smtp(
    mail_peer: MailPeer, crm_sink: tuple[CrmSink, str], start_relay: RelayFactory
) -> None:
    sink, url = crm_sink
    raw = relay_workspace(
        mail_peer,
        url,
        marker="move",
        imap_port=mail_peer.imap,
        imap_tls="starttls",
        smtp_port=mail_peer.smtps,
        smtp_tls="implicit",
    )
    client, _ = await start_relay(raw)
    first = mail("See the file.", files=(("notes.pdf", "application/pdf", PDF),))
    await submit(mail_peer, first)
    await until(lambda: len(sink.messages()) == 1)
    await until(lambda: mailbox(mail_peer, "support", "Relayed"))
    assert await mailbox(mail_peer, "support") == [], "delivered mail moved out of the inbox"
    [message] = sink.messages()
    token = message["message"]["attachments"][0]["url"].split("/media/", 1)[1]
    resp = await client.get(f"/media/{token}")
    assert resp.status == 200 and await resp.read() == PDF, "files are found in the done folder too"
    assert await answer(client, message["conversation"], "Received, thank you.") == 200
    await until(lambda: mailbox(mail_peer))
    [got] = await mailbox(mail_peer)
    assert got["In-Reply-To"] == first["Message-ID"] and got["Subject"] == "Re: Order 1042"


async def test_check_reports_what_works(
    mail_peer: MailPeer, crm_sink: tuple[CrmSink, str], start_relay: RelayFactory
) -> None:
    _, url = crm_sink
    _, relay = await start_relay(relay_workspace(mail_peer, url))
    conn = relay.connectors["mail"]
    assert isinstance(conn, EmailConnector)
    checks = await conn.check()
    assert [(c.what, c.ok) for c in checks] == [("IMAP login", True), ("SMTP login", True)]
    assert "IDLE" in checks[0].detail and "$RelayDone" in checks[0].detail
    _, wrong = await start_relay(relay_workspace(mail_peer, url, password="not-the-password"))
    bad = await wrong.connectors["mail"].check()
    assert [(c.ok, c.detail) for c in bad] == [(False, "the server refused the username or password")] * 2
    assert all("not-the-password" not in c.detail for c in bad)
    await asyncio.sleep(0)
