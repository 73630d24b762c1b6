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
    what the platform sends; `start` says whether the connector may be started against the fake;
    `connect(fake, base_url)`, when set, builds the config from the started fake itself (for a
    platform that is not only HTTP, such as a mail server)."""

    fake: Callable[[], FakePlatform]
    config: Callable[[str], dict[str, Any]]
    payloads: Sequence[Payload] = ()
    address: Callable[[str], Address] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
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
