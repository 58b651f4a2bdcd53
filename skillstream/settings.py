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

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from schemas.topology import Topics
from sinks.config import Sinks, Webhook
from skillstream.errors import ConfigError
from streams.kafka.connection import KafkaConnection

ENV_PREFIX: Final = "SKILLSTREAM_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SKILLSTREAM_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
    )

    kafka: KafkaConnection = KafkaConnection()
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
    batch_budget_ms: int = Field(
        default=100,
        ge=1,
        description="Time a stage's batch should take: fetches are sized to it, so a batch "
        "under load never grows past what keeps latency low.",
    )
    profile_flush_ms: int = Field(
        default=500,
        ge=1,
        description="How often the profile stage writes back the states, changelog records and "
        "snapshots of the learners its batches changed (and commits).",
    )
    profile_cache: int = Field(
        default=50_000,
        ge=0,
        description="Decoded profile states the profile stage keeps in memory per partition "
        "(least recently used evicted first); about 13 KB each for a learner active for months.",
    )
    worker_web_port: int = Field(default=6066, ge=1, le=65535)
    worker_stages: Literal["all", "ingest", "profiles"] = Field(
        default="all", description="Which stages a worker runs: both (default), or one."
    )
    worker_processes: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Worker processes per `skillstream worker` (default: one per core).",
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
            kafka = KafkaConnection(bootstrap_servers=bootstrap)
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
    if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
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
        secret = any(
            str(part) in _SECRET_FIELDS or "password" in str(part) or "secret" in str(part)
            for part in loc
        )
        if loc and not secret and error["type"] != "missing":
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
