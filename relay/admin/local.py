"""The break-glass owner: an argon2 password hash plus a TOTP secret, both needed to sign in."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from relay.admin.principal import Principal, Role
from relay.secret import Secret
from relay.state import StateStore

MIN_PASSWORD = 12
SUBJECT = "local:owner"


@dataclass(frozen=True, slots=True)
class OwnerCredential:
    """What `relay admin create-owner` stores in the secrets file (as one JSON value)."""

    name: str
    hash: str
    totp: str

    def dump(self) -> str:
        return json.dumps({"name": self.name, "hash": self.hash, "totp": self.totp})

    @classmethod
    def of(cls, secret: Secret) -> OwnerCredential:
        doc = json.loads(secret.reveal())
        return cls(str(doc["name"]), str(doc["hash"]), str(doc["totp"]))


def new_credential(name: str, password: str, totp_secret: str) -> OwnerCredential:
    """Hash the password (argon2id) and keep the TOTP secret."""
    return OwnerCredential(name, PasswordHasher().hash(password), totp_secret)


def _password_ok(hashed: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


class LocalOwner:
    """Checks the break-glass owner's password and one-time code; each code works once."""

    def __init__(self, secret: Secret, store: StateStore) -> None:
        self.credential = OwnerCredential.of(secret)
        self.store = store

    async def sign_in(self, password: str, code: str) -> Principal | None:
        """The owner principal when both the password and a fresh TOTP code are right; else None."""
        totp = pyotp.TOTP(self.credential.totp)
        code = code.strip().replace(" ", "")
        if not (code.isdigit() and len(code) == 6):
            return None
        password_ok = await asyncio.to_thread(_password_ok, self.credential.hash, password)
        if not (password_ok and totp.verify(code, valid_window=1)):
            return None
        used = "admin:totp:" + hashlib.sha256(f"{self.credential.totp}:{code}".encode()).hexdigest()
        if not await self.store.claim(used, "1", 120.0):
            return None
        return Principal(SUBJECT, self.credential.name, Role.OWNER, "local")
