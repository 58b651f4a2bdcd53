"""Which Kafka broker tests, the demo and the benchmark run on — decided here only.

1. ``KAFKA_BOOTSTRAP_SERVERS`` if set: an existing broker; nothing is started.
2. Else a testcontainers Kafka (``apache/kafka``, KRaft) when a Docker engine answers.
3. Else the local broker of ``infra/kafka/kafka.sh`` (Apache Kafka from Maven
   Central on Java 17), started if it is not running.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from skillstream.errors import ServiceUnavailable

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = REPO_ROOT / "infra" / "kafka" / "kafka.sh"
KAFKA_IMAGE = "apache/kafka:4.1.1"


@dataclass
class Broker:
    bootstrap: str
    origin: Literal["env", "testcontainers", "local"]
    _container: Any = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop what this module started for a test session (a container only).

        The local broker is left running: it is cheap to keep, and
        ``make kafka-down`` stops it.
        """
        if self._container is not None:
            self._container.stop()
            self._container = None


def docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
    except Exception:  # noqa: BLE001 - any failure means "no engine to use"
        return False
    return True


def _start_testcontainer() -> Broker:
    from testcontainers.kafka import KafkaContainer

    container = KafkaContainer(KAFKA_IMAGE).with_kraft()
    container.start()
    return Broker(container.get_bootstrap_server(), "testcontainers", container)


def _start_local() -> Broker:
    if not KAFKA_SCRIPT.exists():
        raise ServiceUnavailable(
            "Kafka",
            "no broker given",
            "set KAFKA_BOOTSTRAP_SERVERS, or run from a skillstream checkout "
            "where `make kafka-up` starts a local broker",
        )
    proc = subprocess.run(
        ["bash", str(KAFKA_SCRIPT), "up"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise ServiceUnavailable(
            "Kafka", "the local broker did not start", proc.stderr.strip() or proc.stdout.strip()
        )
    return Broker(proc.stdout.strip().splitlines()[-1], "local")


def ensure_broker() -> Broker:
    """Find or start a broker, following the order in the module docstring."""
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        return Broker(env, "env")
    if docker_engine_answers():
        return _start_testcontainer()
    return _start_local()


async def wait_for_metadata(bootstrap: str, timeout: float = 60.0) -> None:
    """Wait until the broker serves cluster metadata and consumer groups (port open is
    not enough: a new cluster creates its offsets topic on the first group request)."""
    from aiokafka.admin import AIOKafkaAdminClient

    deadline = asyncio.get_running_loop().time() + timeout
    last: Exception | None = None
    while asyncio.get_running_loop().time() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.describe_cluster()
            await admin.find_coordinator("skillstream-readiness")
            return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
            await asyncio.sleep(0.5)
        finally:
            await admin.close()
    raise ServiceUnavailable(
        "Kafka", f"{bootstrap} did not serve metadata and groups in {timeout:.0f}s", str(last)
    )
