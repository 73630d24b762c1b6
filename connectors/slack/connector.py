"""Slack connector: Events API hook or Socket Mode in; chat.postMessage, chat.update, uploads out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.slack import blocks, convert, inbound, sdk
from connectors.slack.answers import Answers
from connectors.slack.config import SlackConfig
from relay.connector import (
    Capabilities,
    Check,
    Connector,
    ConnectorKind,
    Context,
    Hook,
    HookRequest,
    Inbound,
    Limit,
    Manifest,
    MediaStream,
)
from relay.errors import DeliveryError, MediaError
from relay.media import close_chunks
from relay.model import Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText


class SlackConnector(Connector):
    """A Slack app: customers in shared channels and DMs <-> CRM."""

    config: SlackConfig

    def __init__(self, name: str, config: SlackConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.token = config.bot_token.reveal()
        self.signing_key = (config.signing_secret.reveal() if config.signing_secret else "").encode()
        self.web = sdk.web_client(config.api_base_url, ctx.session, self.token)
        self.app_web = sdk.web_client(config.api_base_url, ctx.session)
        self.directory = sdk.Directory(name, self.web, config.include_email, ctx.spawn, ctx.log)
        self.answers = Answers(name, self.web, ctx.state, ctx.sealer, ctx.spawn, ctx.log)
        self.events = inbound.Events(name, frozenset(config.channels), self.directory, ctx.log, self.answers)
        self.socket: sdk.Socket | None = None

    def routes(self) -> Sequence[Hook]:
        if self.config.mode != "events":
            return ()

        def authenticate(request: HookRequest) -> None:
            inbound.authenticate(self.signing_key, request)

        async def parse(request: HookRequest, _: Any) -> Inbound:
            return await inbound.parse(self.events, request)

        async def interaction(request: HookRequest, _: Any) -> Inbound:
            return await inbound.interaction(self.events, request)

        return (
            Hook("POST", "/events", authenticate, parse),
            Hook("POST", "/interactions", authenticate, interaction),
            Hook("POST", "/", authenticate, parse),
        )

    async def start(self) -> None:
        if self.config.mode == "socket" and self.config.app_token is not None:
            self.socket = sdk.Socket(self.config.app_token.reveal(), self.app_web, self._envelope)
            self.ctx.spawn(self.socket.run(), "socket-connect")

    async def _envelope(self, kind: str, payload: dict[str, Any]) -> bool:
        return await inbound.envelope(self.events, self.ctx.deliver, kind, payload)

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        await super().close()

    async def send(self, message: Message) -> str:
        if message.kind in (Kind.EDIT, Kind.DELETE):
            method, args = convert.change_args(message)
            await sdk.call(self.web.api_call(method, json=args))
            return convert.message_id(args["channel"], args["ts"])
        if message.kind is Kind.REACTION:
            return await self._react(message)
        if message.attachments:
            return await self._send_files(message)
        args = convert.post_args(message)
        if message.choices is not None:
            text = args["text"]
            args |= {
                "text": blocks.fallback(text, message.choices),
                "blocks": blocks.choice_blocks(text, message.choices),
            }
        got = await sdk.call(self.web.api_call("chat.postMessage", json=args))
        return convert.posted_id(got, message.conversation.chat)

    async def _react(self, message: Message) -> str:
        """reactions.add with the emoji's Slack name (an emoji without one goes once as text); an empty reaction
        removes the app's own reactions on the message (reactions.get, then reactions.remove)."""
        channel, ts = convert.split_id(message.ref or "")
        if not ts:
            raise DeliveryError(Reason.UNKNOWN_MESSAGE)
        where = {"channel": channel, "timestamp": ts}
        name = blocks.reaction_name(message.reaction)
        try:
            if not message.reaction:
                got = await sdk.call(self.web.api_call("reactions.get", http_verb="GET", params=where))
                mine = await self.directory.own_user()
                for found in convert.reactions_of(got):
                    if mine in found[1]:
                        await sdk.call(self.web.api_call("reactions.remove", json=where | {"name": found[0]}))
            elif name is None:
                text = RichText.of(f"(reacted {message.reaction})")
                return await self.send(message.with_(kind=Kind.TEXT, text=text, ref=None, reaction=None))
            else:
                await sdk.call(self.web.api_call("reactions.add", json=where | {"name": name}))
        except DeliveryError as exc:
            if exc.detail not in ("already_reacted", "no_reaction"):
                raise
        return message.ref or ""

    async def _send_files(self, message: Message) -> str:
        """files.getUploadURLExternal -> POST of the bytes -> files.completeUploadExternal, all from memory."""
        done: list[dict[str, str]] = []
        for att in message.attachments:
            raw = await self.ctx.media.read(att)
            asked = {"filename": att.name, "length": len(raw)}
            url, file_id = convert.upload_target(
                await sdk.call(self.web.api_call("files.getUploadURLExternal", data=asked))
            )
            answer = await self.ctx.client.call(convert.upload_call(url, raw))
            if not answer.ok:
                raise answer.refusal()
            done.append({"id": file_id, "title": att.name})
        form = convert.completion_form(done, message)
        completed = await sdk.call(self.web.api_call("files.completeUploadExternal", data=form))
        return convert.uploaded_id(completed, message.conversation.chat)

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        try:
            got = await sdk.call(self.web.files_info(file=file_id))
        except DeliveryError as exc:
            raise MediaError(f"files.info failed ({exc.reason.value})") from None
        call = convert.file_call(got, self.token, self.config.api_host)
        if call is None:
            raise MediaError("Slack file has no download URL")
        mime, name = convert.file_meta(got)
        found = await self.ctx.client.stream(call, limit, name=name)
        if found.mime == "text/html" and mime != "text/html":
            await close_chunks(found.chunks)
            raise MediaError("Slack answered with a login page instead of the file (token lacks files:read?)")
        found.mime = mime or found.mime
        return found

    async def check(self) -> list[Check]:
        try:
            got = await sdk.call(self.web.auth_test())
            checks = [Check("auth.test", True, f"team {got.get('team')}, bot {got.get('user')}")]
        except DeliveryError as exc:
            return [Check("auth.test", False, str(exc))]
        except Exception as exc:
            return [Check("auth.test", False, type(exc).__name__)]
        if self.config.mode == "socket" and self.config.app_token is not None:
            try:
                await sdk.call(self.app_web.apps_connections_open(app_token=self.config.app_token.reveal()))
                checks.append(Check("apps.connections.open", True, "socket mode URL issued"))
            except DeliveryError as exc:
                checks.append(Check("apps.connections.open", False, str(exc)))
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
        reactions=True,
        files=True,
        max_file_bytes=1 << 30,
        receipts=False,
        max_buttons=blocks.MAX_BUTTONS,
        max_list=blocks.MAX_OPTIONS,
        url_buttons=True,
        limits=(Limit("chat", rate=1.0, per=1.0, burst=3),),
        ack_deadline=2.5,
    ),
)
