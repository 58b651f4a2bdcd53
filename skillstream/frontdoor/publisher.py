"""Producing accepted statements to Kafka before the front door answers.

The front door answers 200/204 only once every statement of the request is
acknowledged by all in-sync replicas (``acks=all``, idempotent producer): an
LMS that got a 200 may forget the statements. When Kafka does not acknowledge
within ``timeout_s`` the request is answered 503 naming the broker; some of
its statements may have been written all the same, which is harmless because
a retry carries the same ids (see ``statements.py``) and the pipeline drops
statement ids it has already applied.

One producer serves the app for its whole life (started and stopped by the
FastAPI lifespan): a producer per request would cost a broker connection and
a metadata round trip per request and defeat batching across requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from skillstream.errors import ServiceUnavailable
from skillstream.frontdoor.statements import VERSION_HEADER, Outgoing

HINT: Final = "is the broker running? SKILLSTREAM_KAFKA__BOOTSTRAP_SERVERS chooses it"


class Publisher(Protocol):
    """What the app needs from Kafka; tests pass a fake with the same shape."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, records: Sequence[Outgoing], version: str) -> None: ...

    async def check(self, timeout_s: float) -> str:
        """A one-line description of what answered; raises ``ServiceUnavailable`` if nothing."""
        ...


def _settled(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()


class KafkaPublisher:
    """Produces to the statements topic with one long-lived ``AIOKafkaProducer``."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        timeout_s: float = 10.0,
        linger_ms: int = 0,
        client_id: str = "skillstream-frontdoor",
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout_s = timeout_s
        self._linger_ms = linger_ms
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    def _unavailable(self, problem: str) -> ServiceUnavailable:
        return ServiceUnavailable(f"Kafka at {self.bootstrap}", problem, HINT)

    async def start(self) -> None:
        """Connect; a second call is a no-op. Raises ``ServiceUnavailable`` naming the broker."""
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=self._linger_ms,
            request_timeout_ms=max(int(self.timeout_s * 1000), 1000),
        )
        try:
            await producer.start()
        except (KafkaError, OSError) as exc:
            await producer.stop()
            raise self._unavailable(f"cannot connect: {exc}") from exc
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def publish(self, records: Sequence[Outgoing], version: str) -> None:
        """Produce ``records`` in order and wait until every one is acknowledged (acks=all)."""
        producer = self._producer
        if producer is None:
            raise self._unavailable("the front door's producer is not started")
        if not records:
            return
        headers = [(VERSION_HEADER, version.encode("utf-8"))]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        try:
            async with asyncio.timeout(self.timeout_s):
                futures = [
                    await producer.send(self.topic, r.value, key=r.key, headers=headers)
                    for r in records
                ]
            done, pending = await asyncio.wait(futures, timeout=max(deadline - loop.time(), 0))
        except TimeoutError as exc:
            raise self._unavailable(
                f"no room to queue {len(records)} statement(s) within {self.timeout_s:g}s"
            ) from exc
        except (KafkaError, OSError) as exc:
            raise self._unavailable(f"could not produce to {self.topic}: {exc}") from exc
        if pending:
            for future in pending:  # settled later: retrieve the outcome so none goes unheard
                future.add_done_callback(_settled)
            raise self._unavailable(
                f"{len(pending)} of {len(records)} statement(s) not acknowledged by the in-sync "
                f"replicas of {self.topic} within {self.timeout_s:g}s"
            )
        for future in done:
            failure = future.exception()
            if failure is not None:
                raise self._unavailable(f"{self.topic} refused a statement: {failure}") from failure

    async def check(self, timeout_s: float) -> str:
        """Fetch cluster metadata; the statements topic must exist. Raises if not in time."""
        producer = self._producer
        if producer is None:
            raise self._unavailable("the front door's producer is not started")
        try:
            async with asyncio.timeout(timeout_s):
                metadata = await producer.client.fetch_all_metadata()
        except TimeoutError as exc:
            raise self._unavailable(f"no metadata within {timeout_s:g}s") from exc
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            raise self._unavailable(str(exc)) from exc
        if self.topic not in metadata.topics():
            raise self._unavailable(
                f"topic {self.topic} does not exist (create it: skillstream topics create)"
            )
        return f"{len(metadata.brokers())} broker(s), topic {self.topic} present"
