"""The contract's own signature snippets, executed; two secrets during a rotation; named refusals."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.webhook.inbound import verify
from relay.errors import AuthError
from tests.conftest import RelayFactory, chat_token, webhook_workspace
from tests.support.crm_sink import SINK_SECRET

DOC = Path("docs/webhook-contract.md").read_text()
KEY = b"doc-hmac-secret-7f3a9c2e5b1d4806"
BODY = b'{"conversation": "c1", "id": "x"}'


def _snippet(lang: str, after: str) -> str:
    found = re.search(rf"{re.escape(after)}.*?```{lang}\n(.*?)```", DOC, re.DOTALL)
    assert found, after
    return found.group(1)


def _v1(key: bytes, t: int, body: bytes = BODY) -> str:
    return hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def _cases() -> list[tuple[str | None, bool]]:
    t = int(time.time())
    good, other = _v1(KEY, t), _v1(b"other-secret", t)
    return [
        (f"t={t},v1={good}", True),
        (f"t={t},v1={good},v1={other}", True),
        (f"t={t},v1={other},v1={good}", True),
        (f"t={t},v1={good.upper()}", True),
        (f"t={t},v1={other}", False),
        (f"t={t - 301},v1={_v1(KEY, t - 301)}", False),
        (f"t={t},v1=abc", False),
        (f"t={t},v1=", False),
        (f"t={t}", False),
        ("v1=abc", False),
        ("", False),
        (None, False),
        ("garbage", False),
    ]


def test_python_snippet_accepts_any_matching_v1_and_refuses_the_rest() -> None:
    scope: dict[str, Any] = {}
    exec(_snippet("python", "### Verifying in Python"), scope)
    for header, ok in _cases():
        assert scope["verify"](KEY, header, BODY) is ok, header


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_node_snippet_accepts_any_matching_v1_and_never_throws(tmp_path: Path) -> None:
    cases = _cases()
    script = _snippet("js", "### Verifying in Node.js") + (
        f"const cases = {json.dumps([c[0] for c in cases])};\n"
        f"const body = Buffer.from({json.dumps(BODY.decode())});\n"
        f"console.log(JSON.stringify(cases.map(h => verify({json.dumps(KEY.decode())}, h, body))));\n"
        f"const s = sign({json.dumps(KEY.decode())}, body);\n"
        "console.log(JSON.stringify(verify(" + json.dumps(KEY.decode()) + ", s, body)));\n"
    )
    (tmp_path / "v.js").write_text(script)
    proc = await asyncio.create_subprocess_exec(
        "node", str(tmp_path / "v.js"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    results, signed = out.decode().splitlines()
    assert json.loads(results) == [c[1] for c in cases]
    assert json.loads(signed) is True


def test_relay_accepts_any_v1_upper_hex_and_names_what_is_wrong() -> None:
    t = int(time.time())
    verify([KEY], f"t={t},v1={_v1(b'x' * 16, t)},v1={_v1(KEY, t).upper()}", BODY)
    for header, words in (
        (None, ("missing", "X-Relay-Signature", "t=<unix seconds>")),
        (f"t={t * 1000},v1={_v1(KEY, t * 1000)}", ("milliseconds", "seconds")),
        (f"t={t - 400},v1={_v1(KEY, t - 400)}", (" s old", "5-minute")),
        (f"t={t},v1=abc", ("v1", "64 hex digits", "e.g.")),
        (f"t={t},v1={_v1(b'wrong', t)}", ("no v1 matches", "raw body")),
    ):
        with pytest.raises(AuthError) as caught:
            verify([KEY], header, BODY)
        for word in words:
            assert word in caught.value.reason, (header, caught.value.reason)


async def test_rotation_signs_with_both_secrets_and_accepts_answers_under_either(
    start_relay: RelayFactory, crm_sink: Any
) -> None:
    sink, url = crm_sink
    old = "previous-secret-0123456789abcd"
    client, _ = await start_relay(webhook_workspace(url, previous_secret=old))
    chat = await chat_token(client)
    await client.post("/hooks/webchat/api/messages", json={"id": "a1", "text": "hi"}, headers=chat)
    assert sink.bad_signatures == 0 and sink.messages()
    conversation = sink.messages()[0]["conversation"]
    for i, secret in enumerate((SINK_SECRET, old)):
        raw = json.dumps({"conversation": conversation, "id": f"r{i}", "text": "ok"}).encode()
        t = int(time.time())
        header = f"t={t},v1={_v1(secret.encode(), t, raw)}"
        resp = await client.post("/hooks/crm", data=raw, headers={"X-Relay-Signature": header})
        assert resp.status == 200, await resp.text()


async def test_events_carry_one_v1_per_secret_during_a_rotation(start_relay: RelayFactory, crm_sink: Any) -> None:
    sink, url = crm_sink
    sink.secret = "previous-secret-0123456789abcd"
    client, _ = await start_relay(webhook_workspace(url, previous_secret=sink.secret))
    chat = await chat_token(client)
    resp = await client.post("/hooks/webchat/api/messages", json={"id": "a1", "text": "hi"}, headers=chat)
    assert resp.status == 200 and sink.bad_signatures == 0 and sink.messages()
