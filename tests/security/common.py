"""A workspace with every connector type, signers for the routes that can be signed, and the counters."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import importlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from relay import registry
from relay.connector import Outcome, Result
from relay.http import sign
from relay.model import Message
from tests.conftest import workspace

STATS: Counter[str] = Counter()
TYPES: set[str] = set()
STATS_ENV = "RELAY_RELIABILITY_STATS"

CRM_SECRET = "hostile-crm-secret-0123456789"
INBOX_KEY = "hostile-inbox-key-0123456789"
MAX_BODY = 64 * 1024

Headers = dict[str, str]
Signer = Callable[[bytes], Headers]


def example(type_name: str) -> dict[str, Any]:
    """The connector package's EXAMPLE_CONFIG."""
    module = importlib.import_module(f"connectors.{type_name}")
    return copy.deepcopy(module.EXAMPLE_CONFIG)


def _local(type_name: str, fake: str) -> dict[str, Any]:
    """EXAMPLE_CONFIG with every platform URL pointed at the local fake."""
    cfg = example(type_name)
    if type_name == "webhook":
        cfg |= {"url": f"{fake}/crm", "secret": CRM_SECRET}
    elif type_name == "inbox":
        cfg |= {"access_key": INBOX_KEY}
    elif type_name == "telegram":
        cfg |= {"api_base_url": f"{fake}/bot"}
    elif type_name in ("whatsapp", "slack", "bottlecrm"):
        cfg |= {"api_base_url": fake}
    elif type_name == "hubspot":
        cfg |= {"api_base_url": fake, "app_base_url": fake}
    elif type_name == "twilio_sms":
        cfg |= {"api_base_url": fake}
    elif type_name == "teams":
        cfg |= {"openid_metadata_url": f"{fake}/openid"}
    elif type_name == "zendesk":
        cfg.pop("subdomain", None)
        cfg |= {"base_url": fake}
    return cfg


def every_type_workspace(fake: str) -> dict[str, Any]:
    """One instance of every registered connector type, named after its type; messengers route to `webhook`."""
    from relay.connector import ConnectorKind

    connectors = {name: _local(name, fake) for name in registry.available()}
    messengers = [n for n in connectors if registry.load(n).kind is ConnectorKind.MESSENGER]
    TYPES.update(connectors)
    raw = workspace(connectors, [{"from": messengers, "to": "webhook"}])
    raw["server"] = {"max_body_bytes": MAX_BODY}
    return raw


def signers() -> dict[str, Signer]:
    """Valid authentication for each instance whose scheme the tests can produce (teams uses JWTs: none)."""
    out: dict[str, Signer] = {}
    if "webhook" in TYPES:
        out["webhook"] = lambda raw: {"X-Relay-Signature": sign(CRM_SECRET.encode(), raw)}
    if "inbox" in TYPES:
        out["inbox"] = lambda raw: {"Authorization": f"Bearer {INBOX_KEY}"}
    if "telegram" in TYPES:
        secret = example("telegram")["secret_token"]
        out["telegram"] = lambda raw: {"X-Telegram-Bot-Api-Secret-Token": secret}
    if "whatsapp" in TYPES:
        key = example("whatsapp")["app_secret"].encode()
        out["whatsapp"] = lambda raw: {
            "X-Hub-Signature-256": "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
        }
    if "slack" in TYPES:
        out["slack"] = lambda raw: slack_headers(example("slack")["signing_secret"].encode(), raw, int(time.time()))
    if "bottlecrm" in TYPES:
        key = example("bottlecrm")["webhook_secret"].encode()
        out["bottlecrm"] = lambda raw: {"X-BottleCRM-Signature": sign(key, raw)}
    if "hubspot" in TYPES:
        out["hubspot"] = lambda raw: hubspot_headers(raw, int(time.time() * 1000))
    if "zendesk" in TYPES:
        out["zendesk"] = lambda raw: {"X-API-Key": example("zendesk")["webhook_secret"]}
    return out


def hubspot_headers(raw: bytes, stamp_ms: int) -> Headers:
    """HubSpot's v3 signature for /hooks/hubspot at the relay's default public URL."""
    secret = example("hubspot")["client_secret"].encode()
    url = "http://127.0.0.1:8080/hooks/hubspot"
    mac = hmac.new(secret, b"POST" + url.encode() + raw + str(stamp_ms).encode(), hashlib.sha256).digest()
    return {"X-HubSpot-Signature-v3": base64.b64encode(mac).decode(), "X-HubSpot-Request-Timestamp": str(stamp_ms)}


def slack_headers(secret: bytes, raw: bytes, stamp: int) -> Headers:
    mac = hmac.new(secret, b"v0:" + str(stamp).encode() + b":" + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": "v0=" + mac}


def replayed() -> dict[str, Signer]:
    """Signatures that were valid once: too old (outside the window) or made for another body."""
    old = int(time.time()) - 3600
    out: dict[str, Signer] = {
        "webhook": lambda raw: {"X-Relay-Signature": sign(CRM_SECRET.encode(), raw, now=old)},
        "slack": lambda raw: slack_headers(example("slack")["signing_secret"].encode(), raw, old),
        "bottlecrm": lambda raw: {
            "X-BottleCRM-Signature": sign(example("bottlecrm")["webhook_secret"].encode(), raw, now=old)
        },
    }
    out["hubspot"] = lambda raw: hubspot_headers(raw, int(time.time() * 1000) - 3_600_000)
    key = example("whatsapp")["app_secret"].encode()
    out["whatsapp"] = lambda raw: {
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, raw + b" ", hashlib.sha256).hexdigest()
    }
    return {k: v for k, v in out.items() if k in TYPES}


@dataclass
class Spy:
    """Stands in for the engine: counts what inbound routes hand over, forwards nothing."""

    calls: list[str] = field(default_factory=list)

    async def deliver(self, message: Message, deadline: float | None = None) -> Result:
        self.calls.append(message.origin)
        return Result(Outcome.DELIVERED, platform_id="spy")


def record(status: int, body: bytes, authenticated: bool, forwards: int) -> None:
    """Count one hostile request's outcome."""
    STATS["requests"] += 1
    STATS[f"{status // 100}xx"] += 1
    if b"Traceback" in body or b'File "' in body:
        STATS["tracebacks"] += 1
    if not authenticated:
        STATS["forwards_without_auth"] += forwards


def dump_stats() -> None:
    """Write the counters where `python -m bench.reliability` asked for them."""
    path = os.environ.get(STATS_ENV)
    if path:
        doc = dict(STATS) | {"types": sorted(TYPES)}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)


def catch_all() -> web.Application:
    """A platform fake that answers every call with an empty success."""

    async def any_call(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", any_call)
    return app
