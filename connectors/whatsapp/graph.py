"""The Graph API calls the connector makes, over the relay's shared aiohttp session."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from connectors.whatsapp.config import WhatsAppConfig
from connectors.whatsapp.markup import reason_for
from relay.connector import MediaStream
from relay.errors import DeliveryError, MediaError
from relay.media import capped, host_allowed, response_chunks
from relay.netguard import REASON, refused

_MEDIA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
MEDIA_HOSTS = ("*.fbsbx.com", "*.facebook.com", "*.fbcdn.net", "*.whatsapp.net")
RETRY_SOON = {130429: 1.0, 131057: 10.0, 4: 30.0, 80007: 30.0, 1: 2.0, 2: 2.0}
PAIR_LIMITED = 131056


class GraphError(Exception):
    """A Graph API call was refused; carries only codes."""

    def __init__(self, http_status: int, code: int | None, retry_after: float | None) -> None:
        self.http_status = http_status
        self.code = code
        self.retry_after = retry_after
        super().__init__(f"graph error http={http_status} code={code}")


def _retry_after(resp: aiohttp.ClientResponse) -> float | None:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None


async def _error(resp: aiohttp.ClientResponse) -> GraphError:
    code: int | None = None
    try:
        data = await resp.json(content_type=None)
        err = data.get("error") if isinstance(data, dict) else None
        code = err.get("code") if isinstance(err, dict) and isinstance(err.get("code"), int) else None
    except (ValueError, aiohttp.ClientError):
        pass
    return GraphError(resp.status, code, _retry_after(resp))


def delivery_error(err: GraphError, pair_attempt: int = 1) -> DeliveryError:
    """Map a refused send to a DeliveryError: retryable only where Meta says "not accepted, try later"."""
    if err.code == PAIR_LIMITED:
        wait = err.retry_after or min(300.0, max(6.0, 4.0**pair_attempt))
        return DeliveryError("pair_rate_limited", retryable=True, retry_after=wait, scope="chat")
    if err.code in RETRY_SOON or err.http_status == 429 or (err.http_status == 503 and err.retry_after):
        wait = err.retry_after or RETRY_SOON.get(err.code or 0, 2.0)
        return DeliveryError(
            reason_for(err.code, err.http_status) if err.code else "rate_limited",
            retryable=True,
            retry_after=wait,
            scope="connector",
        )
    return DeliveryError(reason_for(err.code, err.http_status), unreachable=err.code == 131026)


class Graph:
    """Thin client for the few Graph endpoints the connector needs."""

    def __init__(
        self, config: WhatsAppConfig, session: aiohttp.ClientSession, media: aiohttp.ClientSession | None = None
    ) -> None:
        self.config = config
        self.session = session
        self.media = media or session
        self.root = config.graph_url
        self.timeout = aiohttp.ClientTimeout(total=config.timeout)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.access_token.reveal()}"}

    async def _post(self, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self.session.post(
                f"{self.root}/{path}", headers=self.auth, timeout=self.timeout, allow_redirects=False, **kwargs
            ) as resp:
                if resp.status != 200:
                    raise await _error(resp)
                data = await resp.json(content_type=None)
                return data if isinstance(data, dict) else {}
        except aiohttp.ClientConnectorError:
            raise DeliveryError("platform_unreachable", retryable=True, retry_after=2.0, scope="connector") from None
        except (aiohttp.ClientError, ValueError):
            raise DeliveryError("platform_connection_lost") from None
        except TimeoutError:
            raise DeliveryError("platform_timeout") from None

    async def send(self, body: dict[str, Any]) -> str:
        """POST /{phone-number-id}/messages; the new wamid. Raises GraphError or DeliveryError."""
        data = await self._post(f"{self.config.phone_number_id}/messages", json=body)
        messages = data.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            wamid = messages[0].get("id")
            if isinstance(wamid, str) and wamid:
                return wamid
        raise DeliveryError("platform_bad_response")

    async def upload(self, data: bytes, mime: str, name: str) -> str:
        """POST /{phone-number-id}/media from memory; the media id."""
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime)
        form.add_field("file", data, filename=name, content_type=mime)
        found = await self._post(f"{self.config.phone_number_id}/media", data=form)
        media_id = found.get("id")
        if not isinstance(media_id, str | int) or not str(media_id):
            raise DeliveryError("platform_bad_response")
        return str(media_id)

    async def _resolve(self, media_id: str) -> dict[str, Any]:
        params = {"phone_number_id": self.config.phone_number_id}
        async with self.session.get(
            f"{self.root}/{media_id}", headers=self.auth, params=params, timeout=self.timeout, allow_redirects=False
        ) as resp:
            if resp.status != 200:
                raise MediaError(f"WhatsApp media lookup answered {resp.status}")
            data = await resp.json(content_type=None)
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            raise MediaError("WhatsApp media lookup gave no URL")
        api_host = urlsplit(self.root).netloc
        if not (host_allowed(data["url"], MEDIA_HOSTS) or urlsplit(data["url"]).netloc == api_host):
            raise MediaError("WhatsApp media URL is not on a Meta host; the token is not sent there")
        return data

    async def download(self, media_id: str, limit: int) -> MediaStream:
        """Media id -> short-lived URL -> bytes with the bearer token, streamed; re-resolved once if expired."""
        if not _MEDIA_ID.match(media_id):
            raise MediaError("not a WhatsApp media id")
        try:
            for attempt in (1, 2):
                info = await self._resolve(media_id)
                size = info.get("file_size") if isinstance(info.get("file_size"), int) else None
                if size is not None and size > limit:
                    raise MediaError(f"file is larger than the {limit}-byte cap")
                resp = await self.media.get(info["url"], headers=self.auth, allow_redirects=False)
                if resp.status in (401, 403, 404, 410) and attempt == 1:
                    resp.release()
                    continue
                if resp.status != 200:
                    resp.release()
                    raise MediaError(f"WhatsApp media download answered {resp.status}")
                if resp.content_length is not None and resp.content_length > limit:
                    resp.release()
                    raise MediaError(f"file is larger than the {limit}-byte cap")
                mime = str(info.get("mime_type") or resp.content_type or "application/octet-stream")
                return MediaStream(
                    mime.split(";")[0].strip(), capped(response_chunks(resp), limit), resp.content_length or size
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            if refused(exc):
                raise MediaError(f"WhatsApp media URL refused: {REASON}") from None
            raise MediaError(f"WhatsApp media could not be fetched ({type(exc).__name__})") from None
        raise MediaError("WhatsApp media URL expired twice")

    async def phone_number(self) -> tuple[int, dict[str, Any]]:
        """GET /{phone-number-id} with the token: HTTP status and JSON body."""
        params = {"fields": "display_phone_number,verified_name"}
        async with self.session.get(
            f"{self.root}/{self.config.phone_number_id}",
            headers=self.auth,
            params=params,
            timeout=self.timeout,
            allow_redirects=False,
        ) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = None
            return resp.status, data if isinstance(data, dict) else {}
