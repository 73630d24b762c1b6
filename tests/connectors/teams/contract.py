"""Teams in the contract suite: the Bot Framework fake (with the Entra tenant msal needs, over TLS), recorded
activities signed with a Bot Framework token for their serviceUrl."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from relay.model import Address
from relay.seal import legacy_handle
from tests.connectors.teams.fakes import APP_ID, PAYLOADS, SECRET, TENANT, BotFramework, Entra, mint, tls_material
from tests.contract.case import ContractCase, Payload

SERVICE = b"https://smba.trafficmanager.net/emea/"
DELIVERED = (
    "personal_message",
    "channel_message",
    "group_message",
    "file_message",
    "message_update",
    "message_delete",
    "card_submit",
    "message_reaction",
)


@dataclass
class FakeTeams(BotFramework):
    """The Bot Framework fake that also serves, while its app runs, the tenant msal gets tokens from: over TLS
    with a throwaway CA that msal's HTTP client trusts through REQUESTS_CA_BUNDLE (restored when it stops)."""

    entra: Entra = field(default_factory=Entra)
    runner: web.AppRunner | None = None
    folder: tempfile.TemporaryDirectory[str] | None = None
    saved: dict[str, str | None] = field(default_factory=dict)

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.on_startup.append(self._start_entra)
        app.on_cleanup.append(self._stop_entra)

    async def _start_entra(self, app: web.Application) -> None:
        self.folder = tempfile.TemporaryDirectory()
        ssl_ctx, ca_file = tls_material(Path(self.folder.name))
        for name, value in (("REQUESTS_CA_BUNDLE", str(ca_file)), ("NO_PROXY", "127.0.0.1")):
            self.saved[name] = os.environ.get(name)
            os.environ[name] = value
        self.runner = web.AppRunner(self.entra.app())
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=ssl_ctx).start()
        self.entra.base = f"https://127.0.0.1:{self.runner.addresses[0][1]}"

    async def _stop_entra(self, app: web.Application) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if self.folder is not None:
            self.folder.cleanup()


DRIVEN: list[FakeTeams] = []  # the fake the suite drives now: the config and the address name its URLs


def _fake() -> FakeTeams:
    DRIVEN[:] = [FakeTeams()]
    return DRIVEN[0]


def _config(base: str) -> dict[str, Any]:
    DRIVEN[0].base = base
    return {
        "type": "teams",
        "app_id": APP_ID,
        "app_secret": SECRET,
        "tenant_id": TENANT,
        "openid_metadata_url": f"{base}/v1/.well-known/openidconfiguration",
        "authority": f"{DRIVEN[0].entra.base}/{TENANT}",
        "service_url_allowlist": ["127.0.0.1"],
    }


def _address(instance: str) -> Address:
    return Address(instance, "a:1XyZPersonalChat", handle=legacy_handle(f"{DRIVEN[0].base}/", "personal"))


def _signed(body: bytes) -> Mapping[str, str]:
    token = mint(json.loads(body)["serviceUrl"])
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _recorded(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes().replace(b"SERVICE_URL/", SERVICE)


CASE = ContractCase(
    fake=_fake,
    config=_config,
    payloads=(
        *(Payload(name, _recorded(name), _signed, "/messages") for name in DELIVERED),
        Payload("conversation_update", _recorded("conversation_update"), _signed, "/messages", delivers=False),
    ),
    address=_address,
    extra={"network": {"allow_private": ["127.0.0.1/32"]}, "media": {"allowlist": ["127.0.0.1"]}},
)
