"""The ingest stage: ``xapi.statements`` → ``learning.events`` and the dead-letter topic.

Ingest is stateless, so it runs as a bulk loop on aiokafka inside the worker
rather than as a faust stream: faust pays on the order of 100 µs of event-loop
hand-off per record, more than validating and normalizing a statement costs,
and this stage sees every statement (see the README's "Why ingest is not a
faust agent").

One batch, in this order — the commit order of the ingest stage:

1. ``getmany`` a batch of records (its own consumer group, ``<group>-ingest``,
   auto-commit off);
2. validate and normalize each record (``streams.pipeline.Ingest``);
3. produce one ``learning.events`` record per learner in the batch (the
   learner's events in input order, keyed by learner; split across as many
   records as the topic's ``max.message.bytes`` requires), and one dead letter
   per invalid record (cut down to fit its topic, see ``DeadLetter.fit``);
4. wait until the broker has acknowledged every one of them (``acks=all``);
5. commit the batch's offsets.

A crash anywhere before 5 re-reads the batch: events are produced again with
the same statement ids and the profile stage skips what it already applied.

No single record can stop the stage: ``Ingest.record`` turns any failure on a
record into a dead letter, and what is written is sized from the topics'
``max.message.bytes`` (``streams.kafka.limits``), asked of the cluster at start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError

from schemas.deadletter import SourcePosition
from schemas.events import LearningEvent, encode_learner_records
from schemas.normalize import Ignored
from streams.followers import ErasedLearners
from streams.kafka.connection import KafkaConnection
from streams.kafka.limits import (
    BROKER_DEFAULT_MAX_MESSAGE_BYTES,
    MAX_REQUEST_BYTES,
    max_message_bytes,
    value_budget,
)
from streams.membership import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS
from streams.partitioning import keyed_partitioner
from streams.pipeline import Ingest, Rejected, dead_letter

log = logging.getLogger(__name__)
ARRIVAL_HEADER = "skillstream-arrival-ms"
"""On ``learning.events`` records: the Kafka time of the oldest statement inside,
so the profile stage can measure statement-to-milestone latency."""


def header_version(headers: object) -> str | None:
    """The xAPI version named in a Kafka record's headers, if any (name is case-insensitive)."""
    if not headers:
        return None
    for name, value in headers:  # type: ignore[attr-defined]
        if name.lower() == "x-experience-api-version" and value is not None:
            return bytes(value).decode("utf-8", "replace").strip()
    return None


class IngestLoop:
    def __init__(
        self,
        ingest: Ingest,
        *,
        kafka: KafkaConnection,
        group_id: str,
        statements_topic: str,
        events_topic: str,
        dlq_topic: str,
        max_records: int = 5000,
        erased: ErasedLearners | None = None,
        on_batch: Callable[[int, int, int], None] | None = None,
        on_rejected: Callable[[Rejected], None] | None = None,
    ) -> None:
        self.ingest = ingest
        self.kafka = kafka
        self.group_id = group_id
        self.statements_topic = statements_topic
        self.events_topic = events_topic
        self.dlq_topic = dlq_topic
        self.max_records = max_records
        self.erased = erased
        self.dropped_erased = 0
        self.on_batch = on_batch
        self.on_rejected = on_rejected
        self.batches = 0
        self.busy_s = 0.0
        """Seconds spent processing batches (not waiting for records)."""
        self.events_budget = value_budget(BROKER_DEFAULT_MAX_MESSAGE_BYTES)
        self.dlq_budget = value_budget(BROKER_DEFAULT_MAX_MESSAGE_BYTES)
        """The largest value each output topic takes; read from the cluster at start."""

    async def size_outputs(self) -> None:
        """Read the output topics' ``max.message.bytes`` and size what is written from them."""
        limits = await max_message_bytes(self.kafka, (self.events_topic, self.dlq_topic))
        self.events_budget = value_budget(limits[self.events_topic])
        self.dlq_budget = value_budget(limits[self.dlq_topic])
        needed = self.ingest.max_bytes + 64 * 1024
        if self.events_budget < needed:
            log.warning(
                "%s takes records up to %d bytes: one statement of up to %d bytes may not fit "
                "as one learning event; raise its max.message.bytes to at least %d",
                self.events_topic,
                limits[self.events_topic],
                self.ingest.max_bytes,
                needed + 1024,
            )

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Process until cancelled; start only once ``ready`` (the catalog) is set."""
        if ready is not None:
            await ready.wait()
        consumer = self.kafka.consumer(
            self.statements_topic,
            client="ingest",
            group_id=self.group_id,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        producer = self.kafka.producer(
            client="ingest",
            acks="all",
            linger_ms=5,
            max_batch_size=1024 * 1024,
            partitioner=keyed_partitioner,
            max_request_size=MAX_REQUEST_BYTES,
        )
        try:
            await consumer.start()
            await producer.start()
            await self.size_outputs()
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
                if batch:
                    await self.process(batch, consumer, producer)
        finally:
            await producer.stop()
            await consumer.stop()

    async def process(
        self,
        batch: dict[TopicPartition, list],  # type: ignore[type-arg]
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
    ) -> None:
        started = time.perf_counter()
        ingest = self.ingest
        erased = self.erased if self.erased is not None and self.erased.erased_ms else None
        send = producer.send
        pending = []
        per_learner: dict[str, list[LearningEvent]] = {}
        arrival: dict[str, int] = {}
        offsets: dict[TopicPartition, int] = {}
        records = rejected = 0
        for tp, messages in batch.items():
            for m in messages:
                records += 1
                version = header_version(m.headers)
                raw = m.value if m.value is not None else b""
                outcome = ingest.record(
                    raw, version, datetime.fromtimestamp(m.timestamp / 1000, UTC)
                )
                if isinstance(outcome, tuple):
                    for event in outcome:
                        if erased is not None and erased.covers(event.learner, m.timestamp):
                            self.dropped_erased += 1
                            continue
                        bucket = per_learner.get(event.learner)
                        if bucket is None:
                            per_learner[event.learner] = [event]
                            arrival[event.learner] = m.timestamp
                        else:
                            bucket.append(event)
                elif isinstance(outcome, Rejected):
                    rejected += 1
                    if self.on_rejected is not None:
                        self.on_rejected(outcome)
                    letter = dead_letter(
                        raw,
                        outcome,
                        SourcePosition(
                            topic=tp.topic,
                            partition=tp.partition,
                            offset=m.offset,
                            timestamp_ms=m.timestamp,
                        ),
                        version,
                    )
                    _, value = letter.fit(self.dlq_budget)
                    pending.append(await send(self.dlq_topic, value, key=m.key))
                else:
                    assert isinstance(outcome, Ignored)
            offsets[tp] = messages[-1].offset + 1
        budget = self.events_budget
        for learner, events in per_learner.items():
            key = learner.encode()
            headers = [(ARRIVAL_HEADER, str(arrival[learner]).encode())]
            for value in encode_learner_records(learner, events, budget):
                sent = await send(self.events_topic, value, key=key, headers=headers)
                pending.append(sent)
        if pending:
            await asyncio.gather(*pending)
        try:
            await consumer.commit(offsets)
        except CommitFailedError as exc:
            # The group rebalanced under us: the new owner re-reads these records,
            # and the profile stage skips the statements it has already applied.
            log.warning("ingest commit refused after a rebalance (%s); batch will be re-read", exc)
        self.batches += 1
        self.busy_s += time.perf_counter() - started
        if self.on_batch is not None:
            self.on_batch(records, rejected, len(per_learner))
