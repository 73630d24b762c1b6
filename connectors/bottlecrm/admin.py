"""`relay bottlecrm` CLI, its own file because pyproject registers this module as the `relay.cli` entry point."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp

from connectors.bottlecrm import convert
from connectors.bottlecrm.config import BottleCrmConfig
from relay.client import PlatformClient
from relay.errors import DeliveryError

TIMEOUT = 30.0


class AdminError(Exception):
    """Registering the webhook failed; the message says why, without secrets."""


async def list_webhooks(client: PlatformClient, base_url: str, jwt: str) -> list[dict[str, Any]]:
    """The org's webhook endpoints (GET /api/webhooks/ with an admin JWT)."""
    answer = await client.call(convert.api_call(base_url.rstrip("/"), jwt, "GET", "/api/webhooks/", timeout=TIMEOUT))
    if answer.status != 200:
        raise AdminError(f"GET /api/webhooks/ answered {answer.status}; use an admin's JWT (not a bcrm_pat_ token)")
    return convert.endpoints(answer.json())


async def register_webhook(
    client: PlatformClient, base_url: str, jwt: str, hook_url: str, events: list[str]
) -> dict[str, Any]:
    """Create the webhook endpoint; returns BottleCRM's answer, whose `secret` (whsec_...) is shown only once."""
    body = {"url": hook_url, "events": events, "format": "json"}
    call = convert.api_call(base_url.rstrip("/"), jwt, "POST", "/api/webhooks/", body, timeout=TIMEOUT)
    answer = await client.call(call)
    made = answer.json()
    if answer.status not in (200, 201) or not isinstance(made, dict) or "secret" not in made:
        detail = made.get("detail") or made.get("errors") if isinstance(made, dict) else None
        raise AdminError(f"POST /api/webhooks/ answered {answer.status}: {str(detail)[:300]}")
    return made


async def ensure_webhook(base_url: str, jwt: str, hook_url: str, events: list[str]) -> dict[str, Any] | None:
    """Register the webhook unless one for `hook_url` exists; None when it already exists."""
    async with aiohttp.ClientSession() as session:
        client = PlatformClient.standalone(session)
        for ep in await list_webhooks(client, base_url, jwt):
            if str(ep.get("url", "")).rstrip("/") == hook_url.rstrip("/"):
                return None
        return await register_webhook(client, base_url, jwt, hook_url, events)


def cmd_register_webhook(args: argparse.Namespace) -> int:
    """`relay bottlecrm register-webhook`: print the new secret once, with how to store it."""
    from relay import config as config_mod

    loaded = config_mod.load(Path(args.config))
    inst = loaded.instances.get(args.instance)
    if inst is None or not isinstance(inst.config, BottleCrmConfig):
        names = [n for n, i in loaded.instances.items() if isinstance(i.config, BottleCrmConfig)]
        print(f"relay bottlecrm: no bottlecrm connector named {args.instance!r}; found: {names}", file=sys.stderr)
        return 2
    jwt = os.environ.get(args.jwt_env, "")
    if not jwt:
        print(
            f"relay bottlecrm: set {args.jwt_env} to an admin's access token (sign in to BottleCRM; "
            "API tokens cannot manage webhooks)",
            file=sys.stderr,
        )
        return 2
    server = loaded.relay.server
    public = (args.public_url or server.public_url or f"http://{server.host}:{server.port}").rstrip("/")
    hook_url = f"{public}/hooks/{args.instance}/"
    event = inst.config.reply_event
    try:
        made = asyncio.run(ensure_webhook(inst.config.base, jwt, hook_url, [event]))
    except (AdminError, DeliveryError) as exc:
        print(f"relay bottlecrm: {exc}", file=sys.stderr)
        return 1
    if made is None:
        print(f"A webhook for {hook_url} is already registered; nothing changed.")
        return 0
    print(f"Registered webhook {made.get('id')} for {hook_url} ({event}).")
    print(f"Its secret, shown only this once:\n\n    {made['secret']}\n")
    print(
        "Store it (e.g. `relay secrets set BOTTLECRM_WEBHOOK_SECRET`, then paste it) and set "
        'webhook_secret = "${BOTTLECRM_WEBHOOK_SECRET}" in this connector\'s config.'
    )
    return 0


def add_cli(sub: Any) -> None:
    """Add `relay bottlecrm register-webhook` to the relay CLI's subparsers."""
    group = sub.add_parser("bottlecrm", help="BottleCRM admin tools").add_subparsers(dest="sub", required=True)
    reg = group.add_parser("register-webhook", help="register the relay's webhook in BottleCRM (admin JWT)")
    reg.add_argument("--config", required=True, help="workspace TOML file")
    reg.add_argument("--instance", required=True, help="name of the bottlecrm connector in the config")
    reg.add_argument("--jwt-env", default="BOTTLECRM_JWT", help="environment variable holding an admin's JWT")
    reg.add_argument("--public-url", help="the relay's public URL (default: server.public_url)")
    reg.set_defaults(func=cmd_register_webhook)
