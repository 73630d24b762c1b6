"""WhatsApp Business Cloud API connector: signed webhooks in, Graph API sends out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial

import aiohttp

from connectors.whatsapp import convert, inbound
from connectors.whatsapp.config import WhatsAppConfig
from connectors.whatsapp.graph import Graph, GraphError, delivery_error
from connectors.whatsapp.markup import render
from connectors.whatsapp.policy import Policy
from relay.connector import Capabilities, Check, Connector, ConnectorKind, Context, Limit, Manifest, MediaStream, Route
from relay.errors import DeliveryError
from relay.model import Address, Kind, Message

PAIR_BURST = 10
MAX_CAPTION = 1024
CONSENT_TTL = 2 * 365 * 24 * 3600.0


class WhatsAppConnector(Connector):
    """One business phone number: webhook routes, sends within the 24-hour window, opt-out honoured."""

    config: WhatsAppConfig

    def __init__(self, name: str, config: WhatsAppConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.app_secret = config.app_secret.reveal().encode()
        self.opt_out = frozenset(config.opt_out_keywords)
        self.opt_in = frozenset(config.opt_in_keywords) - self.opt_out
        self.graph = Graph(config, ctx.session, ctx.media.session)
        self.policy = Policy(ctx, config.phone_number_id, CONSENT_TTL)

    def routes(self) -> Sequence[Route]:
        return inbound.routes(self)

    def limits(self, address: Address) -> Sequence[Limit]:
        rate = self.config.throughput
        return (Limit("connector", rate, 1.0, rate), Limit("chat", 1, 6.0, PAIR_BURST))

    async def send(self, message: Message) -> str:
        to = message.conversation.chat
        if not to.isdigit():
            raise DeliveryError("invalid_recipient")
        if await self.policy.opted_out(to):
            raise DeliveryError("opted_out")
        try:
            if not await self.policy.window_open(to):
                return await self._outside_window(message, to)
            wamid = await self._send_free(message, to)
        except GraphError as err:
            raise await self._refused(err, to) from None
        await self.policy.pair_reset(to)
        return wamid

    async def _refused(self, err: GraphError, to: str) -> DeliveryError:
        if err.code == 131047:
            await self.policy.close_window(to)
        if err.code in (0, 190):
            self.ctx.log.error("access token rejected", extra={"connector": self.name, "reason": "token_invalid"})
        attempt = await self.policy.pair_attempt(to) if err.code == 131056 else 1
        return delivery_error(err, attempt)

    async def _outside_window(self, message: Message, to: str) -> str:
        """No free-form message after 24 h of customer silence: a configured template, or "template_required"."""
        tpl = self.config.template
        if tpl is None or message.kind is not Kind.TEXT:
            raise DeliveryError("template_required")
        if tpl.parameter == "text":
            return await self.graph.send(convert.template_body(to, tpl.name, tpl.language, message.text.plain))
        if not await self.policy.nudge(to):
            raise DeliveryError("template_required")
        await self.graph.send(convert.template_body(to, tpl.name, tpl.language, None))
        raise DeliveryError("template_sent")

    async def _send_free(self, message: Message, to: str) -> str:
        if message.kind in (Kind.TEXT, Kind.NOTICE):
            if not message.text:
                raise DeliveryError("empty_message")
            return await self.graph.send(convert.text_body(to, message.text, message.ref))
        if message.kind is Kind.REACTION:
            if not message.ref:
                raise DeliveryError("unknown_message_to_react_to")
            return await self.graph.send(convert.reaction_body(to, message.ref, message.reaction or ""))
        if message.kind is Kind.MEDIA:
            return await self._send_media(message, to)
        raise DeliveryError(f"unsupported_kind_{message.kind.value}")

    async def _once(self, part: str, body: Callable[[], Awaitable[dict[str, object]]]) -> str:
        """Send one part of a multi-send message at most once across retries."""
        done = await self.policy.sent_part(part)
        if done is not None:
            return done
        wamid = await self.graph.send(await body())
        await self.policy.remember_part(part, wamid)
        return wamid

    async def _media_part(self, message: Message, index: int) -> dict[str, object]:
        att = message.attachments[index]
        data = await self.ctx.media.read(att, self.config.max_media_bytes)
        kind = convert.media_kind(att.mime)
        media_id = await self.graph.upload(data, att.mime, att.name)
        caption = render(message.text) if index == 0 and self._caption_fits(message, kind) else ""
        return convert.media_body(
            message.conversation.chat, kind, media_id, att.name, caption, message.ref if index == 0 else None
        )

    @staticmethod
    def _caption_fits(message: Message, kind: str) -> bool:
        return kind != "audio" and len(render(message.text)) <= MAX_CAPTION

    async def _send_media(self, message: Message, to: str) -> str:
        """Each file uploaded from memory and sent by media id; a caption that cannot ride along goes first."""
        if not message.attachments:
            raise DeliveryError("empty_message")
        for att in message.attachments:
            if att.size is not None and att.size > self.config.max_media_bytes:
                raise DeliveryError("file_too_large")
        first_kind = convert.media_kind(message.attachments[0].mime)
        ids: list[str] = []
        if message.text and not self._caption_fits(message, first_kind):

            async def text() -> dict[str, object]:
                return convert.text_body(to, message.text, message.ref)

            ids.append(await self._once(f"{message.dedup_id}#t", text))
        for index in range(len(message.attachments)):
            ids.append(await self._once(f"{message.dedup_id}#{index}", partial(self._media_part, message, index)))
        return ids[0]

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        return await self.graph.download(file_id, min(limit, self.config.max_media_bytes))

    async def check(self) -> list[Check]:
        token, number = "access token", "phone number id"
        try:
            status, data = await self.graph.phone_number()
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = f"Graph API not reachable ({type(exc).__name__})"
            return [Check(token, False, detail), Check(number, False, detail)]
        err = data.get("error")
        err = err if isinstance(err, dict) else {}
        code = err.get("code") if isinstance(err.get("code"), int) else None
        if status == 200:
            name = data.get("verified_name")
            return [Check(token, True, "accepted"), Check(number, True, name if isinstance(name, str) else "ok")]
        if status == 401 or code in (0, 190):
            return [
                Check(token, False, f"rejected (HTTP {status}, code {code})"),
                Check(number, False, "not checked: the token was rejected"),
            ]
        return [
            Check(token, True, "accepted"),
            Check(number, False, f"not found or not accessible with this token (HTTP {status}, code {code})"),
        ]


MANIFEST = Manifest(
    type="whatsapp",
    kind=ConnectorKind.MESSENGER,
    summary="WhatsApp Business (Cloud API)",
    config=WhatsAppConfig,
    factory=WhatsAppConnector,
    capabilities=Capabilities(
        max_text=4096,
        text_unit="chars",
        replies=True,
        reactions=True,
        files=True,
        max_file_bytes=100 << 20,
        limits=(Limit("connector", 80, 1.0, 80), Limit("chat", 1, 6.0, PAIR_BURST)),
        ack_deadline=8.0,
        consent_keywords=True,
    ),
)
