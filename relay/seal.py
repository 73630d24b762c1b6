"""Sealed references: deterministic authenticated encryption (AES-SIV) with key ids for rotation."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from relay.errors import AuthError
from relay.keyed import HmacSha256
from relay.model import Address, MediaRef


@dataclass(frozen=True, slots=True)
class WorkspaceKey:
    """One key of the workspace: an id (kept in sealed strings) and its secret."""

    id: str
    secret: bytes

    def __repr__(self) -> str:
        return f"WorkspaceKey({self.id!r}, ***)"


CONVERSATION = "c2"
LEGACY_CONVERSATION = "c1"
MEDIA = "m1"


def legacy_handle(service_url: str | None, chat_type: str | None) -> str | None:
    """The handle of a reference sealed in the first format (which held a Teams service URL and a
    Telegram chat type as core fields): a compact JSON object of those that were set. Connectors that
    used them encode their handles the same way, so old and new references answer alike."""
    fields = {k: v for k, v in (("service_url", service_url), ("chat_type", chat_type)) if v is not None}
    return json.dumps(fields, separators=(",", ":")) if fields else None


def _derive(secret: bytes, workspace: str, purpose: str, length: int) -> bytes:
    info = f"relay/{workspace}/{purpose}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class SealedMedia:
    """What a media token opens to."""

    ref: MediaRef
    name: str
    mime: str
    size: int | None
    expires: int


class Sealer:
    """Seals addresses and media references under the workspace keys; the first key seals."""

    def __init__(self, workspace: str, keys: Sequence[WorkspaceKey]) -> None:
        if not keys:
            raise ValueError("at least one workspace key is needed")
        self.workspace = workspace
        self._current = keys[0].id
        self._siv = {k.id: AESSIV(_derive(k.secret, workspace, "seal", 64)) for k in keys}
        self._digest = HmacSha256(_derive(keys[0].secret, workspace, "digest", 32))
        self._sealed: dict[Address, str] = {}
        self._digests: dict[str, str] = {}

    def _seal(self, purpose: str, payload: Any) -> str:
        plain = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        aad = [self.workspace.encode(), purpose.encode()]
        blob = self._siv[self._current].encrypt(plain, aad)
        return f"{purpose}.{self._current}.{_b64(blob)}"

    def _open(self, purpose: str, token: str) -> Any:
        what = "media" if purpose == MEDIA else "conversation"
        try:
            prefix, kid, body = token.split(".", 2)
            if prefix != purpose or kid not in self._siv:
                raise ValueError
            plain = self._siv[kid].decrypt(_unb64(body), [self.workspace.encode(), purpose.encode()])
            return json.loads(plain)
        except (ValueError, InvalidTag, UnicodeDecodeError, json.JSONDecodeError):
            raise AuthError(f"{what} reference is not valid for this workspace", 403) from None

    def seal(self, address: Address) -> str:
        """The opaque conversation string for an address; the same address gives the same string."""
        found = self._sealed.get(address)
        if found is None:
            a = address
            found = self._seal(CONVERSATION, [a.instance, a.chat, a.thread, a.handle])
            if len(self._sealed) >= 4096:
                self._sealed.clear()
            self._sealed[address] = found
        return found

    def open(self, token: str) -> Address:
        """The address inside a conversation string (this format or the first one); AuthError(403) if
        forged or tampered."""
        legacy = token.startswith(LEGACY_CONVERSATION + ".")
        data = self._open(LEGACY_CONVERSATION if legacy else CONVERSATION, token)
        size = 6 if legacy else 4
        if not (isinstance(data, list) and len(data) == size and all(isinstance(x, str | None) for x in data)):
            raise AuthError("conversation reference is not valid for this workspace", 403)
        instance, chat = data[0], data[1]
        if not instance or chat is None:
            raise AuthError("conversation reference is not valid for this workspace", 403)
        return Address(instance, chat, data[2], legacy_handle(data[3], data[5]) if legacy else data[3])

    def seal_media(self, ref: MediaRef, name: str, mime: str, size: int | None, ttl: int) -> str:
        """A media token valid for `ttl` seconds."""
        expires = int(time.time()) + ttl
        return self._seal(MEDIA, [ref.instance, ref.file_id, name, mime, size, expires])

    def open_media(self, token: str) -> SealedMedia:
        """Open a media token; AuthError(403) if forged, tampered or expired."""
        data = self._open(MEDIA, token)
        try:
            instance, file_id, name, mime, size, expires = data
            sealed = SealedMedia(MediaRef(str(instance), str(file_id)), str(name), str(mime), size, int(expires))
        except (TypeError, ValueError):
            raise AuthError("media reference is not valid for this workspace", 403) from None
        if sealed.expires < time.time():
            raise AuthError("media link expired; ask for the message again", 403)
        return sealed

    def digest(self, value: str) -> str:
        """A keyed digest for state keys: reveals nothing of the value. A message's id is digested for its
        dedup key, its event id and its log id: the last few thousand are remembered, in memory only."""
        found = self._digests.get(value)
        if found is None:
            found = self._digest.hexdigest(value.encode())[:32]
            if len(self._digests) >= 4096:
                self._digests.clear()
            self._digests[value] = found
        return found
