"""The hot stages' producer: librdkafka (confluent-kafka) behind the batch loop's ``Producer``.

Ingest and the profile stage produce about one record per statement. aiokafka builds each
record batch in Python (measured 10.6–11.1 µs per record on this project's build machine);
librdkafka does it in C threads (2.1 µs), so these two stages produce through it while
every other client stays on aiokafka. The stages do not see the difference: ``send``
returns, like aiokafka's, an awaitable that resolves to the record's ``Delivered``
metadata (topic, partition, offset), or raises ``DeliveryFailed``.

How deliveries reach the event loop: librdkafka reports each record's acknowledgement
when ``poll`` is called, on the thread that calls it. A task of the event loop calls
``poll(0)`` (it never blocks) while records are in flight — every millisecond when
nothing came back, at once when something did — and sleeps on an event when none are,
so the reports resolve their futures on the loop itself, with no thread hand-over.

Settings kept from the aiokafka producers they replace: ``acks=all``, keys partitioned
with murmur2 modulo the partition count (Java's and aiokafka's default partitioner: the
same partition for the same key), records of one partition kept in order (idempotent
producer), 5 ms linger, 1 MiB batches, ``MAX_REQUEST_BYTES`` per request. A delivery that
fails after librdkafka's own retries fails the batch: the loop ends and the stage starts
again from its last commit, as for any other Kafka error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiokafka.errors import KafkaError as AIOKafkaError

from streams.kafka.batch_loop import Produce
from streams.kafka.connection import KafkaConnection
from streams.kafka.limits import MAX_REQUEST_BYTES

log = logging.getLogger(__name__)

POLL_IDLE_S = 0.001
"""How long the delivery task waits before polling again when a poll found nothing."""


STOP_FLUSH_S = 5.0
"""How long ``stop`` waits for records in flight."""


class DeliveryFailed(AIOKafkaError):  # type: ignore[misc]
    """librdkafka could not deliver a record (after its retries) or the producer failed.

    A ``KafkaError`` of aiokafka's kind, so the worker's supervisor treats it like every
    other lost connection: the stage starts again from its last commit."""


@dataclass(slots=True, frozen=True)
class Delivered:
    """Where an acknowledged record was written."""

    topic: str
    partition: int
    offset: int


class RdProducer:
    """The batch loop's ``Producer`` on librdkafka; ``start`` before ``send``, ``stop`` after."""

    def __init__(
        self,
        kafka: KafkaConnection,
        client: str,
        *,
        linger_ms: int = 5,
        batch_bytes: int = 1024 * 1024,
    ) -> None:
        self.kafka = kafka
        self._config: dict[str, Any] = {
            **kafka.librdkafka(client),
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
            "linger.ms": linger_ms,
            "batch.size": batch_bytes,
            "message.max.bytes": MAX_REQUEST_BYTES,
            "queue.buffering.max.kbytes": 256 * 1024,
            "request.timeout.ms": kafka.request_timeout_ms,
            "socket.nagle.disable": True,  # as asyncio's sockets: no wait for the last ACK
            # A record not acknowledged by then fails its batch (the stage restarts from its
            # last commit) rather than waiting librdkafka's default five minutes.
            "delivery.timeout.ms": 2 * kafka.request_timeout_ms,
            "error_cb": self._on_error,
        }
        self._producer: Any = None
        self._poller: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._failed: BaseException | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the client and ask the cluster for its metadata: an unreachable cluster,
        refused credentials or an untrusted certificate fail here, as aiokafka's start does."""
        from confluent_kafka import KafkaException, Producer

        self._producer = Producer(self._config)
        timeout = self.kafka.request_timeout_ms / 1000
        try:
            await asyncio.to_thread(self._producer.list_topics, timeout=timeout)
        except KafkaException as exc:
            self._producer = None
            raise DeliveryFailed(
                f"{self.kafka.bootstrap_servers}: {exc.args[0].str() if exc.args else exc}"
            ) from None
        if self._failed is not None:
            raise self._failed
        self._poller = asyncio.get_running_loop().create_task(self._deliveries())

    async def stop(self) -> None:
        """Give what is in flight a few seconds, then close. Nothing depends on it: the
        batch loop commits a batch only once its records are acknowledged, so a record
        dropped here is produced again after the restart."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            await asyncio.to_thread(producer.flush, STOP_FLUSH_S)
            producer.poll(0)  # the last reports, on this loop
        finally:
            if self._poller is not None:
                self._poller.cancel()
                await asyncio.gather(self._poller, return_exceptions=True)
                self._poller = None

    # --- producing -----------------------------------------------------------------------------

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Delivered]:
        """Queue one record; the awaitable returned resolves once the brokers acknowledged it."""
        producer = self._ready()
        future: asyncio.Future[Delivered] = asyncio.get_running_loop().create_future()

        def delivered(error: Any, message: Any) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(DeliveryFailed(f"{topic}: {error.str()}"))
            else:
                future.set_result(Delivered(message.topic(), message.partition(), message.offset()))

        options = _options(delivered, partition, headers)
        if timestamp_ms is not None:
            options["timestamp"] = timestamp_ms
        try:
            producer.produce(topic, value, key, **options)
        except BufferError:
            await _when_room(producer, topic, value, key, options)
        self._wake.set()
        return future

    async def send_many(self, records: Sequence[Produce]) -> Awaitable[list[Delivered]]:
        """Queue records in order; the one awaitable returned resolves, once the brokers
        acknowledged every one, to their ``Delivered`` in the order given (or raises the
        first failure). What the batch loop calls: one future and one callback per batch
        rather than per record, which the loop would then gather."""
        producer = self._ready()
        done: asyncio.Future[list[Delivered]] = asyncio.get_running_loop().create_future()
        metas: list[Any] = [None] * len(records)
        left = [len(records)]

        def delivered(index: int, error: Any, message: Any) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(DeliveryFailed(f"{message.topic()}: {error.str()}"))
                return
            metas[index] = Delivered(message.topic(), message.partition(), message.offset())
            left[0] -= 1
            if not left[0]:
                done.set_result(metas)

        if not records:
            done.set_result(metas)
            return done
        produce = producer.produce
        for index, r in enumerate(records):
            options = _options(partial(delivered, index), r.partition, r.headers)
            try:
                produce(r.topic, r.value, r.key, **options)
            except BufferError:
                await _when_room(producer, r.topic, r.value, r.key, options)
        self._wake.set()
        return done

    def _ready(self) -> Any:
        if self._failed is not None:
            raise self._failed
        producer = self._producer
        if producer is None:
            raise DeliveryFailed("the producer is not started")
        return producer

    async def _deliveries(self) -> None:
        producer = self._producer
        while producer is not None:
            served = producer.poll(0)
            if len(producer) == 0:
                self._wake.clear()
                await self._wake.wait()
            elif served == 0:
                await asyncio.sleep(POLL_IDLE_S)
            else:
                await asyncio.sleep(0)
            producer = self._producer

    def _on_error(self, error: Any) -> None:
        """librdkafka's errors that are not about one record: fatal ones fail the producer
        (the stage restarts); the others (a broker that went away) librdkafka retries."""
        if error.fatal():
            self._failed = DeliveryFailed(f"{self.kafka.bootstrap_servers}: {error.str()}")
            self._wake.set()
        else:
            log.warning("producing to %s: %s (retrying)", self.kafka.bootstrap_servers, error.str())


def _options(
    on_delivery: Callable[[Any, Any], None],
    partition: int | None,
    headers: list[tuple[str, bytes]] | None,
) -> dict[str, Any]:
    """``Producer.produce``'s keyword arguments for one record."""
    options: dict[str, Any] = {"on_delivery": on_delivery}
    if partition is not None:
        options["partition"] = partition
    if headers:
        options["headers"] = headers
    return options


async def _when_room(
    producer: Any, topic: str, value: bytes | None, key: bytes | None, options: dict[str, Any]
) -> None:
    """Produce once librdkafka's queue, full now, has room: acknowledgements drain it."""
    while True:
        producer.poll(0)
        await asyncio.sleep(POLL_IDLE_S)
        try:
            producer.produce(topic, value, key, **options)
            return
        except BufferError:
            continue
