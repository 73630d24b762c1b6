"""Slack connector: Events API route or Socket Mode in; chat.postMessage, chat.update, uploads out."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from connectors.slack import api, inbound
from connectors.slack.config import SlackConfig
from connectors.slack.convert import actor, is_relayed, message_id, party, split_id, to_message, to_mrkdwn
from relay.connector import (
    Capabilities,
    Check,
    Connector,
    ConnectorKind,
    Context,
    Limit,
    Manifest,
    MediaStream,
    Result,
    Route,
)
from relay.errors import DeliveryError, MediaError
from relay.model import Kind, Message, Party

USER_TTL = 300.0
USER_CACHE = 2000
LOOKUP_TIMEOUT = 0.35
IDENTITY_WAIT = 0.25
IDENTITY_COOLDOWN = 10.0


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the app is, from auth.test."""

    user_id: str | None
    bot_id: str | None


class SlackConnector(Connector):
    """A Slack app: customers in shared channels and DMs <-> CRM."""

    config: SlackConfig

    def __init__(self, name: str, config: SlackConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.token = config.bot_token.reveal()
        self.signing_key = (config.signing_secret.reveal() if config.signing_secret else "").encode()
        self.channels = frozenset(config.channels)
        quiet = inbound.library_logger()
        self.web = AsyncWebClient(
            token=self.token,
            base_url=config.api_base_url,
            session=ctx.session,
            logger=quiet,
            retry_handlers=[],
            timeout=30,
        )
        self.bolt_client = AsyncWebClient(base_url=config.api_base_url, session=ctx.session, logger=quiet)
        self.bolt = inbound.build_app(self)
        self.socket: inbound.SocketHandler | None = None
        self._identity: Identity | None = None
        self._identity_tried = 0.0
        self._identity_task: asyncio.Task[None] | None = None
        self._users: OrderedDict[str, tuple[float, Party]] = OrderedDict()

    def routes(self) -> Sequence[Route]:
        if self.config.mode != "events":
            return ()

        async def post(request: web.Request) -> web.Response:
            return await inbound.handle(self, request)

        return (Route("POST", "/events", post), Route("POST", "/", post))

    async def start(self) -> None:
        if self.config.mode == "socket" and self.config.app_token is not None:
            self.socket = inbound.SocketHandler(
                self.bolt, self.config.app_token.reveal(), logger=inbound.library_logger(), web_client=self.bolt_client
            )
            self.ctx.spawn(self.socket.connect_async(), "socket-connect")  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close_async()  # type: ignore[no-untyped-call]
        await super().close()

    async def identity(self) -> Identity | None:
        """auth.test, cached. Waits at most IDENTITY_WAIT on the request path; a slow first call finishes
        in the background, a failed one is tried again after a cooldown."""
        if self._identity is not None:
            return self._identity
        task = self._identity_task
        if task is None or (task.done() and time.monotonic() - self._identity_tried > IDENTITY_COOLDOWN):
            self._identity_tried = time.monotonic()
            task = self._identity_task = self.ctx.spawn(self._auth_test(), "auth.test")
        await asyncio.wait({task}, timeout=IDENTITY_WAIT)
        return self._identity

    async def _auth_test(self) -> None:
        try:
            got = api.data(await api.call(self.web.auth_test()))
        except DeliveryError as exc:
            self.ctx.log.warning("auth.test failed", extra={"connector": self.name, "reason": exc.reason})
            return
        self._identity = Identity(got.get("user_id"), got.get("bot_id"))

    async def sender(self, user_id: str | None) -> Party | None:
        """The sender's Party: id always; display name (and e-mail if allowed) from users.info, briefly cached."""
        if user_id is None:
            return None
        hit = self._users.get(user_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        info: dict[str, Any] | None = None
        try:
            got = api.data(await asyncio.wait_for(api.call(self.web.users_info(user=user_id)), LOOKUP_TIMEOUT))
            user = got.get("user")
            info = user if isinstance(user, dict) else None
        except (DeliveryError, TimeoutError) as exc:
            reason = exc.reason if isinstance(exc, DeliveryError) else "timeout"
            self.ctx.log.info("users.info failed", extra={"connector": self.name, "reason": reason})
        found = party(user_id, info, self.config.include_email)
        if info is not None:
            self._users[user_id] = (time.monotonic() + USER_TTL, found)
            self._users.move_to_end(user_id)
            while len(self._users) > USER_CACHE:
                self._users.popitem(last=False)
        return found

    async def on_event(self, body: dict[str, Any]) -> Result | None:
        """One Events API envelope: deliver it if it is relayed; None when it is ignored."""
        event = body.get("event")
        if not isinstance(event, dict):
            return None
        ident = await self.identity()
        if not is_relayed(event, ident.user_id if ident else None, self.channels):
            return None
        message = to_message(body, self.name, await self.sender(actor(event)))
        if message is None:
            return None
        return await self.ctx.deliver(message)

    async def send(self, message: Message) -> str:
        channel, thread = message.conversation.chat, message.conversation.thread
        if message.kind in (Kind.EDIT, Kind.DELETE):
            target_channel, ts = split_id(message.ref or "")
            if not ts:
                raise DeliveryError("unknown_message_to_change")
            if message.kind is Kind.EDIT:
                await api.call(self.web.chat_update(channel=target_channel, ts=ts, text=to_mrkdwn(message.text)))
            else:
                await api.call(self.web.chat_delete(channel=target_channel, ts=ts))
            return message_id(target_channel, ts)
        if message.attachments:
            return await self._send_files(message, channel, thread)
        got = api.data(
            await api.call(
                self.web.chat_postMessage(
                    channel=channel,
                    text=to_mrkdwn(message.text),
                    thread_ts=thread,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            )
        )
        return message_id(str(got.get("channel") or channel), str(got.get("ts")))

    async def _send_files(self, message: Message, channel: str, thread: str | None) -> str:
        files: list[tuple[str, str, bytes]] = []
        for att in message.attachments:
            try:
                files.append((att.name, att.mime, await self.ctx.media.read(att)))
            except MediaError:
                raise DeliveryError("media_unavailable") from None
        uploaded = await api.upload(self.web, self.ctx.fetch_session, files, channel, thread, to_mrkdwn(message.text))
        ts = api.shared_ts(uploaded, channel)
        if ts is not None:
            return message_id(channel, ts)
        first = uploaded[0].get("id") if uploaded else None
        return message_id(channel, f"file:{first or 'unknown'}")

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        try:
            got = api.data(await api.call(self.web.files_info(file=file_id)))
        except DeliveryError as exc:
            raise MediaError(f"files.info failed ({exc.reason})") from None
        info: dict[str, Any] = got["file"] if isinstance(got.get("file"), dict) else {}
        url = info.get("url_private_download") or info.get("url_private")
        if not isinstance(url, str):
            raise MediaError("Slack file has no download URL")
        size = info.get("size")
        if isinstance(size, int) and size > limit:
            raise MediaError(f"file is larger than the {limit}-byte cap")
        return await api.download(
            self.ctx.media.session,
            url,
            self.token,
            self.config.api_host,
            limit,
            str(info.get("mimetype") or ""),
            str(info.get("name") or "file"),
        )

    async def check(self) -> list[Check]:
        try:
            got = api.data(await api.call(self.web.auth_test()))
            checks = [Check("auth.test", True, f"team {got.get('team')}, bot {got.get('user')}")]
        except DeliveryError as exc:
            return [Check("auth.test", False, exc.reason)]
        except Exception as exc:
            return [Check("auth.test", False, type(exc).__name__)]
        if self.config.mode == "socket" and self.config.app_token is not None:
            try:
                await api.call(self.bolt_client.apps_connections_open(app_token=self.config.app_token.reveal()))
                checks.append(Check("apps.connections.open", True, "socket mode URL issued"))
            except DeliveryError as exc:
                checks.append(Check("apps.connections.open", False, exc.reason))
        return checks


MANIFEST = Manifest(
    type="slack",
    kind=ConnectorKind.MESSENGER,
    summary="Slack (Events API or Socket Mode)",
    config=SlackConfig,
    factory=SlackConnector,
    capabilities=Capabilities(
        max_text=4000,
        threads=True,
        replies=False,
        edits=True,
        deletes=True,
        reactions=False,
        files=True,
        max_file_bytes=1 << 30,
        receipts=False,
        limits=(Limit("chat", rate=1.0, per=1.0, burst=3),),
        ack_deadline=2.5,
    ),
)
