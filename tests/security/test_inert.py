"""Everything the relay serves is inert: files from senders are downloads unless they are sniffed-true media,
and every page carries a strict CSP (hashes, no 'unsafe-inline'), no referrer, nosniff and no framing."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from relay.inert import media_headers, page_policy, safe_filename
from tests.conftest import RelayFactory, sandbox_workspace
from tests.support.crm_sink import CrmSink
from tests.support.file_host import PNG, TG_HEADERS, FileHost, document, files_to_crm

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


@pytest.mark.parametrize(
    ("mime", "name", "head"),
    [
        ("text/html", "x.html", HTML),
        ("image/svg+xml", "x.svg", SVG),
        ("image/png", "x.png", HTML),
        ("image/png; charset=utf-8", "fake.png", b"GIF89a......"),
        ("application/xhtml+xml", "x.xhtml", HTML),
        ("text/javascript", "x.js", b"alert(1)"),
        ("image/jpeg", "photo.jpg", PNG),
        ("video/mp4", "clip.mp4", b"\x1a\x45\xdf\xa3 webm, not mp4"),
    ],
)
def test_markup_and_mislabelled_files_are_downloads(mime: str, name: str, head: bytes) -> None:
    headers = media_headers(mime, name, head)
    assert headers["Content-Disposition"].startswith("attachment;")
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("mime", "head"),
    [
        ("image/png", PNG),
        ("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF"),
        ("image/jpg", b"\xff\xd8\xff\xe1"),
        ("image/gif", b"GIF89a\x01\x00"),
        ("image/webp", b"RIFF\x10\x00\x00\x00WEBPVP8 "),
        ("audio/ogg; codecs=opus", b"OggS\x00\x02"),
        ("audio/mpeg", b"ID3\x04\x00"),
        ("video/mp4", b"\x00\x00\x00\x18ftypmp42"),
        ("video/webm", b"\x1a\x45\xdf\xa3\x9f"),
    ],
)
def test_sniffed_true_images_audio_and_video_are_shown_inline(mime: str, head: bytes) -> None:
    headers = media_headers(mime, "pic", head)
    assert headers["Content-Disposition"].startswith("inline;")
    assert headers["Content-Type"] == mime.split(";")[0].replace("image/jpg", "image/jpeg")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]


def test_plain_data_downloads_keep_their_type_but_never_markup() -> None:
    assert media_headers("application/pdf", "a.pdf", b"%PDF-1.4")["Content-Type"] == "application/pdf"
    assert media_headers("text/plain", "a.txt", b"hi")["Content-Type"] == "text/plain"
    for mime in ("text/html", "text/xml", "application/vnd.foo+xml", "text/css", "weird type/<x>", ""):
        assert media_headers(mime, "a", b"x")["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("name", "ascii_name"),
    [
        ('../../etc/passwd"; x=1', "passwd__ x=1"),
        ("evil\r\nSet-Cookie: a=b.html", "evil__Set-Cookie: a=b.html"),
        ("C:\\Users\\x\\report.pdf", "report.pdf"),
        ("...", "file"),
        ("", "file"),
        ("счёт.pdf", "____.pdf"),
    ],
)
def test_file_names_are_reduced_to_a_safe_base_name(name: str, ascii_name: str) -> None:
    value = media_headers("application/pdf", name, b"%PDF")["Content-Disposition"]
    assert "\r" not in value and "\n" not in value
    assert f'filename="{ascii_name}"' in value
    assert value.count('"') == 2
    assert len(safe_filename("a" * 500 + ".html")) <= 100 and safe_filename("a" * 500 + ".html").endswith(".html")


def test_page_policy_allows_exactly_the_inline_blocks_by_hash() -> None:
    body = b"<style>b{}</style><script>run()</script><script type=module>more()</script>"
    policy = page_policy(body)
    for block in (b"b{}", b"run()", b"more()"):
        assert f"'sha256-{base64.b64encode(hashlib.sha256(block).digest()).decode()}'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "script-src 'none'" in page_policy(b"<p>no scripts</p>")


async def test_hostile_files_from_a_sender_are_served_inert(
    start_relay: RelayFactory, aiohttp_server: Any, crm_sink: tuple[CrmSink, str]
) -> None:
    host = FileHost()
    api = str((await aiohttp_server(host.app())).make_url("/")).rstrip("/")
    sink, url = crm_sink
    files = {
        "f-html": ("documents/x.html", "x.html", "text/html", HTML),
        "f-svg": ("documents/x.svg", "x.svg", "image/svg+xml", SVG),
        "f-fake": ("documents/fake.png", "fake.png", "image/png", HTML),
        "f-png": ("documents/real.png", "real.png", "image/png", PNG),
    }
    client, _ = await start_relay(files_to_crm(api, url))
    for n, (file_id, (path, name, mime, data)) in enumerate(files.items()):
        host.add_file(file_id, path, data)
        resp = await client.post("/hooks/tg/", json=document(7000 + n, file_id, name, mime), headers=TG_HEADERS)
        assert resp.status == 200
    got = {}
    for body in sink.received:
        link = body["message"]["attachments"][0]
        resp = await client.get(urlsplit(link["url"]).path)
        assert resp.status == 200
        assert await resp.read() == files[next(k for k, v in files.items() if v[1] == link["name"])][3]
        got[link["name"]] = resp.headers
    for name in ("x.html", "x.svg", "fake.png"):
        assert got[name]["Content-Disposition"].startswith("attachment;"), name
        assert got[name]["Content-Type"] == "application/octet-stream", name
    assert got["real.png"]["Content-Disposition"].startswith("inline;")
    assert got["real.png"]["Content-Type"] == "image/png"
    for headers in got.values():
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Security-Policy"].startswith("sandbox; default-src 'none'")


async def test_every_page_and_answer_carries_the_hardening_headers(start_relay: RelayFactory) -> None:
    client, _ = await start_relay(sandbox_workspace())
    for path in ("/", "/hooks/inbox/", "/hooks/webchat/"):
        resp = await client.get(path)
        page = await resp.read()
        assert resp.status == 200 and resp.content_type == "text/html", path
        policy = resp.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy, path
        assert "default-src 'none'" in policy and "base-uri 'none'" in policy, path
        scripts = re.findall(rb"<script>(.*?)</script>", page, re.S)
        for script in scripts:
            assert f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'" in policy, path
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
    for path in ("/healthz", "/readyz", "/metrics", "/nowhere", "/hooks/inbox/api/conversations", "/media/x"):
        resp = await client.get(path)
        await resp.read()
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert resp.headers["Referrer-Policy"] == "no-referrer", path
        assert "sandbox" in resp.headers["Content-Security-Policy"], path
