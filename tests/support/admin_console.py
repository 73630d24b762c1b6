"""Helpers for admin console tests: a relay with the console on, sessions for each role, the owner's codes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pyotp
import tomlkit
from aiohttp import web
from aiohttp.test_utils import TestClient

from relay import config
from relay.admin.local import new_credential
from relay.admin.principal import Principal, Role
from relay.admin.sessions import Sessions
from relay.app import RELAY_KEY, Relay, create_app
from relay.configstore import FileStore
from relay.configwire import StoreWiring
from relay.state import MemoryStateStore
from tests.conftest import sandbox_workspace

OWNER_PASSWORD = "correct horse battery staple"
TOTP_SEED = pyotp.random_base32()
HASHED = new_credential("Break Glass", OWNER_PASSWORD, TOTP_SEED).dump()


def admin_workspace(base: Path, **admin: Any) -> dict[str, Any]:
    """The sandbox workspace with the console on (the break-glass owner) and its files under `base`."""
    raw = sandbox_workspace()
    raw["admin"] = {"local_owner": HASHED, "roles": {"owner": ["owners"], "admin": ["admins"], "viewer": ["staff"]}}
    raw["admin"].update(admin)
    return raw


class Console:
    """A running relay with the console, its state store and helpers to be anyone."""

    def __init__(self, client: TestClient[Any, Any], relay: Relay, store: MemoryStateStore, base: Path) -> None:
        self.client = client
        self.relay = relay
        self.store = store
        self.base = base

    @property
    def admin_app(self) -> web.Application:
        """The /admin sub-application."""
        for resource in self.client.app.router.resources():
            if isinstance(resource, web.PrefixedSubAppResource) and resource.canonical == "/admin":
                app: web.Application = resource._app
                return app
        raise AssertionError("no console mounted")

    @property
    def cookie(self) -> str:
        return "relay_admin"

    async def session_for(self, role: Role | None) -> tuple[str, str]:
        """A session id and its CSRF token for a principal of `role` (None: a signed-out session)."""
        settings = self.relay.loaded.relay.admin
        sessions = Sessions(self.store, settings.session_idle, settings.session_absolute)
        who = Principal(f"test-{role.name.lower()}", "Test", role, "oidc") if role is not None else None
        sid, session = await sessions.start(who)
        return sid, session.csrf

    def audit_lines(self) -> list[str]:
        path = self.base / "relay-data" / "admin-audit.jsonl"
        return path.read_text().splitlines() if path.exists() else []


ConsoleFactory = Callable[..., Awaitable[Console]]


def console_factory(aiohttp_client: Any, tmp_path: Path) -> ConsoleFactory:
    """Start a relay with the console from a workspace dict (default: admin_workspace) with files in tmp_path."""

    async def start(raw: dict[str, Any] | None = None, pages: bool = False, **server: Any) -> Console:
        """`pages`: with the connector pages on a config file (which then holds the workspace's values)."""
        store = MemoryStateStore()
        doc = raw or admin_workspace(tmp_path)
        path = tmp_path / "relay.toml"
        wiring = None
        if pages:
            path.write_text(tomlkit.dumps(doc))
            wiring = StoreWiring(FileStore(path))
        loaded = config.parse(doc, str(path) if pages else "<test>", tmp_path)
        app: web.Application = await create_app(loaded, store=store, console=wiring.pages if wiring else None)
        if wiring is not None:
            wiring.follow(app)
        client = await aiohttp_client(app, server_kwargs=server)
        return Console(client, app[RELAY_KEY], store, tmp_path)

    return start


def code_now() -> str:
    return pyotp.TOTP(TOTP_SEED).now()


def two_ports() -> tuple[int, int]:
    """Two different free loopback ports (one for the relay, one for an identity provider)."""
    import socket

    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        return int(a.getsockname()[1]), int(b.getsockname()[1])


def idp_metadata(path: Path) -> Path:
    """A SAML IdP metadata file (a fresh signing certificate, an unreachable SSO URL) for tests that need
    the SAML routes but no identity provider."""
    import base64

    from cryptography.hazmat.primitives import serialization

    from tests.peers.saml import key_pair

    cert = key_pair(path.parent)
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    path.write_text(
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://127.0.0.1:9/idp">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>'
        f"<ds:X509Certificate>{der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        'Location="http://127.0.0.1:9/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>'
    )
    return path
