"""What the contract suite needs of a connector type: its fake, a config for it, recorded payloads."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.model import Address
from tests.support.fake_platform import FakePlatform

CONVERSATION = "{{conversation}}"


@dataclass(frozen=True, slots=True)
class Payload:
    """A recorded inbound request: the hook path under /hooks/<instance>, the raw body (a CRM's may
    hold `{{conversation}}` for a sealed reference), and the headers that authenticate it."""

    name: str
    body: bytes
    sign: Callable[[bytes], Mapping[str, str]]
    path: str = "/"
    delivers: bool = True


@dataclass(frozen=True, slots=True)
class ContractCase:
    """One connector type for the contract suite: `config(base_url)` points it at `fake()`; `address`
    names a conversation a messenger can send to (given the instance name); `payloads` replay
    what the platform sends; `extra` holds workspace settings the fake needs (e.g. `network` and `media`
    allowances for a fake on loopback serving URLs the connector takes from platform data); `opener` is
    what the customer sends first where the platform lets a business answer only after that
    (WhatsApp's 24-hour window); `sends` is False for a connector that only receives (call events),
    which must refuse every message with Reason.UNSUPPORTED; `connect(fake, base_url)`, when set, builds
    the config from the started fake itself (for a platform that is not only HTTP, such as a mail server)."""

    fake: Callable[[], FakePlatform]
    config: Callable[[str], dict[str, Any]]
    payloads: Sequence[Payload] = ()
    address: Callable[[str], Address] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    opener: Payload | None = None
    sends: bool = True
    connect: Callable[[Any, str], dict[str, Any]] | None = None


def recorded(folder: Path, name: str) -> bytes:
    """A recorded payload file's bytes."""
    return (folder / name).read_bytes()


def load(type_name: str) -> ContractCase | None:
    """The case a connector's tests folder exports as `CASE` in `contract.py`, if any."""
    try:
        module = importlib.import_module(f"tests.connectors.{type_name}.contract")
    except ModuleNotFoundError:
        return None
    case = getattr(module, "CASE", None)
    return case if isinstance(case, ContractCase) else None
