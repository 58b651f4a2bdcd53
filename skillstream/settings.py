"""skillstream's settings: one model, read from the environment when asked.

Every setting has the ``SKILLSTREAM_`` prefix and ``__`` for nesting, e.g.
``SKILLSTREAM_TOPICS__PARTITIONS=8`` or ``SKILLSTREAM_DATABASE_URL=postgresql+psycopg://…``.
``KAFKA_BOOTSTRAP_SERVERS`` is honoured too, because every Kafka tool knows it.
Settings are built by ``load_settings()`` (never at import time), so a test or
a CLI flag can change the environment first.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_LOCAL_BOOTSTRAP = "127.0.0.1:19092"
"""Where ``make kafka-up`` starts the local broker (see infra/kafka/kafka.sh)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topics(_Section):
    """Topic names and partition counts. Change names per environment, never per run."""

    statements: str = "xapi.statements"
    statements_dlq: str = "xapi.statements.dlq"
    events: str = "learning.events"
    catalog: str = "skills.catalog"
    milestones: str = "career.milestones"
    profiles: str = "learner.profiles"
    milestones_dlq: str = "career.milestones.dlq"
    erased: str = "learner.erased"
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1)

    def all_names(self) -> tuple[str, ...]:
        return (
            self.statements,
            self.statements_dlq,
            self.events,
            self.catalog,
            self.milestones,
            self.profiles,
            self.milestones_dlq,
            self.erased,
        )

    def compacted(self) -> frozenset[str]:
        return frozenset({self.catalog, self.profiles})

    def prefixed(self, prefix: str) -> Topics:
        """The same layout under a prefix: how tests keep runs apart."""
        names = {
            name: f"{prefix}{getattr(self, name)}"
            for name in (
                "statements",
                "statements_dlq",
                "events",
                "catalog",
                "milestones",
                "profiles",
                "milestones_dlq",
                "erased",
            )
        }
        return self.model_copy(update=names)


class Kafka(_Section):
    bootstrap_servers: str = DEFAULT_LOCAL_BOOTSTRAP
    client_id: str = "skillstream"
    request_timeout_ms: int = Field(default=30_000, ge=1_000)


class Webhook(_Section):
    """One subscriber of milestones over HTTP."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    url: str
    secret: SecretStr
    kinds: tuple[str, ...] = Field(default=(), description="Milestone kinds; empty = all.")
    skills: tuple[str, ...] = Field(default=(), description="Skill ids; empty = all.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SKILLSTREAM_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
    )

    kafka: Kafka = Kafka()
    topics: Topics = Topics()
    group_id: str = Field(default="skillstream", description="Consumer group of the workers.")
    store: str = Field(default="rocksdb://", description="faust table store: rocksdb:// or memory://")
    data_dir: Path = Field(default=Path(".local/worker"), description="Worker state directory.")
    rules_file: Path | None = None
    catalog_file: Path | None = None
    vocabulary_file: Path | None = None
    xapi_version: str = Field(default="2.0.0", description="Rules used when nothing else says.")
    learner_key_secret: SecretStr = SecretStr("skillstream-default-learner-key-secret")
    database_url: str = "sqlite:///.local/skillstream.db"
    webhooks: tuple[Webhook, ...] = ()
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    http_username: str = "lms"
    http_password: SecretStr = SecretStr("change-me")
    log_format: Literal["json", "human"] = "human"
    log_level: str = "INFO"

    @field_validator("xapi_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if not (value.startswith("1.0.") or value.startswith("2.0.")):
            raise ValueError("xapi_version must be 1.0.x or 2.0.x")
        return value

    @cached_property
    def learner_secret_bytes(self) -> bytes:
        return self.learner_key_secret.get_secret_value().encode("utf-8")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; ``KAFKA_BOOTSTRAP_SERVERS`` wins if set."""
    settings = Settings(**overrides)  # type: ignore[arg-type]
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if bootstrap and "kafka" not in overrides:
        settings = settings.model_copy(
            update={"kafka": settings.kafka.model_copy(update={"bootstrap_servers": bootstrap})}
        )
    return settings
