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


class Sinks(_Section):
    """How the SQL and webhook sinks batch, retry and give up (docs/sinks.md).

    ``retry_*`` is the backoff while a sink's store or Kafka is unavailable
    (retried without end, nothing committed) and between webhook attempts.
    ``webhook_max_attempts`` and ``webhook_max_elapsed_s`` are a subscriber's
    retry budget; past it a milestone goes to the milestones dead-letter topic.
    """

    batch_size: int = Field(default=500, ge=1, le=50_000, description="Records per batch.")
    batch_wait_ms: int = Field(default=500, ge=0, description="Longest wait to fill a batch.")
    retry_initial_s: float = Field(default=0.5, gt=0, description="First backoff step.")
    retry_max_s: float = Field(default=30.0, gt=0, description="Longest backoff step.")
    shutdown_grace_s: float = Field(
        default=10.0, ge=0, description="How long a batch may finish after SIGTERM."
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="Per request.")
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_max_elapsed_s: float = Field(default=60.0, ge=0, description="Retry window per batch.")
    webhook_concurrency: int = Field(
        default=16, ge=1, description="Requests in flight per subscriber."
    )


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
    store: str = Field(
        default="rocksdb://", description="faust table store: rocksdb:// or memory://"
    )
    data_dir: Path = Field(default=Path(".local/worker"), description="Worker state directory.")
    rules_file: Path | None = None
    catalog_file: Path | None = None
    vocabulary_file: Path | None = None
    xapi_version: str = Field(default="2.0.0", description="Rules used when nothing else says.")
    learner_key_secret: SecretStr = SecretStr("skillstream-default-learner-key-secret")
    database_url: str = "sqlite:///.local/skillstream.db"
    webhooks: tuple[Webhook, ...] = ()
    sinks: Sinks = Sinks()
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    http_username: str = "lms"
    http_password: SecretStr = SecretStr("change-me")
    ingest_batch: int = Field(default=5000, ge=1, description="Records per ingest poll.")
    profile_batch: int = Field(default=1000, ge=1, description="Records per profile batch.")
    profile_batch_ms: int = Field(default=50, ge=1, description="Longest wait to fill one.")
    worker_web_port: int = Field(default=6066, ge=1, le=65535)
    worker_stages: Literal["all", "ingest", "profiles"] = Field(
        default="all",
        description="Which stages a worker runs: both, or one (two processes use both cores).",
    )
    worker_web_host: str = "127.0.0.1"
    log_format: Literal["json", "human"] = "human"
    log_level: str = "INFO"

    @field_validator("xapi_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if not (value.startswith(("1.0.", "2.0."))):
            raise ValueError("xapi_version must be 1.0.x or 2.0.x")
        return value

    @cached_property
    def learner_secret_bytes(self) -> bytes:
        return self.learner_key_secret.get_secret_value().encode("utf-8")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment.

    ``KAFKA_BOOTSTRAP_SERVERS`` applies when no ``SKILLSTREAM_KAFKA…`` variable
    (nor an override) names the broker: the project's own setting wins.
    """
    settings = Settings(**overrides)  # type: ignore[arg-type]
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    own = any(n == "SKILLSTREAM_KAFKA" or n.startswith("SKILLSTREAM_KAFKA__") for n in os.environ)
    if bootstrap and not own and "kafka" not in overrides:
        settings = settings.model_copy(
            update={"kafka": settings.kafka.model_copy(update={"bootstrap_servers": bootstrap})}
        )
    return settings
