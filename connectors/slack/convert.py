"""Pure conversions: Slack events -> Message, Message -> Web API arguments and file Calls, answers -> ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from connectors.slack.mrkdwn import parse_mrkdwn, reaction_text, to_mrkdwn
from relay.client import Call
from relay.errors import DeliveryError
from relay.model import Address, Attachment, Kind, MediaRef, Message, Party
from relay.reasons import Reason

FILE_HOSTS = ("files.slack.com", "*.slack.com", "*.slack-edge.com")
FILE_REDIRECTS = 3

REACTIONS = ("reaction_added", "reaction_removed")
MESSAGE_SUBTYPES = frozenset(
    {None, "file_share", "thread_broadcast", "me_message", "message_changed", "message_deleted"}
)


def message_id(channel: str, ts: str) -> str:
    """The relay's id of a Slack message: channel and ts together identify it."""
    return f"{channel}:{ts}"


def split_id(platform_id: str) -> tuple[str, str]:
    """(channel, ts) from a message id made by message_id()."""
    channel, _, ts = platform_id.partition(":")
    return channel, ts


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _from_bot(msg: dict[str, Any], own_user: str | None) -> bool:
    return bool(
        msg.get("bot_id")
        or msg.get("bot_profile")
        or msg.get("subtype") == "bot_message"
        or (own_user is not None and msg.get("user") == own_user)
    )


def _subject(event: dict[str, Any]) -> dict[str, Any]:
    """The message an event is about: the new version of an edit, the old one of a delete."""
    subtype = event.get("subtype")
    if subtype == "message_changed":
        return _dict(event.get("message"))
    if subtype == "message_deleted":
        return _dict(event.get("previous_message"))
    return event


def channel_of(event: dict[str, Any]) -> str | None:
    """The channel an event happened in."""
    if event.get("type") in REACTIONS:
        return _str(_dict(event.get("item")).get("channel"))
    return _str(event.get("channel"))


def is_relayed(event: dict[str, Any], own_user: str | None, channels: frozenset[str]) -> bool:
    """True for customer messages, edits, deletes and reactions (added or removed) in relayed channels and DMs;
    bots never."""
    etype = event.get("type")
    if etype == "message":
        subtype = event.get("subtype")
        if subtype not in MESSAGE_SUBTYPES:
            return False
        subject = _subject(event)
        if not subject or _from_bot(subject, own_user) or _from_bot(event, own_user):
            return False
        if subtype == "message_changed":
            before = _dict(event.get("previous_message"))
            if before.get("text") == subject.get("text"):
                return False
    elif etype in REACTIONS:
        item = _dict(event.get("item"))
        if item.get("type") != "message" or not _str(item.get("ts")) or _from_bot(event, own_user):
            return False
    else:
        return False
    channel = channel_of(event)
    if channel is None:
        return False
    return not channels or channel in channels or channel.startswith("D") or event.get("channel_type") == "im"


def actor(event: dict[str, Any]) -> str | None:
    """The Slack user id who did this (for the sender lookup)."""
    if event.get("type") in REACTIONS:
        return _str(event.get("user"))
    return _str(_subject(event).get("user"))


def _thread(msg: dict[str, Any]) -> str | None:
    thread_ts, ts = _str(msg.get("thread_ts")), _str(msg.get("ts"))
    return thread_ts if thread_ts and thread_ts != ts else None


def _sent_at(ts: str | None) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts or ""), UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def attachments(msg: dict[str, Any], instance: str) -> tuple[Attachment, ...]:
    """Slack files as attachments held by this instance (fetched later by file id)."""
    out = []
    for f in msg.get("files") or ():
        if not isinstance(f, dict) or not _str(f.get("id")) or f.get("mode") in ("tombstone", "hidden_by_limit"):
            continue
        size = f.get("size")
        out.append(
            Attachment(
                name=_str(f.get("name")) or _str(f.get("title")) or "file",
                mime=_str(f.get("mimetype")) or "application/octet-stream",
                size=size if isinstance(size, int) and size >= 0 else None,
                ref=MediaRef(instance, f["id"]),
            )
        )
    return tuple(out)


def to_message(body: dict[str, Any], instance: str, sender: Party | None) -> Message | None:
    """One Events API envelope (already checked with is_relayed) as a Message, or None if empty."""
    event = _dict(body.get("event"))
    channel = channel_of(event)
    if channel is None:
        return None
    event_id = _str(body.get("event_id"))
    event_ts = _str(event.get("event_ts")) or _str(event.get("ts")) or ""
    common: dict[str, Any] = {"origin": instance, "sender": sender, "event_id": event_id, "sent_at": _sent_at(event_ts)}
    if event.get("type") in REACTIONS:
        item_ts, added = str(_dict(event.get("item")).get("ts")), event.get("type") == "reaction_added"
        return Message(
            kind=Kind.REACTION,
            id=message_id(channel, f"{event_ts}:{'r' if added else 'u'}"),
            ref=message_id(channel, item_ts),
            conversation=Address(instance, channel),
            reaction=reaction_text(str(event.get("reaction"))) if added else "",
            **common,
        )
    subject = _subject(event)
    address = Address(instance, channel, _thread(subject))
    target = _str(event.get("deleted_ts")) or _str(subject.get("ts"))
    if event.get("subtype") == "message_deleted":
        return Message(
            kind=Kind.DELETE,
            id=message_id(channel, f"{event_ts}:d"),
            conversation=address,
            ref=message_id(channel, target or ""),
            **common,
        )
    text = parse_mrkdwn(_str(subject.get("text")) or "")
    if event.get("subtype") == "message_changed":
        return Message(
            kind=Kind.EDIT,
            id=message_id(channel, f"{event_ts}:e"),
            conversation=address,
            text=text,
            ref=message_id(channel, target or ""),
            **common,
        )
    files = attachments(subject, instance)
    if not text and not files:
        return None
    return Message(
        kind=Kind.MEDIA if files else Kind.TEXT,
        id=message_id(channel, target or event_ts),
        conversation=address,
        text=text,
        attachments=files,
        **common,
    )


def party(user_id: str, info: dict[str, Any] | None, include_email: bool) -> Party:
    """A sender from a users.info `user` object (or just the id when it is unknown)."""
    user = _dict(info)
    profile = _dict(user.get("profile"))
    name = _str(profile.get("display_name")) or _str(profile.get("real_name")) or _str(user.get("real_name"))
    email = _str(profile.get("email")) if include_email else None
    return Party(
        id=user_id,
        name=name,
        username=_str(user.get("name")),
        email=email,
        language=_str(user.get("locale")),
        is_bot=bool(user.get("is_bot")),
    )


def post_args(message: Message) -> dict[str, Any]:
    """chat.postMessage's JSON for a text message: mrkdwn, in its thread, no link previews."""
    args: dict[str, Any] = {"channel": message.conversation.chat, "text": to_mrkdwn(message.text)}
    if message.conversation.thread:
        args["thread_ts"] = message.conversation.thread
    return args | {"unfurl_links": False, "unfurl_media": False}


def change_args(message: Message) -> tuple[str, dict[str, Any]]:
    """The Web API method and JSON that edit (chat.update) or delete (chat.delete) the message `ref` names."""
    channel, ts = split_id(message.ref or "")
    if not ts:
        raise DeliveryError(Reason.UNKNOWN_MESSAGE)
    if message.kind is Kind.EDIT:
        return "chat.update", {"channel": channel, "ts": ts, "text": to_mrkdwn(message.text)}
    return "chat.delete", {"channel": channel, "ts": ts}


def posted_id(data: dict[str, Any], channel: str) -> str:
    """The relay's id of a posted message from chat.postMessage's answer."""
    ts = _str(data.get("ts"))
    if ts is None:
        raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE)
    return message_id(_str(data.get("channel")) or channel, ts)


def reactions_of(data: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(name, user ids) of each reaction in reactions.get's answer."""
    found = _dict(data.get("message")).get("reactions")
    return [(r["name"], list(r.get("users") or ())) for r in found or () if isinstance(r, dict) and _str(r.get("name"))]


def upload_target(data: dict[str, Any]) -> tuple[str, str]:
    """(upload URL, file id) from files.getUploadURLExternal's answer."""
    url, file_id = _str(data.get("upload_url")), _str(data.get("file_id"))
    if url is None or file_id is None:
        raise DeliveryError(Reason.PLATFORM_BAD_RESPONSE, detail="upload_url_missing")
    return url, file_id


def upload_call(url: str, raw: bytes) -> Call:
    """The POST of a file's bytes to the upload URL Slack handed out: on Slack's file hosts only."""
    headers = {"Content-Type": "application/octet-stream"}
    return Call("POST", url, headers=headers, body=raw, timeout=120.0, hosts=FILE_HOSTS)


def completion_form(done: list[dict[str, str]], message: Message) -> dict[str, str]:
    """files.completeUploadExternal's form: a form body, so file names and the comment never sit in a URL."""
    form = {"files": json.dumps(done, separators=(",", ":")), "channel_id": message.conversation.chat}
    if message.conversation.thread:
        form["thread_ts"] = message.conversation.thread
    comment = to_mrkdwn(message.text)
    if comment:
        form["initial_comment"] = comment
    return form


def uploaded_id(data: dict[str, Any], channel: str) -> str:
    """The relay's id of a file share: the sharing message's ts when Slack already says, else the file id."""
    files = [f for f in data.get("files") or () if isinstance(f, dict)]
    for f in files:
        shares = _dict(f.get("shares"))
        for kind in ("public", "private"):
            entries = _dict(shares.get(kind)).get(channel)
            if isinstance(entries, list) and entries and isinstance(entries[0], dict) and entries[0].get("ts"):
                return message_id(channel, str(entries[0]["ts"]))
    first = _str(files[0].get("id")) if files else None
    return message_id(channel, f"file:{first or 'unknown'}")


def file_call(data: dict[str, Any], token: str, api_host: str) -> Call | None:
    """The GET of a private file from files.info's answer, with the bot token, on Slack's file hosts
    (or the configured API host); redirects followed by the core. None when Slack gave no URL."""
    info = _dict(data.get("file"))
    url = _str(info.get("url_private_download")) or _str(info.get("url_private"))
    if url is None:
        return None
    headers = {"Authorization": f"Bearer {token}"}
    return Call("GET", url, headers=headers, hosts=(*FILE_HOSTS, api_host), redirects=FILE_REDIRECTS)


def file_meta(data: dict[str, Any]) -> tuple[str, str]:
    """(mime type, name) of a file from files.info's answer."""
    info = _dict(data.get("file"))
    return _str(info.get("mimetype")) or "", _str(info.get("name")) or "file"
