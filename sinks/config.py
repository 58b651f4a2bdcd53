"""The sinks' own configuration: subscribers of the webhook sink, and how sinks batch and retry.

The application maps its settings onto these (``SKILLSTREAM_WEBHOOKS``,
``SKILLSTREAM_SINKS__*``); ``RunnerSettings`` is what the runner reads from whatever
configuration it is given, so nothing here imports the application.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from schemas.topology import Topics
from streams.kafka.connection import KafkaConnection


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class RunnerSettings(Protocol):
    """What a sink runner needs to know: where Kafka is, the topics, the group, the options."""

    @property
    def kafka(self) -> KafkaConnection: ...

    @property
    def topics(self) -> Topics: ...

    @property
    def group_id(self) -> str: ...

    @property
    def sinks(self) -> Sinks: ...
