"""Secret values that never print, and the encrypted secrets file."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import core_schema

from relay.errors import RelayError
from relay.weak import weakness


class Secret:
    """A secret string: `repr` and `str` are `***`; `reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> Any:
        def validate(value: Any) -> Secret:
            if isinstance(value, Secret):
                return value
            if not isinstance(value, str):
                raise ValueError("must be a string (or a ${ENV} reference)")
            return cls(value)

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: "***"),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        """A write-only password string: forms generated from the schema never show its value."""
        return {"type": "string", "format": "password", "writeOnly": True}


class SecretsFileError(RelayError):
    """The secrets file cannot be read or written."""


_MAGIC = "relay-secrets-v1"


def _key(master: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(master.encode())


def master_key() -> str:
    """The master key from RELAY_MASTER_KEY, or a clear error."""
    value = os.environ.get("RELAY_MASTER_KEY", "")
    if len(value) < 16:
        raise SecretsFileError(
            "RELAY_MASTER_KEY is not set or shorter than 16 characters: "
            "export a long random value (e.g. `openssl rand -base64 32`) to use the secrets file"
        )
    problem = weakness(value)
    if problem is not None:
        raise SecretsFileError(
            f"RELAY_MASTER_KEY {problem}: export a long random value (e.g. `openssl rand -base64 32`) "
            "to use the secrets file"
        )
    return value


def load_secrets(path: Path, master: str) -> dict[str, str]:
    """Decrypt the secrets file into a name -> value map."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SecretsFileError(f"{path}: cannot read the secrets file ({type(exc).__name__})") from None
    return open_values(data, master, str(path))


def open_values(data: bytes, master: str, where: str = "secrets") -> dict[str, str]:
    """Decrypt a sealed secrets document (the secrets file's format) into a name -> value map."""
    try:
        doc = json.loads(data)
        if doc.get("format") != _MAGIC:
            raise ValueError("not a relay secrets file")
        salt = base64.b64decode(doc["salt"])
        nonce = base64.b64decode(doc["nonce"])
        blob = base64.b64decode(doc["data"])
    except (ValueError, KeyError, AttributeError) as exc:
        raise SecretsFileError(f"{where}: cannot read the secrets file ({type(exc).__name__})") from None
    try:
        plain = AESGCM(_key(master, salt)).decrypt(nonce, blob, _MAGIC.encode())
    except Exception:
        raise SecretsFileError(f"{where}: RELAY_MASTER_KEY does not open this secrets file") from None
    values = json.loads(plain)
    if not isinstance(values, dict):
        raise SecretsFileError(f"{where}: malformed secrets file")
    return {str(k): str(v) for k, v in values.items()}


def seal_values(master: str, values: dict[str, str]) -> bytes:
    """Encrypt a name -> value map into the secrets file's format (AES-GCM, key from the master key by scrypt)."""
    salt, nonce = os.urandom(16), os.urandom(12)
    blob = AESGCM(_key(master, salt)).encrypt(nonce, json.dumps(values).encode(), _MAGIC.encode())
    doc = {
        "format": _MAGIC,
        "salt": base64.b64encode(salt).decode(),
        "nonce": base64.b64encode(nonce).decode(),
        "data": base64.b64encode(blob).decode(),
    }
    return json.dumps(doc).encode()


def save_secrets(path: Path, master: str, values: dict[str, str]) -> None:
    """Encrypt and write the secrets file (mode 0600), replacing it atomically."""
    write_private(path, seal_values(master, values))


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` atomically with a new file (0600 unless `mode` says otherwise): a fresh unpredictable
    temporary file in the same directory (O_EXCL, never a symlink or a leftover), synced before the rename,
    the directory after."""
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
