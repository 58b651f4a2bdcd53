"""The ingest stage: ``xapi.statements`` → ``learning.events`` and the dead-letter topic.

Ingest is stateless, so it runs in bulk on the batch loop (``streams.kafka``, reading and
producing through librdkafka) inside the worker rather than as a faust stream: faust pays
on the order of 100 µs of event-loop hand-off per record, more than validating and
normalizing a statement costs, and this stage sees every statement (see the README's
"Performance").

``IngestHandler`` is the stage (records in, records to produce out, no Kafka client
inside); ``IngestLoop`` runs it on the one batch loop (``streams.kafka.batch_loop``)
in its own consumer group, ``<group>-ingest``. One batch, in this order — the
commit order of the ingest stage:

1. fetch a batch of records (auto-commit off);
2. validate and normalize each record (``streams.pipeline.Ingest``);
3. produce one ``learning.events`` record per learner in the batch (the
   learner's events in input order, keyed by learner; split across as many
   records as the topic's ``max.message.bytes`` requires), and one dead letter
   per invalid record (cut down to fit its topic, see ``DeadLetter.fit``);
4. once the broker has acknowledged every one of them (``acks=all``) — the
   next batch is processed meanwhile — commit the batch's offsets, in order.

A crash anywhere before 5 re-reads the batch: events are produced again with
the same statement ids and the profile stage skips what it already applied.

No single record can stop the stage: ``Ingest.record`` turns any failure on a
record into a dead letter, and what is written is sized from the topics'
``max.message.bytes`` (``streams.kafka.limits``), asked of the cluster at start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from schemas.deadletter import SourcePosition
from schemas.events import LearningEvent, encode_learner_records
from schemas.normalize import Ignored
from streams.decode_memo import DecodeMemo
from streams.followers import ErasedLearners
from streams.kafka.batch_loop import Batch, BatchLoop, Outcome, Produce
from streams.kafka.connection import KafkaConnection
from streams.kafka.consumer import RdConsumer, held_partitions
from streams.kafka.limits import (
    BROKER_DEFAULT_MAX_MESSAGE_BYTES,
    max_message_bytes,
    value_budget,
)
from streams.kafka.producer import RdProducer
from streams.membership import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS
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


class IngestHandler:
    """Statements in, learning events and dead letters out (``streams.kafka.batch_loop``)."""

    def __init__(
        self,
        ingest: Ingest,
        *,
        events_topic: str,
        dlq_topic: str,
        erased: ErasedLearners | None = None,
        on_rejected: Callable[[Rejected], None] | None = None,
        memo: DecodeMemo | None = None,
    ) -> None:
        self.ingest = ingest
        self.events_topic = events_topic
        self.dlq_topic = dlq_topic
        self.erased = erased
        self.on_rejected = on_rejected
        self.memo = memo
        """Where the records written are kept for this process's profile stage, if any."""
        self.dropped_erased = 0
        self.events_budget = value_budget(BROKER_DEFAULT_MAX_MESSAGE_BYTES)
        self.dlq_budget = value_budget(BROKER_DEFAULT_MAX_MESSAGE_BYTES)
        """The largest value each output topic takes; read from the cluster at start."""

    def size_outputs(self, limits: Mapping[str, int]) -> None:
        """Size what is written from the output topics' ``max.message.bytes``."""
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

    async def process(self, batch: Batch) -> Outcome:
        ingest = self.ingest
        erased = self.erased if self.erased is not None and self.erased.erased_ms else None
        produce: list[Produce] = []
        per_learner: dict[str, list[LearningEvent]] = {}
        arrival: dict[str, int] = {}
        for tp, messages in batch.items():
            for m in messages:
                version = header_version(m.headers)
                raw = m.value if m.value is not None else b""
                at = m.timestamp
                outcome = ingest.record(raw, version, at)  # a datetime only when needed
                if isinstance(outcome, tuple):
                    for event in outcome:
                        if erased is not None and erased.covers(event.learner, at):
                            self.dropped_erased += 1
                            continue
                        bucket = per_learner.get(event.learner)
                        if bucket is None:
                            per_learner[event.learner] = [event]
                            arrival[event.learner] = at
                        else:
                            bucket.append(event)
                elif isinstance(outcome, Rejected):
                    if self.on_rejected is not None:
                        self.on_rejected(outcome)
                    letter = dead_letter(
                        raw,
                        outcome,
                        SourcePosition(
                            topic=tp.topic,
                            partition=tp.partition,
                            offset=m.offset,
                            timestamp_ms=at,
                        ),
                        version,
                    )
                    _, value = letter.fit(self.dlq_budget)
                    produce.append(Produce(self.dlq_topic, value, key=m.key))
                else:
                    assert isinstance(outcome, Ignored)
        budget = self.events_budget
        memo = self.memo
        for learner, events in per_learner.items():
            key = learner.encode()
            headers = [(ARRIVAL_HEADER, str(arrival[learner]).encode())]
            values = encode_learner_records(learner, events, budget)
            if memo is not None and len(values) == 1:  # a split learner is decoded as ever
                memo.keep(values[0], learner, events)
            produce.extend(
                Produce(self.events_topic, value, key=key, headers=headers) for value in values
            )
        return Outcome(produce)


class IngestLoop:
    """The ingest stage on the batch loop, in its own consumer group."""

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
        budget_ms: float = 100.0,
        erased: ErasedLearners | None = None,
        on_batch: Callable[[int], None] | None = None,
        on_rejected: Callable[[Rejected], None] | None = None,
        memo: DecodeMemo | None = None,
    ) -> None:
        self.ingest = ingest
        self.kafka = kafka
        self.group_id = group_id
        self.statements_topic = statements_topic
        self.max_records = max_records
        self.budget_ms = budget_ms
        self.on_batch = on_batch
        self.handler = IngestHandler(
            ingest,
            events_topic=events_topic,
            dlq_topic=dlq_topic,
            erased=erased,
            on_rejected=on_rejected,
            memo=memo,
        )
        self.loop: BatchLoop | None = None
        self._consumer: RdConsumer | None = None
        self._busy_before = 0.0

    @property
    def serving(self) -> set[int]:
        """The partitions of the statements topic this stage's consumer holds now."""
        return held_partitions(self._consumer)

    @property
    def busy_s(self) -> float:
        """Seconds spent processing batches (not waiting for records), over every run."""
        return self._busy_before + (self.loop.stats.busy_s if self.loop is not None else 0.0)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Process until cancelled; start only once ``ready`` (the catalog) is set."""
        if ready is not None:
            await ready.wait()
        consumer = RdConsumer(
            self.kafka,
            "ingest",
            self.statements_topic,
            group_id=self.group_id,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            auto_offset_reset="earliest",
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        producer = RdProducer(self.kafka, "ingest")
        if self.loop is not None:
            self._busy_before += self.loop.stats.busy_s
        try:
            self._consumer = consumer
            await consumer.start()
            await producer.start()
            handler = self.handler
            handler.size_outputs(
                await max_message_bytes(self.kafka, (handler.events_topic, handler.dlq_topic))
            )
            self.loop = BatchLoop(
                consumer,
                producer,
                handler,
                name="ingest",
                max_records=self.max_records,
                budget_ms=self.budget_ms,
                on_batch=self.on_batch,
            )
            await self.loop.run()
        finally:
            self._consumer = None
            await producer.stop()
            await consumer.stop()
