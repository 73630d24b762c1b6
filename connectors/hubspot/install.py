"""The install flow behind `relay hubspot connect` (admin-only; the running relay never imports it): OAuth for
the portal, the custom channel and one channel account per messenger; idempotent, it changes only what drifted."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from yarl import URL

from connectors.hubspot import convert
from connectors.hubspot.config import HubSpotConfig
from relay import codec
from relay.client import Answer, Call, PlatformClient
from relay.connector import Capabilities
from relay.errors import DeliveryError, RelayError
from relay.secret import Secret
from relay.tokens import Grant, TokenCache, call_with_token

CHANNELS = "/conversations/v3/custom-channels"
Say = Callable[[str], None]
Browser = Callable[[str], Awaitable[None]]
MIME_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "audio/mpeg", "video/mp4")


class ConnectError(RelayError):
    """The install could not be completed; the message says why and what to do, without secrets."""


@dataclass
class Plan:
    """What `connect` needs: the instance's config, its messengers' capabilities, where HubSpot posts."""

    instance: str
    config: HubSpotConfig
    messengers: dict[str, Capabilities]
    webhook_url: str
    redirect_uri: str = "http://127.0.0.1:8765/oauth-callback"
    code: str | None = None
    reauthorize: bool = False
    wait: float = 300.0
    changes: list[str] = field(default_factory=list)


def authorize_url(cfg: HubSpotConfig, redirect_uri: str, state: str) -> str:
    """HubSpot's consent page for this app, coming back to `redirect_uri` with `state`."""
    query = {"client_id": cfg.client_id, "scope": " ".join(cfg.scopes), "redirect_uri": redirect_uri, "state": state}
    return f"{cfg.app_base_url.rstrip('/')}/oauth/authorize?{urlencode(query)}"


class Installer:
    """Runs one `connect` against HubSpot through the core's platform client."""

    def __init__(self, plan: Plan, client: PlatformClient, say: Say) -> None:
        self.plan, self.client, self.say = plan, client, say
        self.cfg = plan.config
        self.api = self.cfg.api_base_url.rstrip("/")
        self.refresh: Secret | None = None if plan.reauthorize else self.cfg.refresh_token
        self.tokens = TokenCache(self._refresh, margin=self.cfg.refresh_margin)

    async def _token_call(self, grant: dict[str, str]) -> tuple[Grant, Secret | None]:
        form = convert.token_form(self.cfg.client_id, self.cfg.client_secret, grant)
        call = Call("POST", f"{self.api}{self.cfg.token_path}", body=form)
        return convert.grant_of(await self.client.call(call))

    async def _refresh(self) -> Grant:
        if self.refresh is None:
            raise ConnectError("no refresh token")
        grant, rotated = await self._token_call({"grant_type": "refresh_token", "refresh_token": self.refresh.reveal()})
        self.refresh = rotated or self.refresh
        return grant

    async def _api(self, method: str, path: str, json: Any = None, dev: bool = False) -> Answer:
        if dev:
            key = self.cfg.developer_api_key
            if key is None:
                raise ConnectError("developer_api_key is not set: registering a channel needs the developer API key")
            params = {"hapikey": key.reveal(), "appId": str(self.cfg.app_id)}
            return await self.client.call(Call(method, f"{self.api}{path}", json=json, params=params))

        def make(token: Secret) -> Call:
            return Call(method, f"{self.api}{path}", convert.bearer(token, json is not None), json=json)

        return await call_with_token(self.client, self.tokens, make)

    def authorize_url(self, state: str) -> str:
        return authorize_url(self.cfg, self.plan.redirect_uri, state)

    async def authorize(self, browser: Browser | None) -> bool:
        """Make sure the relay holds a working refresh token; True when a new one was issued."""
        if self.refresh is not None and self.plan.code is None:
            try:
                await self.tokens.get()
                return False
            except DeliveryError:
                self.say("The configured refresh token was refused; authorize the app again.")
        state = secrets.token_urlsafe(16)
        url = self.authorize_url(state)
        self.say(f"Open this URL as a HubSpot super admin and approve the app:\n\n    {url}\n")
        code = self.plan.code or await self._callback(state, browser, url)
        grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.plan.redirect_uri}
        try:
            _, refresh = await self._token_call(grant)
        except DeliveryError as exc:
            raise ConnectError(f"HubSpot refused the authorization code ({exc.detail or exc.reason.value})") from None
        if refresh is None:
            raise ConnectError("HubSpot's token answer had no refresh token")
        self.refresh = refresh
        self.tokens = TokenCache(self._refresh, margin=self.cfg.refresh_margin)
        self.plan.changes.append("authorized the app for the portal (new refresh token)")
        return True

    async def _callback(self, state: str, browser: Browser | None, url: str) -> str:
        """Listen on the loopback redirect URI for HubSpot's redirect with `?code=`."""
        target = URL(self.plan.redirect_uri)
        if target.host not in ("127.0.0.1", "localhost", "::1"):
            raise ConnectError("--redirect-uri is not a loopback address; pass the code with --code instead")
        got: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def back(request: web.Request) -> web.Response:
            if request.query.get("state") != state or not request.query.get("code"):
                return web.Response(status=400, text="This is not the answer to the relay's request.")
            if not got.done():
                got.set_result(request.query["code"])
            return web.Response(text="The relay is connected to HubSpot. You can close this tab.")

        app = web.Application()
        app.router.add_get(target.path, back)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, target.host, target.port).start()
        try:
            if browser is not None:
                await browser(url)
            return await asyncio.wait_for(got, self.plan.wait)
        except TimeoutError:
            raise ConnectError(f"no answer on {self.plan.redirect_uri} within {self.plan.wait:g} s") from None
        finally:
            await runner.cleanup()

    async def channel(self) -> str:
        """Find (configured id, else by name) or register the channel; patch only the fields that drifted."""
        want = {
            "name": self.cfg.channel_name,
            "webhookUrl": self.plan.webhook_url,
            "capabilities": channel_capabilities(self.plan.messengers),
            "channelDescription": channel_description(self.plan.messengers),
        }
        found = None
        if self.cfg.channel_id:
            answer = await self._api("GET", f"{CHANNELS}/{self.cfg.channel_id}", dev=True)
            found = _ok(answer, "GET the channel", allow=(404,))
        if found is None:
            listed = _ok(await self._api("GET", CHANNELS, dev=True), "list the app's channels") or {}
            named = [c for c in _results(listed) if c.get("name") == self.cfg.channel_name]
            found = named[0] if named else None
        if found is None:
            made = _ok(await self._api("POST", CHANNELS, json=want, dev=True), "register the channel")
            self.plan.changes.append(f"registered channel {made['id']}")
            return str(made["id"])
        drift = {k: v for k, v in want.items() if _plain(found.get(k)) != v}
        if drift:
            _ok(await self._api("PATCH", f"{CHANNELS}/{found['id']}", json=drift, dev=True), "update the channel")
            self.plan.changes.append(f"updated channel {found['id']}: {', '.join(sorted(drift))}")
        return str(found["id"])

    async def inbox(self) -> str:
        if self.cfg.inbox_id:
            return self.cfg.inbox_id
        inboxes = _results(_ok(await self._api("GET", "/conversations/v3/conversations/inboxes"), "list inboxes"))
        if not inboxes:
            raise ConnectError("the portal has no conversations inbox; create one in HubSpot first")
        return str(inboxes[0]["id"])

    async def accounts(self, channel: str) -> dict[str, str]:
        """One authorized channel account per messenger instance, named after it."""
        path = f"{CHANNELS}/{channel}/channel-accounts"
        existing = [a for a in _results(_ok(await self._api("GET", path), "list channel accounts")) if a.get("id")]
        out: dict[str, str] = {}
        inbox: str | None = None
        for name in sorted(self.plan.messengers):
            known = self.cfg.accounts.get(name)
            match = [a for a in existing if str(a["id"]) == known and not a.get("archived")] or [
                a for a in existing if a.get("name") == name and not a.get("archived")
            ]
            if not match:
                inbox = inbox or await self.inbox()
                body = {"name": name, "inboxId": inbox, "authorized": True}
                made = _ok(await self._api("POST", path, json=body), f"create the channel account for {name}")
                self.plan.changes.append(f"created channel account {made['id']} for {name}")
                out[name] = str(made["id"])
                continue
            account = match[0]
            drift = {k: v for k, v in (("name", name), ("authorized", True)) if account.get(k) != v}
            if drift:
                _ok(await self._api("PATCH", f"{path}/{account['id']}", json=drift), f"update the account for {name}")
                self.plan.changes.append(f"updated channel account {account['id']}: {', '.join(sorted(drift))}")
            out[name] = str(account["id"])
        return out


def channel_capabilities(messengers: Mapping[str, Capabilities]) -> dict[str, Any]:
    """The custom channel's capabilities, honest for every messenger behind it: agents may attach files
    only if all of them take files, no more and no larger than the smallest of them takes."""
    caps = list(messengers.values())
    files = bool(caps) and all(c.files and c.max_file_bytes > 0 for c in caps)
    out: dict[str, Any] = {
        "deliveryIdentifierTypes": [convert.OPAQUE, convert.PHONE, convert.EMAIL],
        "threadingModel": "INTEGRATION_THREAD_ID",
        "richText": [],
        "allowInlineImages": False,
        "allowOutgoingMessages": True,
        "allowConversationStart": False,
        "allowMultipleRecipients": False,
    }
    if files:
        count = max(1, min(c.max_files for c in caps))
        size = min(c.max_file_bytes for c in caps)
        out |= {
            "outgoingAttachmentTypes": ["FILE"],
            "allowedFileAttachmentMimeTypes": list(MIME_TYPES),
            "maxFileAttachmentCount": count,
            "maxFileAttachmentSizeBytes": size,
            "maxTotalFileAttachmentSizeBytes": size * count,
        }
    else:
        out["outgoingAttachmentTypes"] = []
    return out


def channel_description(messengers: Mapping[str, Capabilities]) -> str:
    """What agents read about the channel: each messenger's text limit and whether it takes files."""
    parts = [
        f"{name}: up to {c.max_text} characters per message, {'files' if c.files else 'no files'}"
        f"{', threads' if c.threads else ''}"
        for name, c in sorted(messengers.items())
    ]
    text = "Messages relayed from " + ("; ".join(parts) or "no messenger yet") + ". Longer replies are split."
    return text[:500]


def _ok(answer: Answer, what: str, allow: tuple[int, ...] = ()) -> Any:
    if answer.status in allow:
        return None
    if not answer.ok:
        data = answer.json()
        message = data.get("message") if isinstance(data, dict) else None
        raise ConnectError(f"could not {what}: HTTP {answer.status} {str(message or '')[:200]}".rstrip())
    return answer.json()


def _results(data: Any) -> list[dict[str, Any]]:
    found = data.get("results") if isinstance(data, dict) else data
    return [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []


def _plain(value: Any) -> Any:
    """A channel field as HubSpot returns it; capabilities may come back as a JSON string."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            return codec.loads(value)
        except ValueError:
            return value
    return value


async def connect(plan: Plan, say: Say, browser: Browser | None = None) -> tuple[Secret | None, str, dict[str, str]]:
    """Run the install; returns (a newly issued refresh token or None, the channel id, the account ids)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        installer = Installer(plan, PlatformClient.standalone(session), say)
        issued = await installer.authorize(browser)
        channel = await installer.channel()
        accounts = await installer.accounts(channel)
        return (installer.refresh if issued else None), channel, accounts
