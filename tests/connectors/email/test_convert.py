"""Mail in and out without servers: recorded mails read into clean text and the right class, replies built
threaded, file sections decoded in chunks, the config's safety rules."""

from __future__ import annotations

import base64
import quopri
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.email.config import EmailConfig
from connectors.email.convert import Decoder, file_id, parse_file_id, thread_of, to_message
from relay.mailbuild import Thread, build, is_own, new_message_id, reply_subject
from relay.mailparse import MailClass, parse, section_bytes
from relay.mailtext import html_to_text, latest_reply
from relay.model import Kind, Status
from relay.richtext import from_markdown

HERE = Path(__file__).parent / "payloads"


def tag(token: str) -> str:
    return "k" + token[::-1]


def own(message_id: str) -> bool:
    return is_own(message_id, tag)


def digest(value: str) -> str:
    return "d" * 32


def recorded(name: str, **fill: str) -> bytes:
    raw = (HERE / name).read_bytes()
    for key, value in fill.items():
        raw = raw.replace(f"{{{key}}}".encode(), value.encode())
    return raw


def test_gmail_reply_keeps_only_the_new_words_and_joins_the_thread() -> None:
    mail = parse(recorded("gmail_reply.eml"))
    assert mail.kind is MailClass.CUSTOMER
    assert mail.text == "Perfect, the tracking number works. Danke schön!\n\nAna"
    assert mail.root == "CAF1relayroot0001@mail.gmail.com"
    message = to_message(mail, "mail", "uid:1:1", digest, own)
    assert message is not None and message.kind is Kind.TEXT
    assert message.conversation.handle == "CAF1relayroot0001@mail.gmail.com"
    assert message.conversation.chat == "ana.silva@example.org"
    assert message.sender is not None and message.sender.email == "ana.silva@example.org"
    assert "example.org" not in repr(message) and "example.org" not in repr(mail)
    assert message.text.plain.startswith("Perfect"), "a reply's subject is not repeated"


def test_html_only_mail_becomes_plain_text_without_scripts_or_remote_content() -> None:
    mail = parse(recorded("outlook_html_only.eml"))
    assert mail.sender_name == "Jürgen Müller"
    assert "alert" not in mail.text and "tracker" not in mail.text and "margin" not in mail.text
    assert mail.text == (
        "Guten Tag,\n\nmir fehlt die Rechnung für Auftrag 77. Siehe Bestellung (https://shop.example.net/orders/77)."
    )
    message = to_message(mail, "mail", "uid:1:2", digest, own)
    assert message is not None
    assert message.text.plain.startswith("Rechnung fehlt\n\n"), "a new thread's subject leads"


def test_attachments_are_described_by_section_and_read_back_exactly() -> None:
    raw = recorded("attachment.eml")
    mail = parse(raw)
    assert mail.text == "The signed contract is attached."
    [pdf] = mail.files
    assert (pdf.section, pdf.encoding, pdf.name, pdf.mime) == ("2", "base64", "contract.pdf", "application/pdf")
    data = section_bytes(raw, "2")
    assert data is not None and data.startswith(b"%PDF-1.4") and len(data) == pdf.size
    message = to_message(mail, "mail", "uid:1:3", digest, own)
    assert message is not None and message.kind is Kind.MEDIA
    ref = message.attachments[0].ref
    assert ref is not None and parse_file_id(ref.file_id) == ("2", "base64", "contract-0003@example.org")


@pytest.mark.parametrize(
    ("name", "kind"),
    [("exchange_out_of_office.eml", MailClass.AUTO_REPLY), ("list_mail.eml", MailClass.LIST)],
)
def test_auto_replies_and_list_mail_are_not_customer_messages(name: str, kind: MailClass) -> None:
    mail = parse(recorded(name))
    assert mail.kind is kind
    assert to_message(mail, "mail", "uid:1:4", digest, own) is None


def test_a_bounce_of_a_relayed_answer_becomes_a_failed_status_of_that_answer() -> None:
    sent = new_message_id("example.com", tag)
    mail = parse(recorded("postfix_bounce.eml", OWN_ID=sent))
    assert mail.kind is MailClass.BOUNCE and mail.bounce is not None
    message = to_message(mail, "mail", "uid:1:5", digest, own)
    assert message is not None and message.kind is Kind.STATUS and message.status is Status.FAILED
    assert message.ref == sent and message.conversation.handle == "root-0006@example.org"
    assert message.conversation.chat == "gone@example.org"
    other = parse(recorded("postfix_bounce.eml", OWN_ID="someone-else@example.com"))
    assert to_message(other, "mail", "uid:1:6", digest, own) is None, "bounces of mail we did not send are dropped"


def test_the_relays_own_mail_is_recognised() -> None:
    mid = new_message_id("example.com", tag)
    built = build(
        sender="support@example.com",
        sender_name=None,
        to="ana@example.org",
        message_id=mid,
        thread=Thread(),
        text=from_markdown("hi"),
    )
    assert parse(bytes(built), lambda m, _f: m is not None and own(m)).kind is MailClass.OWN
    assert not own("1234.abcd@example.com") and not own("nonsense")


def test_reply_is_threaded_with_text_and_html_alternatives() -> None:
    thread = thread_of([recorded("gmail_reply.eml")], "CAF1relayroot0001@mail.gmail.com", None)
    assert thread.in_reply_to == "CAF1relayreply0002@mail.gmail.com"
    assert thread.chain()[0] == "CAF1relayroot0001@mail.gmail.com"
    built = build(
        sender="support@example.com",
        sender_name="Example Support",
        to="ana.silva@example.org",
        message_id="m1.x@example.com",
        thread=thread,
        text=from_markdown("It ships **today**.\nSee [tracking](https://track.example.com/1)."),
        automatic=True,
    )
    msg = message_from_bytes(bytes(built), policy=policy.default)
    assert msg["Subject"] == "Re: Order 1042" and msg["Auto-Submitted"] == "auto-replied"
    assert msg["In-Reply-To"] == "<CAF1relayreply0002@mail.gmail.com>"
    assert msg["References"].split()[-1] == "<CAF1relayreply0002@mail.gmail.com>"
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    assert "See tracking <https://track.example.com/1>." in text.get_content()
    assert '<b>today</b>.<br>\nSee <a href="https://track.example.com/1">tracking</a>' in html.get_content()


def test_reply_without_the_thread_in_the_mailbox_still_threads_under_the_root() -> None:
    thread = thread_of([], "root@example.org", None)
    assert (thread.in_reply_to, thread.chain()) == ("root@example.org", ("root@example.org",))
    assert reply_subject("", "Re: your message") == "Re: your message"
    assert (
        reply_subject("AW: Rechnung", "x") == "AW: Rechnung" and reply_subject("Hi\r\nBcc: x", "x") == "Re: Hi Bcc: x"
    )
    long = Thread("last@x", tuple(f"r{i}@x" for i in range(30)))
    assert len(long.chain()) == 10 and long.chain()[0] == "r0@x" and long.chain()[-1] == "last@x"


def test_html_quotes_links_and_entities() -> None:
    html = "<p>Hi &amp; bye</p><blockquote>old<br>older</blockquote><ul><li>one</li><li>two</li></ul>"
    assert html_to_text(html) == "Hi & bye\n\n> old\n> older\n\n- one\n- two"
    assert latest_reply("Ja, passt.\n\nAm 07.12.2026 um 10:00 schrieb Support <s@example.com>:\n> alt") == "Ja, passt."
    assert latest_reply("") == ""


@given(
    st.binary(max_size=3000), st.integers(min_value=1, max_value=200), st.sampled_from(["base64", "quoted-printable"])
)
def test_sections_decode_the_same_in_any_chunking(data: bytes, size: int, encoding: str) -> None:
    if encoding == "quoted-printable":
        data = data.replace(b"\r", b"").replace(b"\n", b"")
    encoded = base64.encodebytes(data) if encoding == "base64" else quopri.encodestring(data, quotetabs=True)
    encoded = encoded.replace(b"\n", b"\r\n")
    decoder = Decoder(encoding)
    out = b"".join(decoder.feed(encoded[i : i + size]) for i in range(0, len(encoded), size)) + decoder.flush()
    assert out == data


def test_file_ids_round_trip_and_refuse_junk() -> None:
    assert parse_file_id(file_id("1.2", "base64", "a:b@c")) == ("1.2", "base64", "a:b@c")
    assert (
        parse_file_id("x:base64:id") is None
        and parse_file_id("1:rot13:id") is None
        and parse_file_id("1:7bit:") is None
    )


def test_config_refuses_clear_text_to_remote_servers_and_keeps_the_password_secret() -> None:
    base = {
        "type": "email",
        "address": "support@example.com",
        "username": "support",
        "password": "pw-0123456789",
        "imap_host": "imap.example.com",
        "smtp_host": "smtp.example.com",
    }
    config = EmailConfig.model_validate(base)
    assert config.domain == "example.com" and "pw-0123456789" not in repr(config)
    with pytest.raises(ValidationError, match="in clear"):
        EmailConfig.model_validate({**base, "imap_tls": "none"})
    assert EmailConfig.model_validate({**base, "smtp_host": "127.0.0.1", "smtp_tls": "none"}).smtp_tls == "none"
    with pytest.raises(ValidationError, match="smtp_password"):
        EmailConfig.model_validate({**base, "smtp_username": "other"})
