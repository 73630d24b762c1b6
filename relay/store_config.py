"""The `[config_store]` section: where the workspace's configuration lives (files, or PostgreSQL for replicas)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from relay.secret import Secret


class StoreConfig(BaseModel):
    """`backend = "file"` (this TOML file and the secrets file) or `"postgres"` (one document all replicas read)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["file", "postgres"] = "file"
    dsn: Secret | None = None
    schema_name: str = Field(default="public", alias="schema", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    keep: int = Field(default=10, ge=2, le=1000)

    @model_validator(mode="after")
    def _backend_settings(self) -> StoreConfig:
        if self.backend == "postgres" and self.dsn is None:
            raise ValueError(
                'backend "postgres" needs dsn = "postgresql://user@host:5432/db" (or "${RELAY_CONFIG_DSN}")'
            )
        if self.backend == "file" and self.dsn is not None:
            raise ValueError('dsn is for backend = "postgres"; remove it or set backend = "postgres"')
        return self
