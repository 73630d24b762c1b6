"""WhatsApp Business Cloud API connector: signed webhooks in, Graph API sends out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from connectors.whatsapp import compose, convert, inbound
from connectors.whatsapp.config import WhatsAppConfig
from connectors.whatsapp.markup import PAIR_LIMITED, TOKEN_REJECTED, WINDOW_CLOSED, media_kind, refusal, render
from connectors.whatsapp.policy import Keys, Policy
from relay.client import Answer, Call
from relay.connector import Capabilities, Check, Connector, ConnectorKind, Context, Hook, Limit, Manifest, MediaStream
from relay.errors import DeliveryError, MediaError
from relay.interact import Choices
from relay.model import Attachment, Kind, Message
from relay.reasons import Reason
from relay.richtext import RichText

PAIR_BURST = 10
MAX_CAPTION = 1024
EXPIRED = (401, 403, 404, 410)
TEMPLATE_PAGES = 10


class WhatsAppConnector(Connector):
    """One business phone number: webhook routes, sends within the 24-hour window, opt-out honoured."""

    config: WhatsAppConfig

    def __init__(self, name: str, config: WhatsAppConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        keys = Keys(ctx.sealer.digest, config.phone_number_id)
        self.policy = Policy(ctx.state, keys, ctx.sealer, name)
        self.intake = inbound.Intake(name, config.phone_number_id, self.policy, ctx.metrics, ctx.log)

    def tune(self, manifest: Capabilities) -> Capabilities:
        """The number's `throughput` per second, and `max_media_bytes` for files."""
        rate = self.config.throughput
        limits = (Limit("connector", rate, 1.0, rate), Limit("chat", 1, 6.0, PAIR_BURST))
        return replace(super().tune(manifest), limits=limits, max_file_bytes=self.config.max_media_bytes)

    def routes(self) -> Sequence[Hook]:
        signed = partial(inbound.authenticate, self.config.app_secret.reveal().encode())
        subscribe = partial(inbound.subscribe, self.config.verify_token.reveal().encode())
        notified = partial(inbound.parse, self.intake)
        return (
            Hook("GET", "", subscribe, inbound.challenge),
            Hook("GET", "/", subscribe, inbound.challenge),
            Hook("POST", "", signed, notified),
            Hook("POST", "/", signed, notified),
        )

    async def send(self, message: Message) -> str:
        to = await self.policy.current(message.conversation.chat)
        compose.recipient(to)
        if message.kind in (Kind.TYPING, Kind.READ):
            return await self._signal(message, to)
        if message.kind is Kind.TEMPLATE and message.template is not None:
            wamid = await self._post(compose.envelope(to, None) | compose.template(message.template), to)
        elif not await self.policy.window_open(to):
            return await self._outside_window(message, to)
        else:
            wamid = await self._send_free(message, to)
        await self.policy.pair_reset(to)
        return wamid

    async def _signal(self, message: Message, to: str) -> str:
        """Read up to the named message; typing shows against the customer's latest (nothing to show it on
        once the window has closed). The id returned names the signal, never the customer's message itself."""
        about = message.ref if message.kind is Kind.READ else await self.policy.last_inbound(to)
        if not about:
            raise DeliveryError(Reason.UNKNOWN_MESSAGE)
        answer = await self._graph(convert.send_call(self.config, compose.read(about, message.kind is Kind.TYPING)), to)
        if not isinstance(answer.json(), dict) or answer.json().get("success") is not True:
            raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE, detail=answer.status)
        return f"{message.kind.value}:{about}"

    async def templates(self, after: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """The business account's message templates, read from Graph now: up to TEMPLATE_PAGES pages from
        cursor `after`, and Graph's cursor when more remain."""
        waba = self.config.business_account_id
        if waba is None:
            raise DeliveryError(Reason.PLATFORM_MISCONFIGURED, detail="business_account_id is not set")
        found: list[dict[str, Any]] = []
        for _ in range(TEMPLATE_PAGES):
            answer = await self.ctx.client.call(convert.templates_call(self.config, waba, after))
            if not answer.ok:
                raise refusal(answer.status, convert.graph_code(answer), answer.retry_after)
            page, after = compose.template_page(answer.json())
            if page is None:
                raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE, detail=answer.status)
            found += page
            if after is None:
                break
        return found, after

    async def _graph(self, call: Call, to: str) -> Answer:
        """Send a Graph call; a refusal becomes a DeliveryError after the state it tells of is kept."""
        answer = await self.ctx.client.call(call)
        if answer.ok:
            return answer
        code = convert.graph_code(answer)
        if code == WINDOW_CLOSED:
            await self.policy.close_window(to)
        if code in TOKEN_REJECTED:
            self.ctx.log.error("access token rejected", extra={"connector": self.name, "reason": "token_invalid"})
        attempt = await self.policy.pair_attempt(to) if code == PAIR_LIMITED else 1
        raise refusal(answer.status, code, answer.retry_after, attempt)

    async def _post(self, body: dict[str, object], to: str) -> str:
        return convert.wamid(await self._graph(convert.send_call(self.config, body), to))

    async def _outside_window(self, message: Message, to: str) -> str:
        """No free-form message after 24 h of customer silence: a configured template, or "template_required"."""
        tpl = self.config.template
        if tpl is None or message.kind is not Kind.TEXT:
            raise DeliveryError(Reason.TEMPLATE_REQUIRED)
        if tpl.parameter == "text":
            return await self._post(compose.template_body(to, tpl.name, tpl.language, message.text.plain), to)
        if not await self.policy.nudge(to):
            raise DeliveryError(Reason.TEMPLATE_REQUIRED)
        await self._post(compose.template_body(to, tpl.name, tpl.language, None), to)
        raise DeliveryError(Reason.TEMPLATE_SENT)

    async def _send_free(self, message: Message, to: str) -> str:
        if message.kind in (Kind.TEXT, Kind.NOTICE):
            if not message.text:
                raise DeliveryError(Reason.EMPTY_MESSAGE)
            if message.choices is not None:
                return await self._offer(message, to, message.choices)
            return await self._post(convert.text_body(to, message.text, message.ref), to)
        if message.kind is Kind.REACTION:
            if not message.ref:
                raise DeliveryError(Reason.UNKNOWN_MESSAGE)
            return await self._post(compose.reaction_body(to, message.ref, message.reaction or ""), to)
        if message.kind is Kind.MEDIA:
            return await self._send_media(message, to)
        raise DeliveryError(Reason.UNSUPPORTED, detail=message.kind.value)

    async def _offer(self, message: Message, to: str, choices: Choices) -> str:
        """Buttons, a list or a link under the text; numbered in the text where WhatsApp has no such form."""
        body = render(message.text)
        shown = compose.interactive(body, choices)
        if shown is None:
            return await self._post(
                convert.text_body(to, RichText.of(compose.fallback(body, choices)), message.ref), to
            )
        return await self._post(compose.envelope(to, message.ref) | {"type": "interactive", "interactive": shown}, to)

    async def _send_media(self, message: Message, to: str) -> str:
        """Each file uploaded from memory and sent by media id (the engine gives one file per part). The text
        is the first file's caption; where it cannot be one (audio, or longer once marked up) it goes first,
        on its own, once across retries."""
        if not message.attachments:
            raise DeliveryError(Reason.EMPTY_MESSAGE)
        for att in message.attachments:
            if att.size is not None and att.size > self.config.max_media_bytes:
                raise DeliveryError(Reason.FILE_TOO_LARGE)
        caption = render(message.text) if message.text else ""
        ids: list[str] = []
        if caption and (media_kind(message.attachments[0].mime) == "audio" or len(caption) > MAX_CAPTION):
            ids.append(await self._lead_text(message, to))
            caption = ""
        for index, att in enumerate(message.attachments):
            first = index == 0
            ids.append(await self._send_file(att, to, caption if first else "", message.ref if first else None))
        return ids[0]

    async def _lead_text(self, message: Message, to: str) -> str:
        part = f"{message.dedup_id}#t"
        done = await self.policy.sent_part(part)
        if done is not None:
            return done
        wamid = await self._post(convert.text_body(to, message.text, message.ref), to)
        await self.policy.remember_part(part, wamid)
        return wamid

    async def _send_file(self, att: Attachment, to: str, caption: str, ref: str | None) -> str:
        data = await self.ctx.media.read(att, self.config.max_media_bytes)
        upload = await self._graph(convert.upload_call(self.config, data, att.mime, att.name), to)
        kind = media_kind(att.mime)
        return await self._post(convert.media_body(to, kind, convert.media_id(upload), att.name, caption, ref), to)

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        """Media id -> short-lived URL and sha256 -> the bytes with the token, streamed, capped and checked
        against the sha256; an expired URL is looked up again once."""
        if not convert.MEDIA_ID.match(file_id):
            raise MediaError("not a WhatsApp media id")
        limit = min(limit, self.config.max_media_bytes)
        for attempt in (1, 2):
            try:
                found = await self.ctx.client.call(convert.lookup_call(self.config, file_id))
            except DeliveryError as exc:
                raise MediaError(f"WhatsApp media lookup failed ({exc.reason.value})") from None
            info = convert.media_info(found)
            if info.size is not None and info.size > limit:
                raise MediaError(f"file is larger than the {limit}-byte cap")
            call = convert.download_call(self.config, info.url)
            try:
                return await self.ctx.client.stream(call, limit, mime=info.mime, sha256=info.sha256)
            except MediaError as exc:
                if attempt == 2 or exc.status not in EXPIRED:
                    raise
        raise MediaError("WhatsApp media URL expired twice")

    async def check(self) -> list[Check]:
        token, number = "access token", "phone number id"
        try:
            answer = await self.ctx.client.call(convert.number_call(self.config))
        except DeliveryError as exc:
            detail = f"Graph API not reachable ({exc.reason.value})"
            return [Check(token, False, detail), Check(number, False, detail)]
        status, code, data = answer.status, convert.graph_code(answer), answer.json()
        if status == 200:
            name = data.get("verified_name") if isinstance(data, dict) else None
            return [Check(token, True, "accepted"), Check(number, True, name if isinstance(name, str) else "ok")]
        if status == 401 or code in TOKEN_REJECTED:
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
        max_caption=MAX_CAPTION,
        max_files=1,
        limits=(Limit("connector", 80, 1.0, 80), Limit("chat", 1, 6.0, PAIR_BURST)),
        ack_deadline=8.0,
        consent_keywords=True,
        templates=True,
        max_buttons=3,
        max_list=10,
        url_buttons=True,
        typing=True,
        read_marks=True,
    ),
)
