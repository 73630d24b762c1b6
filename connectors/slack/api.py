"""Slack Web API plumbing: error mapping, the three-step file upload, authenticated file download."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from yarl import URL

from relay.connector import MediaStream
from relay.errors import DeliveryError, MediaError
from relay.media import capped, host_allowed, response_chunks
from relay.netguard import REASON, refused

UNREACHABLE = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "user_not_found", "user_disabled", "cannot_dm_bot"}
)
FILE_HOSTS = ("files.slack.com", "*.slack.com", "*.slack-edge.com")


def _retry_after(headers: Any) -> float | None:
    try:
        value = dict(headers or {})
        raw = next((v for k, v in value.items() if str(k).lower() == "retry-after"), None)
        return float(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None


def data(response: AsyncSlackResponse) -> dict[str, Any]:
    """The JSON body of a Web API answer as a dict (empty if it is not one)."""
    return response.data if isinstance(response.data, dict) else {}


def failure(response: AsyncSlackResponse) -> DeliveryError:
    """A Slack answer that was not `ok` as a DeliveryError: only rate limits are retryable."""
    status = int(response.status_code or 0)
    error = re.sub(r"[^a-z0-9_]", "", str(data(response).get("error") or ""))[:60]
    if status == 429 or error == "ratelimited":
        return DeliveryError(
            "slack_ratelimited", retryable=True, retry_after=_retry_after(response.headers) or 1.0, scope="chat"
        )
    if error:
        return DeliveryError(f"slack_{error}", unreachable=error in UNREACHABLE)
    return DeliveryError(f"slack_http_{status}")


async def call(request: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse:
    """Await one Web API call; map every failure to a content-free DeliveryError."""
    try:
        return await request
    except SlackApiError as exc:
        raise failure(exc.response) from None
    except aiohttp.ClientConnectorError:
        raise DeliveryError("slack_unreachable", retryable=True, scope="connector") from None
    except (aiohttp.ClientError, TimeoutError):
        raise DeliveryError("slack_no_answer") from None
    except SlackRequestError:
        raise DeliveryError("slack_request_failed") from None


async def upload(
    web: AsyncWebClient,
    session: aiohttp.ClientSession,
    files: list[tuple[str, str, bytes]],
    channel: str,
    thread: str | None,
    comment: str,
) -> list[dict[str, Any]]:
    """files.getUploadURLExternal -> POST bytes -> files.completeUploadExternal, all from memory.

    Form bodies, not query strings, so file names and the comment never sit in a URL."""
    done: list[dict[str, Any]] = []
    for name, _mime, raw in files:
        got = data(await call(web.api_call("files.getUploadURLExternal", data={"filename": name, "length": len(raw)})))
        url, file_id = got.get("upload_url"), got.get("file_id")
        if not isinstance(url, str) or not isinstance(file_id, str):
            raise DeliveryError("slack_upload_url_missing")
        try:
            async with session.post(
                url, data=raw, allow_redirects=False, headers={"Content-Type": "application/octet-stream"}
            ) as resp:
                if resp.status != 200:
                    raise DeliveryError(f"slack_upload_http_{resp.status}")
        except aiohttp.ClientConnectorError as exc:
            if refused(exc):
                raise DeliveryError("slack_upload_url_refused") from None
            raise DeliveryError("slack_unreachable", retryable=True, scope="connector") from None
        except (aiohttp.ClientError, TimeoutError):
            raise DeliveryError("slack_no_answer") from None
        done.append({"id": file_id, "title": name})
    form: dict[str, Any] = {"files": json.dumps(done, separators=(",", ":")), "channel_id": channel}
    if thread:
        form["thread_ts"] = thread
    if comment:
        form["initial_comment"] = comment
    completed = data(await call(web.api_call("files.completeUploadExternal", data=form)))
    listed = completed.get("files")
    return [f for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []


def shared_ts(files: list[dict[str, Any]], channel: str) -> str | None:
    """The ts of the message that shared an uploaded file in `channel`, when Slack already says."""
    for f in files:
        shares = f.get("shares")
        for kind in ("public", "private"):
            where = shares.get(kind) if isinstance(shares, dict) else None
            entries = where.get(channel) if isinstance(where, dict) else None
            if isinstance(entries, list) and entries and isinstance(entries[0], dict) and entries[0].get("ts"):
                return str(entries[0]["ts"])
    return None


def allowed_file_url(url: str, api_host: str) -> bool:
    """Files are fetched, with the bot token, only from Slack's file hosts (or the configured API host)."""
    return host_allowed(url, FILE_HOSTS) or (urlsplit(url).netloc.lower() == api_host and host_allowed(url, ["*"]))


async def download(
    session: aiohttp.ClientSession, url: str, token: str, api_host: str, limit: int, mime: str, name: str
) -> MediaStream:
    """GET a private Slack file with the bot token into memory, capped; an HTML login page is refused."""
    for _hop in range(3):
        if not allowed_file_url(url, api_host):
            raise MediaError("Slack file URL is not on a Slack file host")
        try:
            resp = await session.get(url, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False)
        except (aiohttp.ClientError, TimeoutError) as exc:
            if refused(exc):
                raise MediaError(f"Slack file URL refused: {REASON}") from None
            raise MediaError(f"Slack file could not be fetched ({type(exc).__name__})") from None
        if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
            url = str(resp.url.join(URL(resp.headers["Location"])))
            resp.release()
            continue
        if resp.status != 200:
            resp.release()
            raise MediaError(f"Slack answered {resp.status} for the file")
        if resp.content_type == "text/html" and mime != "text/html":
            resp.release()
            raise MediaError("Slack answered with a login page instead of the file (token lacks files:read?)")
        if resp.content_length is not None and resp.content_length > limit:
            resp.release()
            raise MediaError(f"file is larger than the {limit}-byte cap")
        return MediaStream(mime or resp.content_type, capped(response_chunks(resp), limit), resp.content_length, name)
    raise MediaError("too many redirects for the Slack file")
