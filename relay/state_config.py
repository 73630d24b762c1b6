"""The `[state]` section: the state store (memory, or Redis: one server, Sentinel or Cluster) and its limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from relay.secret import Secret
from relay.sentinel_config import cluster_settings_problem, sentinel_settings_problem


class StateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    backend: Literal["memory", "redis"] = "memory"
    url: Secret | None = None
    dedup_ttl: float = Field(default=7 * 24 * 3600.0, gt=0)
    claim_ttl: float = Field(default=10.0, ge=1, le=300)
    max_entries: int = Field(default=200_000, ge=1000)
    assume_no_persistence: bool = False
    sentinels: list[str] = []
    cluster: list[str] = []
    service_name: str | None = None
    password: Secret | None = None
    sentinel_password: Secret | None = None
    db: int = Field(default=0, ge=0, le=15)

    @model_validator(mode="after")
    def _backend_settings(self) -> StateConfig:
        if problem := sentinel_settings_problem(self.sentinels, self.service_name, self.url is not None):
            raise ValueError(problem)
        if problem := cluster_settings_problem(self.cluster, self.url is not None, bool(self.sentinels), self.db):
            raise ValueError(problem)
        if self.backend == "redis" and self.url is None and not self.sentinels and not self.cluster:
            raise ValueError('backend "redis" needs url = "redis://host:6379/0" (or "${REDIS_URL}")')
        if self.backend == "memory" and self.url is not None:
            raise ValueError('url is for backend = "redis"; remove it or set backend = "redis"')
        if self.backend == "memory" and self.sentinels:
            raise ValueError('sentinels are for backend = "redis"; remove them or set backend = "redis"')
        if self.backend == "memory" and self.cluster:
            raise ValueError('cluster is for backend = "redis"; remove it or set backend = "redis"')
        if self.backend == "memory" and self.assume_no_persistence:
            raise ValueError('assume_no_persistence is for backend = "redis"; remove it')
        if self.backend == "redis" and "max_entries" in self.model_fields_set:
            raise ValueError(
                "max_entries bounds the memory backend only; remove it (Redis is bounded by its maxmemory)"
            )
        return self
