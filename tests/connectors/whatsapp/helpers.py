"""Shared helpers for the WhatsApp tests: config, signing, payload fixtures."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.connectors.whatsapp.fake_graph import PNID, TOKEN
from tests.support.crm_sink import SINK_SECRET

APP_SECRET = "test-app-secret-0123456789"
VERIFY_TOKEN = "test-verify-token-0123"
INBOX_KEY = "inbox-test-key-123456"
INBOX_AUTH = {"Authorization": f"Bearer {INBOX_KEY}"}
CUSTOMER = "5511987654321"
OTHER = "5511900000002"
OLD_TS = b"1736935200"
PAYLOADS = Path(__file__).parent / "payloads"


def wa_config(base_url: str, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "type": "whatsapp",
        "phone_number_id": PNID,
        "access_token": TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "api_base_url": base_url,
    }
    cfg.update(extra)
    return cfg


def sink_config(url: str) -> dict[str, Any]:
    return {"type": "webhook", "url": url, "secret": SINK_SECRET}


def signature(raw: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    mac = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={mac}", "Content-Type": "application/json"}


def payload(name: str, fresh: bool = True) -> bytes:
    """A recorded-shape payload's raw bytes; `fresh` moves customer message times to now (open window) and
    status times to just before, in the same order (older items are refused as replays)."""
    raw = (PAYLOADS / name).read_bytes()
    if not fresh:
        return raw
    now = int(time.time())
    raw = raw.replace(OLD_TS, str(now).encode())
    return re.sub(rb'"(17369353\d\d|17369354\d\d)"', lambda m: b'"%d"' % (now - 1000 + int(m[1]) - int(OLD_TS)), raw)


def load(name: str) -> Any:
    return json.loads(payload(name, fresh=False))


def text_payload(wamid: str, body: str, wa_id: str = CUSTOMER, ts: int | None = None) -> bytes:
    """One customer text message, shaped like text.json."""
    data = load("text.json")
    value = data["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = wa_id
    value["messages"][0].update(
        {"id": wamid, "from": wa_id, "timestamp": str(ts or int(time.time())), "text": {"body": body}}
    )
    return json.dumps(data).encode()


def status_payload(wamid: str, *states: str, wa_id: str = CUSTOMER, code: int | None = None) -> bytes:
    """Statuses for one outbound wamid, in the order given, shaped like statuses.json."""
    data = load("statuses.json")
    value = data["entry"][0]["changes"][0]["value"]
    value["statuses"] = []
    base = int(time.time()) - 60
    for i, state in enumerate(states):
        item: dict[str, Any] = {"id": wamid, "status": state, "timestamp": str(base + i), "recipient_id": wa_id}
        if state == "failed" and code is not None:
            item["errors"] = [{"code": code, "title": "error"}]
        value["statuses"].append(item)
    data["entry"] = data["entry"][:1]
    data["entry"][0]["changes"] = data["entry"][0]["changes"][:1]
    return json.dumps(data).encode()


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait for background work (the engine's notices) to show up."""
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")
