"""One connection configuration for every Kafka client skillstream makes.

Workers, sinks, operator commands, the front door, the benchmark and the tests all build
their aiokafka consumers, producers and admin clients from a ``KafkaConnection``
(``consumer``, ``producer``, ``admin``), and the restore of profile state its librdkafka
consumer (``librdkafka``: the same settings in librdkafka's names), so a cluster that needs
TLS or SASL is reached the same way by all of them:

* ``security_protocol``: ``PLAINTEXT``, ``SSL``, ``SASL_PLAINTEXT`` or ``SASL_SSL``;
* ``sasl_mechanism``: ``PLAIN``, ``SCRAM-SHA-256`` or ``SCRAM-SHA-512`` with
  ``sasl_username`` / ``sasl_password`` (aiokafka also speaks ``OAUTHBEARER``, but it needs a
  token provider object, which a setting cannot carry — see docs/security.md);
* ``ssl_cafile`` (the CA that signed the brokers' certificates; the system's CAs when
  unset), ``ssl_certfile`` / ``ssl_keyfile`` (a client certificate, for mutual TLS) and
  ``ssl_check_hostname``.

Secrets are ``SecretStr``: never in ``repr``, logs or messages. ``check`` connects once
and turns what can go wrong into one ``ServiceUnavailable`` that names the brokers and the
cause (refused connection, wrong credentials, an untrusted certificate).
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from pathlib import Path
from typing import Any, Final, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.helpers import create_ssl_context
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from streams.errors import ServiceUnavailable

DEFAULT_LOCAL_BOOTSTRAP: Final = "127.0.0.1:19092"
"""Where ``make kafka-up`` starts the local broker (see infra/kafka/kafka.sh)."""

_HOST_PORT: Final = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}$")
_START_HINT: Final = (
    "start one with `make kafka-up`, or point KAFKA_BOOTSTRAP_SERVERS / "
    "SKILLSTREAM_KAFKA__BOOTSTRAP_SERVERS at a running cluster"
)

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaConnection(BaseModel):
    """How to reach the Kafka cluster (``SKILLSTREAM_KAFKA__*``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bootstrap_servers: str = Field(
        default=DEFAULT_LOCAL_BOOTSTRAP, description="host:port[,host:port…] of some brokers."
    )
    client_id: str = Field(default="skillstream", pattern=r"^[A-Za-z0-9._-]{1,200}$")
    request_timeout_ms: int = Field(default=30_000, ge=1_000)
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "PLAIN"
    sasl_username: str | None = Field(default=None, min_length=1)
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True

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

    @field_validator("sasl_username", "sasl_password")
    @classmethod
    def _only_with_sasl(cls, value: object, info: ValidationInfo) -> object:
        protocol = info.data.get("security_protocol", "PLAINTEXT")
        if value is not None and not str(protocol).startswith("SASL_"):
            raise ValueError(
                f"is set, but security_protocol is {protocol}: choose SASL_SSL (or "
                "SASL_PLAINTEXT) to use it"
            )
        return value

    @field_validator("ssl_cafile", "ssl_certfile", "ssl_keyfile")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("is not a file" if value.exists() else "does not exist")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> KafkaConnection:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and (self.sasl_username is None or self.sasl_password is None):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_username and "
                "sasl_password (SKILLSTREAM_KAFKA__SASL_USERNAME / __SASL_PASSWORD)"
            )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("a client certificate needs both ssl_certfile and ssl_keyfile")
        return self

    # --- clients ---------------------------------------------------------------------------

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(self.ssl_cafile) if self.ssl_cafile else None,
            certfile=str(self.ssl_certfile) if self.ssl_certfile else None,
            keyfile=str(self.ssl_keyfile) if self.ssl_keyfile else None,
        )
        context.check_hostname = self.ssl_check_hostname
        return context

    def options(self, client: str = "") -> dict[str, Any]:
        """The keyword arguments every aiokafka client takes to reach the cluster (a client's
        own options, such as a shorter ``request_timeout_ms``, override them)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": f"{self.client_id}-{client}" if client else self.client_id,
            "request_timeout_ms": self.request_timeout_ms,
            "security_protocol": self.security_protocol,
        }
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.security_protocol.startswith("SASL_"):
            assert self.sasl_password is not None
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password.get_secret_value()
        return options

    def librdkafka(self, client: str = "") -> dict[str, Any]:
        """The same connection as configuration for a librdkafka client (confluent-kafka):
        what ``options`` gives aiokafka, in librdkafka's names. Without ``ssl_cafile`` the
        system's CA certificates are used, as aiokafka does."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": f"{self.client_id}-{client}" if client else self.client_id,
            "socket.timeout.ms": self.request_timeout_ms,
            "security.protocol": self.security_protocol,
        }
        if self.uses_tls:
            config["ssl.ca.location"] = str(self.ssl_cafile) if self.ssl_cafile else "probe"
            if self.ssl_certfile is not None and self.ssl_keyfile is not None:
                config["ssl.certificate.location"] = str(self.ssl_certfile)
                config["ssl.key.location"] = str(self.ssl_keyfile)
            config["ssl.endpoint.identification.algorithm"] = (
                "https" if self.ssl_check_hostname else "none"
            )
        if self.security_protocol.startswith("SASL_"):
            assert self.sasl_password is not None
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username
            config["sasl.password"] = self.sasl_password.get_secret_value()
        return config

    def consumer(
        self, *topics: str, client: str = "", **options: Any
    ) -> AIOKafkaConsumer[bytes, bytes]:
        return AIOKafkaConsumer(*topics, **{**self.options(client), **options})

    def producer(self, *, client: str = "", **options: Any) -> AIOKafkaProducer[bytes, bytes]:
        return AIOKafkaProducer(**{**self.options(client), **options})

    def admin(self, *, client: str = "", **options: Any) -> AIOKafkaAdminClient:
        return AIOKafkaAdminClient(**{**self.options(client or "admin"), **options})

    async def partitions(self, topic: str) -> list[int] | None:
        """The partitions of ``topic``, or None when the cluster has no such topic."""
        admin = self.admin(client="metadata")
        try:
            await admin.start()
            [found] = await admin.describe_topics([topic])
        finally:
            await admin.close()
        if found["error_code"] != 0 or not found["partitions"]:
            return None
        return sorted(int(p["partition"]) for p in found["partitions"])

    # --- checking --------------------------------------------------------------------------

    def check_reachable(self, timeout: float = 5.0) -> None:
        """Raise ``ServiceUnavailable`` naming the brokers if none accepts a TCP connection."""
        errors = []
        for server in self.bootstrap_servers.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                with socket.create_connection(
                    (host.strip("[]") or "127.0.0.1", int(port)), timeout
                ):
                    return
            except (OSError, ValueError) as exc:
                errors.append(f"{server}: {exc}")
        raise ServiceUnavailable(
            "Kafka",
            f"no broker answers at {self.bootstrap_servers} ({'; '.join(errors)})",
            _START_HINT,
        )

    async def check(self, timeout: float = 20.0) -> None:
        """Connect once (TCP, then TLS and SASL if configured) and ask for the cluster's
        metadata; ``ServiceUnavailable`` naming the brokers and the cause otherwise."""
        self.check_reachable()
        admin = self.admin(client="check")
        try:
            await asyncio.wait_for(admin.start(), timeout)
            await asyncio.wait_for(admin.describe_cluster(), timeout)
        except (KafkaError, OSError, ssl.SSLError, TimeoutError) as exc:
            raise self.unavailable(await self._cause(exc)) from None
        finally:
            await admin.close()

    async def _cause(self, exc: BaseException) -> BaseException:
        """The reason behind aiokafka's "Unable to bootstrap", which it only logs: one
        connection of our own to the first broker, with the same TLS and SASL options."""
        given: BaseException = exc
        if not isinstance(exc, KafkaConnectionError):
            return given
        host, _, port = self.bootstrap_servers.split(",")[0].rpartition(":")
        options = self.options()
        for key in ("bootstrap_servers", "client_id"):
            options.pop(key)
        try:
            conn = await asyncio.wait_for(
                create_conn(host.strip("[]"), int(port), client_id=self.client_id, **options),
                self.request_timeout_ms / 1000,
            )
        except (KafkaError, OSError, ssl.SSLError, TimeoutError) as found:
            cause: BaseException = found
            return cause
        conn.close()
        return given

    def unavailable(self, exc: BaseException) -> ServiceUnavailable:
        """The error to report when a client of this connection failed with ``exc``."""
        problem, hint = describe_failure(exc, self)
        return ServiceUnavailable("Kafka", f"{self.bootstrap_servers}: {problem}", hint)


def connection(kafka: KafkaConnection | str) -> KafkaConnection:
    """``kafka`` itself, or a plaintext connection to the bootstrap servers a string names
    (tests and tools that only have an address)."""
    return kafka if isinstance(kafka, KafkaConnection) else KafkaConnection(bootstrap_servers=kafka)


def describe_failure(exc: BaseException, connection: KafkaConnection) -> tuple[str, str]:
    """What went wrong connecting, and what to do about it, in words an operator can act on."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    chain = [exc, exc.__cause__, exc.__context__]
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or (
        "certificate_verify_failed" in text.lower().replace(" ", "_")
    ):
        where = connection.ssl_cafile or "the system's CA certificates"
        return (
            f"the broker's TLS certificate is not trusted by {where} ({text})",
            "set SKILLSTREAM_KAFKA__SSL_CAFILE to the CA that signed the brokers' certificates",
        )
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return (
            f"the TLS handshake failed ({text})",
            "is this listener TLS? SKILLSTREAM_KAFKA__SECURITY_PROTOCOL must match it",
        )
    if "authentication" in text.lower() or "sasl" in text.lower():
        return (
            f"the broker refused the {connection.sasl_mechanism} credentials of user "
            f"{connection.sasl_username!r} ({text})",
            "check SKILLSTREAM_KAFKA__SASL_USERNAME, __SASL_PASSWORD and __SASL_MECHANISM",
        )
    return text, _START_HINT
