"""Workspace configuration: one TOML file, ${ENV} and secrets-file references, every error at once."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from relay import registry, strength
from relay.admin.allowlist import disallowed, file_allowlist
from relay.admin.settings import AdminSettings
from relay.config_checks import check_routes, resolve, routes_of, unrouted, without_echoes
from relay.config_words import describe
from relay.connector import ConnectorConfig, Manifest
from relay.errors import ConfigError
from relay.netguard import parse_network
from relay.privacy_config import ConsentConfig, MinimiseConfig
from relay.secret import Secret, SecretsFileError, load_secrets, master_key
from relay.state_config import StateConfig
from relay.store_config import StoreConfig
from relay.tracing_config import TracingConfig

_BASE_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = None
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    max_inflight: int = Field(default=1024, ge=1)
    max_inflight_per_destination: int = Field(default=512, ge=1)
    shutdown_grace: float = Field(default=10.0, ge=0)
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    metrics_token: strength.Strong | None = None
    header_timeout: float = Field(default=10.0, gt=0, le=300)
    body_timeout: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None and not _BASE_URL.match(value):
            raise ValueError("must be the relay's public base URL, like https://relay.example.com (no query)")
        return value


class KeyConfig(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,16}$")
    secret: Annotated[Secret, AfterValidator(strength.not_placeholder)]


class WorkspaceConfig(_Strict):
    id: str = Field(default="default", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    keys: list[KeyConfig] = Field(min_length=1)
    secrets_file: Path | None = None
    allowed_types: list[str] | None = None

    @field_validator("allowed_types")
    @classmethod
    def _known_types(cls, value: list[str] | None) -> list[str] | None:
        known = registry.available()
        for i, name in enumerate(value or []):
            if name not in known:
                raise ValueError(f"[{i}] unknown connector type '{name}'{registry.did_you_mean(name, known)}")
        return value

    @field_validator("keys")
    @classmethod
    def _sealing_key_strong(cls, keys: list[KeyConfig]) -> list[KeyConfig]:
        problem = strength.weakness(keys[0].secret.reveal()) if keys else None
        if problem is not None:
            raise ValueError(
                f"the first key seals new references and must be at least 16 characters of random text ({problem}); "
                "generate one with `openssl rand -base64 32` and put it first (a shorter old key may follow, to open "
                "old references)"
            )
        return keys


class MediaConfig(_Strict):
    max_bytes: int = Field(default=25 << 20, ge=1)
    link_ttl: int = Field(default=24 * 3600, ge=60)
    allowlist: list[str] = []
    max_streams: int = Field(default=32, ge=1, le=10_000)
    fetch_timeout: float = Field(default=120.0, gt=0, le=3600)


class NetworkConfig(_Strict):
    """Networks that URLs from platform or CRM data may reach although private (none by default)."""

    allow_private: list[str] = []

    @field_validator("allow_private")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for i, text in enumerate(value):
            try:
                parse_network(text)
            except ValueError as exc:
                raise ValueError(f"[{i}] {exc}") from None
        return value


class LoggingConfig(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class RouteConfig(_Strict):
    from_: list[str] = Field(alias="from", min_length=1)
    to: str
    minimise: MinimiseConfig | None = None


class RelayConfig(_Strict):
    server: ServerConfig = ServerConfig()
    workspace: WorkspaceConfig
    state: StateConfig = StateConfig()
    media: MediaConfig = MediaConfig()
    network: NetworkConfig = NetworkConfig()
    logging: LoggingConfig = LoggingConfig()
    connectors: dict[str, dict[str, Any]] = Field(min_length=1)
    routes: list[RouteConfig] = []
    consent: ConsentConfig = ConsentConfig()
    minimise: MinimiseConfig = MinimiseConfig()
    admin: AdminSettings = AdminSettings()
    tracing: TracingConfig | None = None
    config_store: StoreConfig = StoreConfig()
    disabled: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True, slots=True)
class Instance:
    name: str
    manifest: Manifest
    config: ConnectorConfig


@dataclass(frozen=True, slots=True)
class Loaded:
    """A validated workspace: the core settings and each connector instance with its config."""

    relay: RelayConfig
    instances: dict[str, Instance]
    source: str
    base: Path | None = None
    warnings: tuple[str, ...] = ()

    def crm_of(self) -> dict[str, str]:
        return {m: r.to for r in self.relay.routes for m in r.from_}

    def secrets(self) -> list[str]:
        """Every secret value, so the log redactor can mask it."""
        found = [k.secret.reveal() for k in self.relay.workspace.keys]
        found += [v.reveal() for v in _walk_secrets(self.relay.server)]
        for inst in self.instances.values():
            found += [v.reveal() for v in _walk_secrets(inst.config)]
        found += [v.reveal() for v in _walk_secrets(self.relay.state)]
        found += [v.reveal() for v in _walk_secrets(self.relay.admin)]
        if self.relay.tracing is not None:
            found += [v.reveal() for v in self.relay.tracing.headers.values()]
        for extra in (self.relay.consent.url, self.relay.consent.key):
            if extra is not None:
                found.append(extra.reveal())
        return found


def _walk_secrets(model: BaseModel) -> Iterator[Secret]:
    for value in model.__dict__.values():
        if isinstance(value, Secret):
            yield value
        elif isinstance(value, BaseModel):
            yield from _walk_secrets(value)


_INSTANCE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def _pydantic_problems(exc: ValidationError, prefix: str, model: type[BaseModel] | None = None) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        path = f"{prefix}{loc}" if loc else prefix.rstrip(".")
        if err["type"] == "extra_forbidden":
            known = list(model.model_fields) if model else []
            hint = registry.did_you_mean(str(err["loc"][-1]), known)
            out.append(f"{path}: unknown key{hint}; remove it or fix the spelling")
        elif err["type"] == "missing":
            out.append(f"{path}: required key is missing; add it")
        elif err["type"] in ("model_type", "dict_type"):
            out.append(f"{path}: must be a table ([{path}] or {{ key = value }}), not {type(err['input']).__name__}")
        else:
            out.append(f"{path}: {describe(err)}")
    return out


def _secrets_lookup(raw: dict[str, Any], base: Path | None, problems: list[str]) -> dict[str, str]:
    workspace = raw.get("workspace")
    name = workspace.get("secrets_file") if isinstance(workspace, dict) else None
    name = name or os.environ.get("RELAY_SECRETS_FILE")
    if not isinstance(name, str) or not name:
        return {}
    path = Path(name) if base is None or Path(name).is_absolute() else base / name
    if not path.exists():
        return {}
    try:
        return load_secrets(path, master_key())
    except SecretsFileError as exc:
        problems.append(f"workspace.secrets_file: {exc}")
        return {}


def parse(
    raw: dict[str, Any], source: str = "<config>", base: Path | None = None, secrets: Mapping[str, str] | None = None
) -> Loaded:
    """Validate a parsed TOML document (with `secrets`, else the secrets file's); raise ConfigError listing
    every problem."""
    problems: list[str] = []
    lookup = dict(secrets) if secrets is not None else _secrets_lookup(raw, base, problems)
    resolved = resolve(raw, "", lookup, problems)
    try:
        relay = RelayConfig.model_validate(resolved)
    except ValidationError as exc:
        top = [p for p in _pydantic_problems(exc, "") if not p.startswith("connectors.")]
        problems += top
        relay = None
    instances: dict[str, Instance] = {}
    connectors = resolved.get("connectors")
    for name, body in connectors.items() if isinstance(connectors, dict) else ():
        prefix = f"connectors.{name}"
        if not _INSTANCE.match(name):
            problems.append(f"{prefix}: instance names are lowercase letters, digits, '-' and '_' (max 32)")
        if not isinstance(body, dict) or "type" not in body:
            problems.append(f'{prefix}.type: required key is missing; add type = "<connector>"')
            continue
        try:
            manifest = registry.load(str(body["type"]))
        except KeyError as exc:
            problems.append(f"{prefix}.type: {exc.args[0]}")
            continue
        try:
            instances[name] = Instance(name, manifest, manifest.config.model_validate(body))
        except ValidationError as exc:
            problems += _pydantic_problems(exc, prefix + ".", manifest.config)
    problems += disallowed(resolved, file_allowlist(base))
    routes = relay.routes if relay is not None else routes_of(resolved, RouteConfig)
    if routes is not None:
        problems += check_routes(list(resolved["connectors"]), routes, instances)
    if relay is not None:
        problems += relay.admin.file_problems(base)
    if problems:
        raise ConfigError([f"{source}: {p}" for p in without_echoes(problems)])
    assert relay is not None
    return Loaded(relay, instances, source, base, tuple(f"{source}: {w}" for w in unrouted(relay.routes, instances)))


def load(path: Path) -> Loaded:
    """Read and validate a workspace config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the config file ({exc.strerror})"]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse(raw, str(path), path.parent)
