"""skillstream's settings: one model, read from the environment when asked.

Every setting has the ``SKILLSTREAM_`` prefix and ``__`` for nesting, e.g.
``SKILLSTREAM_TOPICS__PARTITIONS=8`` or ``SKILLSTREAM_DATABASE_URL=postgresql+psycopg://…``.
``KAFKA_BOOTSTRAP_SERVERS`` is honoured too, because every Kafka tool knows it.
Settings are built by ``load_settings()`` (never at import time), so a test or
a CLI flag can change the environment first.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from skillstream.errors import ConfigError

ENV_PREFIX: Final = "SKILLSTREAM_"

DEFAULT_LOCAL_BOOTSTRAP = "127.0.0.1:19092"
"""Where ``make kafka-up`` starts the local broker (see infra/kafka/kafka.sh)."""


_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}$")
_TOPIC = r"^[A-Za-z0-9._-]{1,249}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topics(_Section):
    """Topic names and partition counts. Change names per environment, never per run."""

    statements: str = Field(default="xapi.statements", pattern=_TOPIC)
    statements_dlq: str = Field(default="xapi.statements.dlq", pattern=_TOPIC)
    events: str = Field(default="learning.events", pattern=_TOPIC)
    catalog: str = Field(default="skills.catalog", pattern=_TOPIC)
    milestones: str = Field(default="career.milestones", pattern=_TOPIC)
    profiles: str = Field(default="learner.profiles", pattern=_TOPIC)
    milestones_dlq: str = Field(default="career.milestones.dlq", pattern=_TOPIC)
    erased: str = Field(default="learner.erased", pattern=_TOPIC)
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
    bootstrap_servers: str = Field(
        default=DEFAULT_LOCAL_BOOTSTRAP, description="host:port[,host:port…] of some brokers."
    )
    client_id: str = Field(default="skillstream", pattern=r"^[A-Za-z0-9._-]{1,200}$")
    request_timeout_ms: int = Field(default=30_000, ge=1_000)

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        servers = [part.strip() for part in value.split(",")]
        for server in servers:
            if not _HOST_PORT.match(server) or not 0 < int(server.rsplit(":", 1)[1]) < 65536:
                raise ValueError(
                    f"should be host:port[,host:port…] (e.g. 127.0.0.1:9092), not {server!r}"
                )
        return ",".join(servers)


class Webhook(_Section):
    """One subscriber of milestones over HTTP.

    ``url`` must be http:// or https:// with a host. The webhook sink refuses a
    loopback, private, link-local or otherwise non-public target unless
    ``allow_private`` is set (for a receiver on this host or a private network).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(description="http:// or https:// URL of the receiver.")
    secret: SecretStr
    kinds: tuple[str, ...] = Field(default=(), description="Milestone kinds; empty = all.")
    skills: tuple[str, ...] = Field(default=(), description="Skill ids; empty = all.")
    allow_private: bool = Field(
        default=False,
        description="Allow a loopback, private or link-local target (refused by default).",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str, info: Any) -> str:  # info: pydantic.ValidationInfo
        # The message never repeats the URL: its path or query may hold a token.
        import httpx

        who = f"subscriber {info.data['name']!r}: " if "name" in info.data else ""
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL:
            raise ValueError(f"{who}the url is not a valid URL (check its host and port)") from None
        if url.scheme not in ("http", "https"):
            scheme = f", not {url.scheme}://" if url.scheme else ""
            raise ValueError(f"{who}the url should start with http:// or https://{scheme}")
        host = url.raw_host.decode("ascii")
        if not host:
            raise ValueError(f"{who}the url names no host")
        if not re.fullmatch(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+", host):
            raise ValueError(f"{who}the url's host is not a valid host name or IP address")
        if url.port is not None and not 0 < url.port < 65536:
            raise ValueError(f"{who}the url's port should be 1 to 65535")
        return value


class Sinks(_Section):
    """How the SQL and webhook sinks batch, retry and give up (docs/sinks.md).

    ``retry_*`` is the backoff while a sink's store or Kafka is unavailable
    (retried without end, nothing committed) and between webhook attempts.
    ``webhook_max_elapsed_s`` is a subscriber's retry budget, a time: a milestone
    is retried until that long after its first attempt, then goes to the
    milestones dead-letter topic.
    """

    batch_size: int = Field(default=500, ge=1, le=50_000, description="Records per batch.")
    batch_wait_ms: int = Field(default=500, ge=0, description="Longest wait to fill a batch.")
    retry_initial_s: float = Field(default=0.5, gt=0, description="First backoff step.")
    retry_max_s: float = Field(default=30.0, gt=0, description="Longest backoff step.")
    shutdown_grace_s: float = Field(
        default=10.0, ge=0, description="How long a batch may finish after SIGTERM."
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="Per request.")
    webhook_max_elapsed_s: float = Field(
        default=60.0, ge=0, description="Retry budget per milestone, from its first attempt."
    )
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
    group_id: str = Field(
        default="skillstream",
        pattern=r"^[A-Za-z0-9._-]{1,200}$",
        description="Consumer group of the workers.",
    )
    store: Literal["rocksdb://", "memory://"] = Field(
        default="rocksdb://", description="faust table store: rocksdb:// or memory://"
    )
    data_dir: Path = Field(default=Path(".local/worker"), description="Worker state directory.")
    rules_file: Path | None = None
    catalog_file: Path | None = None
    vocabulary_file: Path | None = None
    xapi_version: str = Field(default="2.0.0", description="Rules used when nothing else says.")
    learner_key_secret: SecretStr = Field(
        default=SecretStr("skillstream-default-learner-key-secret"), min_length=16
    )
    database_url: str = "sqlite:///.local/skillstream.db"
    webhooks: tuple[Webhook, ...] = ()
    sinks: Sinks = Sinks()
    http_host: str = Field(default="127.0.0.1", min_length=1)
    http_port: int = Field(default=8080, ge=1, le=65535)
    http_username: str = Field(default="lms", pattern=r"^[^:\x00-\x1f]{1,128}$")
    http_password: SecretStr = Field(default=SecretStr("change-me"), min_length=8)
    ingest_batch: int = Field(default=5000, ge=1, description="Records per ingest poll.")
    profile_batch: int = Field(default=1000, ge=1, description="Records per profile batch.")
    profile_batch_ms: int = Field(default=50, ge=1, description="Longest wait to fill one.")
    worker_web_port: int = Field(default=6066, ge=1, le=65535)
    worker_stages: Literal["all", "ingest", "profiles"] = Field(
        default="all",
        description="Which stages a worker runs: both, or one (two processes use both cores).",
    )
    worker_web_host: str = Field(default="127.0.0.1", min_length=1)
    log_format: Literal["json", "human"] = "human"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: object) -> object:
        known = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        return value.upper() if isinstance(value, str) and value.upper() in known else value

    @field_validator("rules_file", "catalog_file", "vocabulary_file")
    @classmethod
    def _existing_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("is not a file" if value.exists() else "does not exist")
        return value

    @field_validator("data_dir")
    @classmethod
    def _folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError("exists and is not a folder")
        return value

    @field_validator("database_url")
    @classmethod
    def _sqlalchemy_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "is not a database URL (examples: sqlite:///.local/skillstream.db, "
                "postgresql+psycopg://user:password@host:5432/skillstream)"
            ) from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(
                f"names the database {url.get_backend_name()!r}: skillstream supports "
                "sqlite:/// and postgresql+psycopg://"
            )
        return value

    @field_validator("xapi_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if not re.fullmatch(r"(1\.0|2\.0)\.\d+", value):
            raise ValueError("should be 1.0.x or 2.0.x (e.g. 2.0.0)")
        return value

    @cached_property
    def learner_secret_bytes(self) -> bytes:
        return self.learner_key_secret.get_secret_value().encode("utf-8")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment.

    ``KAFKA_BOOTSTRAP_SERVERS`` applies when no ``SKILLSTREAM_KAFKA…`` variable
    (nor an override) names the broker: the project's own setting wins. A bad
    value is a ``ConfigError`` (exit 2) of one line naming each variable at
    fault and what it allows; the value itself is shown only for settings that
    cannot hold a secret.
    """
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(settings_problems(exc)) from None
    except SettingsError as exc:
        raise ConfigError(_unparsable(exc)) from None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    own = any(n == "SKILLSTREAM_KAFKA" or n.startswith("SKILLSTREAM_KAFKA__") for n in os.environ)
    if bootstrap and not own and "kafka" not in overrides:
        try:
            kafka = Kafka(bootstrap_servers=bootstrap)
        except ValidationError as exc:
            raise ConfigError(
                "KAFKA_BOOTSTRAP_SERVERS: " + exc.errors()[0]["msg"].removeprefix("Value error, ")
            ) from None
        settings = settings.model_copy(
            update={
                "kafka": settings.kafka.model_copy(
                    update={"bootstrap_servers": kafka.bootstrap_servers}
                )
            }
        )
    return settings


_SECRET_FIELDS: Final = frozenset(
    {"learner_key_secret", "http_password", "database_url", "webhooks"}
)
"""Settings whose values are never repeated in a message: they hold (or may hold) secrets."""

_SECTIONS: Final = frozenset(
    name
    for name, info in Settings.model_fields.items()
    if isinstance(info.annotation, type) and issubclass(info.annotation, _Section)
)

_PATTERN_WORDS: Final = {
    "http_username": "should be 1 to 128 characters without ':' (Basic authentication cannot carry one)",
    "*": "should be 1 to 249 letters, digits, '.', '_' or '-'",
}

_EXAMPLES: Final = {
    "webhooks": '[{"name": "crm", "url": "https://crm.example.com/hooks", "secret": "…"}]',
    "kafka": '{"bootstrap_servers": "broker:9092"}',
    "topics": '{"partitions": 8}',
    "sinks": '{"batch_size": 500}',
}


def _variable(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """(environment variable, path inside its JSON value) for a settings error location."""
    head = str(loc[0])
    if head in _SECTIONS and len(loc) > 1:
        nested = f"{ENV_PREFIX}{head}__{loc[1]}".upper()
        if nested.lower() in {
            k.lower() for k in os.environ
        } or f"{ENV_PREFIX}{head}".upper() not in {k.upper() for k in os.environ}:
            return nested, "".join(_step(p) for p in loc[2:])
    return f"{ENV_PREFIX}{head}".upper(), "".join(_step(p) for p in loc[1:])


def _step(part: int | str) -> str:
    return f"[{part}]" if isinstance(part, int) else f".{part}"


def settings_problems(exc: ValidationError) -> str:
    """One line: every variable at fault, with what it allows."""
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        variable, inside = _variable(loc) if loc else (ENV_PREFIX + "*", "")
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "string_pattern_mismatch":
            message = _PATTERN_WORDS.get(str(loc[-1]), _PATTERN_WORDS["*"])
        elif error["type"] == "too_short":
            message = f"should be at least {error.get('ctx', {}).get('min_length')} characters long"
        message = message[0].lower() + message[1:] if message else message
        shown = ""
        if loc and str(loc[0]) not in _SECRET_FIELDS and error["type"] != "missing":
            shown = "=" + repr(_short(error.get("input")))
        where = f" (at {inside.lstrip('.')})" if inside else ""
        problems.append(f"{variable}{shown}{where}: {message}")
    return "invalid settings: " + "; ".join(problems)


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 60:
        return value[:57] + "…"
    return value


def _unparsable(exc: SettingsError) -> str:
    found = re.search(r'field "([^"]+)"', str(exc))
    field = found.group(1) if found else "?"
    example = _EXAMPLES.get(field)
    shown = (
        ""
        if field in _SECRET_FIELDS
        else " (" + repr(_short(os.environ.get(f"{ENV_PREFIX}{field}".upper(), ""))) + ")"
    )
    text = f"invalid settings: {ENV_PREFIX}{field.upper()}{shown} is not valid JSON"
    if field in _SECRET_FIELDS:
        text += " (its value is not shown: it holds secrets)"
    if example:
        text += f"; expected e.g. {example}"
    return text
