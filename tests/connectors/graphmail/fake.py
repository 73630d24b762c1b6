"""A faithful fake of the Microsoft Graph mail endpoints the connector uses, and of the tenant's token
endpoint, served over TLS (msal refuses anything else): subscriptions with the validation handshake on
both URLs (10 s, text/plain, exact token), clientState, lifetime cap, renewal, lifecycle events on demand;
the mailbox (fake_mailbox: listing, $value, move, folders, sendMail), 401 without a valid token, and
429 + Retry-After above 4 concurrent requests per mailbox. Notifications are retried on non-2xx answers."""

from __future__ import annotations

import asyncio
import itertools
import ssl
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import certifi
from aiohttp import web

from tests.connectors.graphmail.fake_mailbox import MAILBOX, Mailbox, Stored, graph_error
from tests.peers.mail import certificate
from tests.support.fake_platform import FakePlatform

TENANT = "contoso-tenant"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "fake-client-secret-0123456789"
CLIENT_STATE = "fake-client-state-5d8a1c7e3b9f"
MAX_MINUTES = 10080
TOO_FAR = "Subscription expiration can only be 10080 minutes in the future."


@dataclass
class Subscription:
    id: str
    body: dict[str, Any]
    expires: datetime


def trust(ca_file: Path) -> Path:
    """Make this process trust the fake's CA in addition to the usual ones: aiohttp's verified context,
    the lean client's (SSL_CERT_FILE, read when a relay makes its first TLS connection) and, through
    REQUESTS_CA_BUNDLE, msal's requests session. Test-only."""
    import os

    import aiohttp.connector

    aiohttp.connector._SSL_CONTEXT_VERIFIED.load_verify_locations(cafile=str(ca_file))
    bundle = ca_file.with_name("bundle.pem")
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + ca_file.read_bytes())
    os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
    os.environ["SSL_CERT_FILE"] = str(bundle)
    return bundle


@dataclass
class FakeGraph(FakePlatform, Mailbox):
    """Graph and the tenant's token endpoint on one TLS site (`base`), started with the aiohttp app."""

    base: str = ""
    messages: dict[str, Stored] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=lambda: {"inbox": "inbox"})
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    sent: list[bytes] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    notified: list[int] = field(default_factory=list)
    validations: int = 0
    max_concurrent: int = 4
    active: int = 0
    throttled: int = 0
    deliver_notifications: bool = True
    ca_file: Path = field(default_factory=Path)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        FakePlatform.__init__(self)
        self._dir = Path(tempfile.mkdtemp(prefix="relay-fakegraph-"))
        self.ca_file = certificate(self._dir)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- the TLS site -------------------------------------------------------------------------------
    async def _start(self, app: web.Application) -> None:
        trust(self.ca_file)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._dir / "cert.pem", self._dir / "key.pem")
        inner = web.Application(client_max_size=self.client_max_size, middlewares=[self._limit, self._middleware])
        self.graph_routes(inner)
        self._runner = web.AppRunner(inner)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        self.base = f"https://127.0.0.1:{self._runner.addresses[0][1]}"
        self._session = aiohttp.ClientSession()

    async def _stop(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def routes(self, app: web.Application) -> None:
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)

    def config(self, **extra: Any) -> dict[str, Any]:
        return {
            "type": "graphmail",
            "address": MAILBOX,
            "display_name": "Contoso Support",
            "tenant_id": TENANT,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "client_state": CLIENT_STATE,
            "graph_url": f"{self.base}/v1.0",
            "authority": self.base,
            "sweep_interval": 30.0,
            **extra,
        }

    @web.middleware
    async def _limit(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Per-mailbox concurrency: above the limit Graph answers 429 with Retry-After."""
        if not request.path.startswith("/v1.0/"):
            return await handler(request)  # type: ignore[no-any-return]
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return graph_error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        if self.active >= self.max_concurrent:
            self.throttled += 1
            return graph_error(429, "ApplicationThrottled", "Too many requests", {"Retry-After": "1"})
        self.active += 1
        try:
            return await handler(request)  # type: ignore[no-any-return]
        finally:
            self.active -= 1

    def graph_routes(self, app: web.Application) -> None:
        app.router.add_get(f"/{TENANT}/v2.0/.well-known/openid-configuration", self.discovery)
        app.router.add_post(f"/{TENANT}/oauth2/v2.0/token", self.token)
        users = "/v1.0/users/{user}"
        app.router.add_post("/v1.0/subscriptions", self.subscribe)
        app.router.add_get("/v1.0/subscriptions", self.list_subscriptions)
        app.router.add_patch("/v1.0/subscriptions/{id}", self.renew)
        app.router.add_delete("/v1.0/subscriptions/{id}", self.unsubscribe)
        app.router.add_get(users + "/mailFolders/inbox", self.inbox_folder)
        app.router.add_get(users + "/mailFolders/inbox/messages", self.list_inbox)
        app.router.add_get(users + "/mailFolders", self.list_folders)
        app.router.add_post(users + "/mailFolders", self.create_folder)
        app.router.add_get(users + "/messages", self.search)
        app.router.add_get(users + "/messages/{id}/$value", self.value)
        app.router.add_post(users + "/messages/{id}/move", self.move)
        app.router.add_post(users + "/sendMail", self.send_mail)

    # -- tenant ---------------------------------------------------------------------------------------
    async def discovery(self, request: web.Request) -> web.Response:
        root = f"{self.base}/{TENANT}"
        return web.json_response(
            {
                "issuer": f"{root}/v2.0",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "token_endpoint": f"{root}/oauth2/v2.0/token",
            }
        )

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return web.json_response({"error": "invalid_client", "error_description": "AADSTS7000215"}, status=401)
        token = f"graph-token-{next(self._ids)}"
        self.tokens.add(token)
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "access_token": token})

    # -- subscriptions --------------------------------------------------------------------------------
    async def _validate(self, url: str) -> bool:
        token = f"Validation: Testing client application reachability {next(self._ids)}"
        self.validations += 1
        assert self._session is not None
        try:
            async with self._session.post(
                url,
                params={"validationToken": token},
                headers={"Content-Type": "text/plain"},
                timeout=aiohttp.ClientTimeout(total=10),
            ) as resp:
                return resp.status == 200 and resp.content_type == "text/plain" and await resp.text() == token
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def subscribe(self, request: web.Request) -> web.Response:
        body = await request.json()
        expires = _parse_time(body.get("expirationDateTime"))
        if expires is None or expires > datetime.now(UTC) + timedelta(minutes=MAX_MINUTES):
            return graph_error(
                400, "ExtensionError", "Subscription expiration can only be 10080 minutes in the future."
            )
        if len(str(body.get("clientState", ""))) > 128:
            return graph_error(400, "InvalidRequest", "clientState is longer than 128 characters.")
        for key in ("notificationUrl", "lifecycleNotificationUrl"):
            if body.get(key) and not await self._validate(body[key]):
                return graph_error(400, "InvalidRequest", "Subscription validation request failed.")
        sub = Subscription(f"sub-{next(self._ids)}", body, expires)
        self.subscriptions[sub.id] = sub
        return web.json_response({**body, "id": sub.id, "clientState": None}, status=201)

    async def list_subscriptions(self, request: web.Request) -> web.Response:
        subs = [{**s.body, "id": s.id, "expirationDateTime": _time(s.expires)} for s in self.subscriptions.values()]
        return web.json_response({"value": subs})

    async def renew(self, request: web.Request) -> web.Response:
        sub = self.subscriptions.get(request.match_info["id"])
        if sub is None:
            return graph_error(404, "ResourceNotFound", "The object was not found.")
        expires = _parse_time((await request.json()).get("expirationDateTime"))
        if expires is None or expires > datetime.now(UTC) + timedelta(minutes=MAX_MINUTES):
            return graph_error(
                400, "ExtensionError", "Subscription expiration can only be 10080 minutes in the future."
            )
        sub.expires = expires
        return web.json_response({**sub.body, "id": sub.id, "expirationDateTime": _time(expires)})

    async def unsubscribe(self, request: web.Request) -> web.Response:
        self.subscriptions.pop(request.match_info["id"], None)
        return web.Response(status=204)

    async def notify(self, message_id: str) -> None:
        """Tell every live subscription about a new inbox message, retrying a non-2xx answer a few times."""
        assert self._session is not None
        for sub in list(self.subscriptions.values()):
            item = {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": _time(sub.expires),
                "changeType": "created",
                "resource": f"Users/{MAILBOX}/Messages/{message_id}",
                "clientState": sub.body.get("clientState"),
                "tenantId": TENANT,
                "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "id": message_id},
            }
            for attempt in range(3):
                try:
                    async with self._session.post(sub.body["notificationUrl"], json={"value": [item]}) as resp:
                        self.notified.append(resp.status)
                        if 200 <= resp.status < 300:
                            break
                except aiohttp.ClientError:
                    self.notified.append(0)
                await asyncio.sleep(0.5 * (attempt + 1))

    async def lifecycle(self, event: str) -> int:
        """Send a lifecycle event (reauthorizationRequired, subscriptionRemoved, missed) to the relay."""
        assert self._session is not None
        status = 0
        for sub in list(self.subscriptions.values()):
            if event == "subscriptionRemoved":
                self.subscriptions.pop(sub.id, None)
            item = {"subscriptionId": sub.id, "lifecycleEvent": event, "clientState": sub.body.get("clientState")}
            async with self._session.post(sub.body["lifecycleNotificationUrl"], json={"value": [item]}) as resp:
                status = resp.status
        return status


def _time(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _parse_time(raw: Any) -> datetime | None:
    try:
        return datetime.strptime(str(raw)[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
