"""HMAC-SHA256 under one fixed key, with the key's pads hashed once: the per-message MACs stay cheap."""

from __future__ import annotations

import hashlib

_BLOCK = 64


class HmacSha256:
    """Computes exactly `hmac.new(key, data, sha256)`, reusing the pre-hashed pads for every call."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hexdigest(self, *parts: bytes) -> str:
        """The hex MAC of the concatenated parts."""
        inner = self._inner.copy()
        for part in parts:
            inner.update(part)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def __repr__(self) -> str:
        return "HmacSha256(***)"
