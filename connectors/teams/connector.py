"""Microsoft Teams over the Bot Framework REST protocol: JWT-checked inbound, msal-token outbound."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, NoReturn
from urllib.parse import quote

import aiohttp
from aiohttp import web
from yarl import URL

from connectors.teams import inbound
from connectors.teams.auth import KeyCache
from connectors.teams.config import TeamsConfig, file_url_allowed, service_url_allowed
from connectors.teams.convert import (
    DOWNLOAD,
    INLINE,
    UNREACHABLE_CODES,
    base_conversation,
    error_code,
    file_line,
    parse_media_id,
    to_activity,
)
from connectors.teams.tokens import TokenError, TokenSource
from relay.connector import Capabilities, Check, Connector, ConnectorKind, Context, Limit, Manifest, MediaStream, Route
from relay.errors import DeliveryError, MediaError
from relay.media import stream_response
from relay.model import Address, Kind, Message
from relay.netguard import REASON, refused
from relay.richtext import RichText, utf16_len

IMAGE_MAX = 1 << 20
PAYLOAD_BUDGET = 14_000
UNREACHABLE_TTL = 24 * 3600.0
RETRYABLE = frozenset({412, 502, 503, 504})
SEND_TIMEOUT = aiohttp.ClientTimeout(total=30)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_HOPS = 3


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None


class TeamsConnector(Connector):
    """Activities in at /hooks/<instance>/messages; replies to the conversation's Bot Connector service URL."""

    config: TeamsConfig

    def __init__(self, name: str, config: TeamsConfig, ctx: Context) -> None:
        super().__init__(name, config, ctx)
        self.keys = KeyCache(ctx.session, config.openid_metadata_url, ctx.log)
        self.tokens = TokenSource(config, ctx.log)

    def routes(self) -> Sequence[Route]:
        async def post(request: web.Request) -> web.Response:
            return await inbound.handle(self, request)

        return (Route("POST", "/messages", post), Route("POST", "", post), Route("POST", "/", post))

    def _unreachable_key(self, address: Address) -> str:
        return "teams:unreachable:" + self.ctx.sealer.digest(f"{self.name}:{base_conversation(address.chat)}")

    async def heard_from(self, address: Address) -> None:
        """An authenticated activity came from this conversation: sending there may work again."""
        await self.ctx.state.delete(self._unreachable_key(address))

    async def _token(self) -> str:
        try:
            return await self.tokens.token()
        except TokenError as exc:
            if exc.permanent:
                raise DeliveryError(f"token_{exc.code}") from None
            raise DeliveryError("token_unavailable", retryable=True, retry_after=5, scope="connector") from None

    async def _content(self, message: Message) -> tuple[RichText, list[tuple[str, str, bytes]]]:
        text = message.text
        images: list[tuple[str, str, bytes]] = []
        for att in message.attachments:
            if att.is_image and (att.size is None or att.size <= IMAGE_MAX):
                try:
                    images.append((att.mime, att.name, await self.ctx.media.read(att, IMAGE_MAX)))
                    text = text + (RichText.of("\n") if text and att.caption else RichText()) + att.caption
                    continue
                except MediaError:
                    pass
            text = text + att.caption + file_line(att.name, self.ctx.media.link(att) or att.url)
        return text, images

    async def send(self, message: Message) -> str:
        address = message.conversation
        service = address.service_url
        if not service or not service_url_allowed(service, self.config.service_url_allowlist):
            raise DeliveryError("service_url_not_allowed")
        if await self.ctx.state.get(self._unreachable_key(address)) is not None:
            raise DeliveryError("recipient_unreachable", unreachable=True)
        url = f"{service.rstrip('/')}/v3/conversations/{quote(address.chat, safe='')}/activities"
        body: dict[str, Any] | None = None
        if message.kind is Kind.DELETE:
            if not message.ref:
                raise DeliveryError("unknown_message_to_change")
            method, url = "DELETE", f"{url}/{quote(message.ref, safe='')}"
        else:
            text, images = await self._content(message)
            body = to_activity(message, text, images)
            if utf16_len(json.dumps({**body, "attachments": []}, ensure_ascii=False)) > PAYLOAD_BUDGET:
                body.update(textFormat="plain", text=text.plain)
            method = "POST"
            if message.kind is Kind.EDIT and message.ref:
                method, url, body["id"] = "PUT", f"{url}/{quote(message.ref, safe='')}", message.ref
            elif message.ref:
                url = f"{url}/{quote(message.ref, safe='')}"
        return await self._call(method, url, body, message, address)

    async def _call(
        self, method: str, url: str, body: dict[str, Any] | None, message: Message, address: Address
    ) -> str:
        headers = {"Authorization": f"Bearer {await self._token()}"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            async with self.ctx.fetch_session.request(
                method, URL(url, encoded=True), data=data, headers=headers, allow_redirects=False, timeout=SEND_TIMEOUT
            ) as resp:
                payload = await _json(resp)
                if resp.status < 300:
                    found = payload.get("id") if isinstance(payload, dict) else None
                    if isinstance(found, str) and found:
                        return found
                    return message.ref or self.ctx.sealer.digest(message.dedup_id)[:24]
                await self._refused(resp, payload, address)
        except aiohttp.ClientConnectorError as exc:
            if refused(exc):
                raise DeliveryError("service_url_refused") from None
            raise DeliveryError("platform_unreachable", retryable=True, scope="connector") from None
        except (aiohttp.ClientError, TimeoutError):
            raise DeliveryError("platform_no_answer") from None

    async def _refused(self, resp: aiohttp.ClientResponse, payload: Any, address: Address) -> NoReturn:
        status = resp.status
        if status == 429:
            raise DeliveryError("throttled", retryable=True, retry_after=_retry_after(resp) or 1.0, scope="chat")
        if status in RETRYABLE:
            raise DeliveryError(f"platform_busy_{status}", retryable=True, retry_after=_retry_after(resp), scope="chat")
        code = error_code(payload)
        self.ctx.log.warning("send refused", extra={"status": status, "code": code})
        if status == 403 and code in UNREACHABLE_CODES:
            await self.ctx.state.set(self._unreachable_key(address), code or "1", UNREACHABLE_TTL)
            raise DeliveryError("recipient_unreachable", unreachable=True)
        if status == 413:
            raise DeliveryError("message_too_large")
        raise DeliveryError(f"platform_rejected_{status}")

    def _hop_policy(self, kind: str) -> Callable[[str], bool] | None:
        """Which URLs a file of this kind may be fetched from, on its first hop and on every redirect."""
        if kind == INLINE:
            return lambda url: service_url_allowed(url, self.config.service_url_allowlist)
        if kind == DOWNLOAD:
            return lambda url: file_url_allowed(url, self.config.file_host_allowlist)
        return None

    async def fetch_media(self, file_id: str, limit: int) -> MediaStream:
        kind, url = parse_media_id(file_id)
        allowed = self._hop_policy(kind)
        if allowed is None or not allowed(url):
            hosts = (
                "Bot Framework hosts or service_url_allowlist"
                if kind == INLINE
                else "SharePoint or file_host_allowlist"
            )
            raise MediaError(f"file is not on the Teams file hosts ({hosts})")
        headers: dict[str, str] = {}
        if kind == INLINE:
            try:
                headers["Authorization"] = f"Bearer {await self.tokens.token()}"
            except TokenError:
                raise MediaError("bot token unavailable") from None
        resp = await self._get(url, headers, allowed)
        return stream_response(resp, limit, mime=resp.content_type or "application/octet-stream")

    async def _get(self, url: str, headers: dict[str, str], allowed: Callable[[str], bool]) -> aiohttp.ClientResponse:
        """GET through the guarded session; the token goes to the first hop only, and every redirect target must
        pass the same host policy."""
        try:
            for _hop in range(MAX_HOPS):
                resp = await self.ctx.media.session.get(URL(url, encoded=True), headers=headers, allow_redirects=False)
                location = resp.headers.get("Location")
                if resp.status not in REDIRECTS or not location:
                    return resp
                resp.release()
                url, headers = str(resp.url.join(URL(location))), {}
                if not allowed(url):
                    raise MediaError("file redirect to a host outside the Teams file hosts")
        except (aiohttp.ClientError, TimeoutError) as exc:
            if refused(exc):
                raise MediaError(f"file host refused: {REASON}") from None
            raise MediaError(f"file could not be fetched ({type(exc).__name__})") from None
        raise MediaError("too many redirects for the file")

    async def check(self) -> list[Check]:
        try:
            await self.tokens.token()
            checks = [Check("token", True, "obtained")]
        except TokenError as exc:
            checks = [Check("token", False, exc.code)]
        except Exception as exc:
            checks = [Check("token", False, type(exc).__name__)]
        try:
            count = await self.keys.ensure()
            checks.append(Check("openid signing keys", count > 0, f"{count} keys" if count else "not fetched"))
        except Exception as exc:
            checks.append(Check("openid signing keys", False, type(exc).__name__))
        return checks

    async def close(self) -> None:
        await super().close()
        await self.tokens.close()


async def _json(resp: aiohttp.ClientResponse) -> Any:
    try:
        return await resp.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError, UnicodeDecodeError):
        return None


MANIFEST = Manifest(
    type="teams",
    kind=ConnectorKind.MESSENGER,
    summary="Microsoft Teams (Bot Framework)",
    config=TeamsConfig,
    factory=TeamsConnector,
    capabilities=Capabilities(
        max_text=12_000,
        text_unit="utf16",
        threads=True,
        replies=True,
        edits=True,
        deletes=True,
        files=True,
        max_file_bytes=IMAGE_MAX,
        limits=(
            Limit("chat", rate=7, per=1.0, burst=7),
            Limit("chat", rate=60, per=30.0, burst=8),
            Limit("connector", rate=30, per=1.0, burst=30),
        ),
        ack_deadline=12.0,
    ),
)
