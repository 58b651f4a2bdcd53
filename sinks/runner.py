"""Run a sink: consume its topics in batches, write, dead-letter, commit — in that order.

Each sink has its own consumer group, ``<group_id>-sink-<name>`` (e.g.
``skillstream-sink-sql``), so sinks read at their own pace and a new group
replays from the earliest offset. The runner is a handler on the stages' one
batch loop (``streams.kafka.batch_loop``): auto-commit is off, offsets move only
after a batch is durable, in order, and the next batch is written while the
last one's dead letters are acknowledged. A batch is at most
``sinks.batch_size`` records.

When the sink is unavailable (``ServiceUnavailable``), the loop backs off (full
jitter, ``retry_initial_s`` doubling to ``retry_max_s``) and writes the same batch
again, for as long as it takes, committing nothing; while it waits, its
partitions are paused and the consumer keeps polling, so the group does not
evict it for being idle. Kafka lost mid-run reopens the clients with the same
backoff, from the last commit. Unavailable at start is not retried: the command
exits 3 and names what is down.

SIGTERM or SIGINT stops the runner between steps; a step in flight gets
``shutdown_grace_s`` to finish (a second signal cuts it short), then whatever
was not committed is redelivered on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from schemas import topology
from schemas.milestones import MilestoneEvent
from schemas.profiles import ProfileSnapshot
from sinks.base import (
    DeadLetter,
    ErasureRecord,
    Feed,
    MilestoneRecord,
    ProfileRecord,
    Sink,
    SinkRecord,
    Source,
    WriteResult,
)
from sinks.config import RunnerSettings
from sinks.deadletters import fit, unreadable, validation_summary
from sinks.retry import Backoff
from streams.errors import ConfigError, ServiceUnavailable
from streams.kafka.batch_loop import Batch, BatchLoop, LoopStopped, Outcome, Produce
from streams.kafka.limits import (
    BROKER_DEFAULT_MAX_MESSAGE_BYTES,
    MAX_REQUEST_BYTES,
    max_message_bytes,
    value_budget,
)
from streams.membership import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS

log = logging.getLogger("skillstream.sinks")

T = TypeVar("T")


def sink_group(settings: RunnerSettings, sink_name: str) -> str:
    """The consumer group a sink commits in: ``<group_id>-sink-<name>``."""
    return topology.sink_group(settings.group_id, sink_name)


@dataclass
class Progress:
    """What a runner has done; handed to ``on_progress`` after each batch and state change."""

    sink: str
    group: str
    consumed: int = 0
    written: int = 0
    deliveries: int = 0
    dead_lettered: int = 0
    batches: int = 0
    retries: int = 0
    lag: int | None = None
    waiting: str | None = None
    caught_up: bool = False
    stopped_by_signal: bool = False
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self.started

    @property
    def rate(self) -> float:
        """Records consumed per second since the start."""
        elapsed = self.elapsed_s
        return self.consumed / elapsed if elapsed > 0 else 0.0


# --- decoding ------------------------------------------------------------------------------


class _UnreadableError(Exception):
    pass


def _source(record: ConsumerRecord[bytes, bytes]) -> Source:
    return Source(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=max(record.timestamp, 0),
        key=record.key,
        value=record.value,
    )


def _key(source: Source, what: str) -> str:
    if not source.key:
        raise _UnreadableError(f"a {what} record needs the learner key as its Kafka key")
    try:
        return source.key.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _UnreadableError(f"the record key is not UTF-8: {exc}") from exc


def _decode(source: Source, feed: Feed) -> SinkRecord:
    value = source.value
    if feed is Feed.MILESTONES:
        if value is None:
            raise _UnreadableError("a null value (tombstone) on the milestones topic")
        try:
            return MilestoneRecord(MilestoneEvent.model_validate_json(value), source)
        except ValidationError as exc:
            raise _UnreadableError(
                f"not a milestone CloudEvent: {validation_summary(exc)}"
            ) from exc
    if feed is Feed.PROFILES:
        learner = _key(source, "profile")
        if value is None:
            return ProfileRecord(learner, None, source)
        try:
            snapshot = ProfileSnapshot.model_validate_json(value)
        except ValidationError as exc:
            raise _UnreadableError(f"not a profile snapshot: {validation_summary(exc)}") from exc
        if snapshot.learner != learner:
            raise _UnreadableError(
                f"snapshot of learner {snapshot.learner!r} published under key {learner!r}"
            )
        return ProfileRecord(learner, snapshot, source)
    return ErasureRecord(_erased_learner(source), source)


def _erased_learner(source: Source) -> str:
    import orjson

    if source.value is None:
        raise _UnreadableError('an erasure needs a JSON value {"learner": "<key>"}')
    try:
        body = orjson.loads(source.value)
    except orjson.JSONDecodeError as exc:
        raise _UnreadableError(f"an erasure that is not JSON: {exc}") from exc
    learner = body.get("learner") if isinstance(body, dict) else None
    if not isinstance(learner, str) or not learner:
        raise _UnreadableError('an erasure needs a JSON object with a "learner" string')
    if source.key is not None and source.key != learner.encode("utf-8"):
        raise _UnreadableError(f"erasure of learner {learner!r} published under another key")
    return learner


def decode(
    record: ConsumerRecord[bytes, bytes], feed: Feed, sink: str, now: datetime
) -> SinkRecord | DeadLetter:
    """A record for the sink, or — when it cannot be read — a dead letter describing it."""
    source = _source(record)
    try:
        return _decode(source, feed)
    except _UnreadableError as exc:
        return unreadable(sink, source, str(exc), now)


# --- the runner -------------------------------------------------------------------------------


class SinkRunner:
    """Feeds one sink from Kafka; see the module docstring for retries and shutdown."""

    def __init__(
        self,
        sink: Sink,
        settings: RunnerSettings,
        *,
        group_id: str | None = None,
        until_caught_up: bool = False,
        on_progress: Callable[[Progress], None] | None = None,
        handle_signals: bool = False,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._settings = settings
        self._options = settings.sinks
        self._bootstrap = settings.kafka.bootstrap_servers
        self.group_id = group_id or sink_group(settings, sink.name)
        self._feeds = {feed.topic(settings.topics): feed for feed in sorted(sink.feeds)}
        self._dlq_topic = settings.topics.milestones_dlq
        self._until_caught_up = until_caught_up
        self._on_progress = on_progress
        self._handle_signals = handle_signals
        self._rng = rng
        self._backoff = Backoff(self._options.retry_initial_s, self._options.retry_max_s)
        self._stopping = asyncio.Event()
        self._forced = asyncio.Event()
        self._consumer: AIOKafkaConsumer[bytes, bytes] | None = None
        self._producer: AIOKafkaProducer[bytes, bytes] | None = None
        self._dlq_budget = value_budget(BROKER_DEFAULT_MAX_MESSAGE_BYTES)
        self._loop: BatchLoop | None = None
        self.progress = Progress(sink=sink.name, group=self.group_id, clock=clock)

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self._feeds)

    def stop(self) -> None:
        """Ask the runner to stop after the step in flight; a second call cuts the grace short."""
        if self._stopping.is_set():
            self._forced.set()
        self._stopping.set()
        if self._loop is not None:
            self._loop.stop()

    async def run(self) -> Progress:
        """Run until stopped (or, with ``until_caught_up``, until no record is left to read).

        Kafka or the sink unreachable at start is an error (exit 3). Later, a sink that is
        down is waited for on the same batch (``streams.kafka.batch_loop``), and Kafka lost
        mid-run reopens the clients with backoff, from the last commit.
        """
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        if self._handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._on_signal)
                handled.append(sig)
        try:
            await self._open()
            attempt = 0
            while True:
                try:
                    await self._batches().run()
                    return self.progress
                except (KafkaError, OSError) as exc:
                    if self._stopping.is_set():
                        return self.progress
                    attempt += 1
                    await self._reopen(attempt, exc)
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            await self._close()

    async def _reopen(self, attempt: int, exc: BaseException) -> None:
        """After Kafka was lost: back off, then new clients from the last commit."""
        while not self._stopping.is_set():
            delay = self._backoff.delay(attempt, self._rng)
            self.progress.retries += 1
            self.progress.waiting = (
                f"Kafka unavailable: {exc} (attempt {attempt}, next in {delay:.2f}s; "
                "nothing committed meanwhile)"
            )
            log.warning("sink %s: %s", self._sink.name, self.progress.waiting)
            self._emit()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            await self._close_clients()
            try:
                await self._open_clients()
            except (ServiceUnavailable, KafkaError, OSError) as again:
                exc = again
                attempt += 1
                continue
            log.warning("sink %s: reconnected to Kafka", self._sink.name)
            self.progress.waiting = None
            self._emit()
            return

    def _batches(self) -> BatchLoop:
        self._loop = BatchLoop(
            self.consumer,
            self._producer_or_fail(),
            self,
            name=f"sink {self._sink.name}",
            max_records=self._options.batch_size,
            budget_ms=3_600_000,  # a sink's batch is bounded by batch_size, not by time
            wait_ms=self._options.batch_wait_ms,
            retry=lambda attempt: self._backoff.delay(attempt, self._rng),
            on_waiting=self._on_waiting,
            on_idle=self._on_idle,
        )
        if self._stopping.is_set():
            self._loop.stop()
        return self._loop

    def _producer_or_fail(self) -> AIOKafkaProducer[bytes, bytes]:
        if self._producer is None:
            raise RuntimeError("the runner is not started")
        return self._producer

    def _on_waiting(self, waiting: str | None) -> None:
        if waiting is None and self.progress.waiting is not None:
            log.warning("sink %s: recovered", self._sink.name)
        self.progress.waiting = waiting
        if waiting is not None:
            self.progress.retries += 1
        self._emit()

    async def _on_idle(self) -> bool:
        if self._until_caught_up and await self._caught_up():
            return True
        self._emit()  # idle: lets a status display flush what it held back
        return False

    def _on_signal(self) -> None:
        self.progress.stopped_by_signal = True
        self.stop()

    # --- start and stop -------------------------------------------------------------------

    async def _open(self) -> None:
        kafka = self._settings.kafka
        await asyncio.to_thread(kafka.check_reachable)
        await self._sink.start()
        await self._open_clients()
        log.info(
            "sink %s: reading %s as group %s into %s",
            self._sink.name,
            ", ".join(self._feeds),
            self.group_id,
            self._sink.describe(),
        )

    async def _open_clients(self) -> None:
        kafka = self._settings.kafka
        self._consumer = kafka.consumer(
            client=f"sink-{self._sink.name}",
            group_id=self.group_id,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._options.batch_size,
        )
        self._producer = kafka.producer(
            client=f"sink-{self._sink.name}-dlq",
            acks="all",
            enable_idempotence=True,
            max_request_size=MAX_REQUEST_BYTES,  # the topic's own limit is the one that counts
        )
        try:
            await self._consumer.start()
            await self._producer.start()
            existing = await self._consumer.topics()
        except (KafkaError, OSError) as exc:
            raise kafka.unavailable(exc) from exc
        missing = sorted(set(self._feeds) - existing | ({self._dlq_topic} - existing))
        if missing:
            raise ConfigError(
                f"topic(s) {', '.join(missing)} do not exist on {self._bootstrap}: "
                "run `skillstream topics create`"
            )
        limits = await max_message_bytes(kafka, [self._dlq_topic])
        self._dlq_budget = value_budget(limits[self._dlq_topic])
        self._consumer.subscribe(topics=list(self._feeds))

    async def _close_clients(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(KafkaError, OSError):
                await self._consumer.stop()
        if self._producer is not None:
            with contextlib.suppress(KafkaError, OSError):
                await self._producer.stop()

    async def _close(self) -> None:
        await self._close_clients()
        await self._sink.close()

    @property
    def consumer(self) -> AIOKafkaConsumer[bytes, bytes]:
        if self._consumer is None:
            raise RuntimeError("the runner is not started")
        return self._consumer

    # --- one batch (streams.kafka.batch_loop.Handler) ------------------------------------

    async def process(self, batch: Batch) -> Outcome:
        """One batch, in the only order there is (the loop does 3 and 4):

        1. decode   — unreadable records become dead letters, the rest go to the sink;
        2. write    — ``sink.write`` returns once every record is durable in the sink or
                      handed back as a dead letter (while the sink is unavailable, the loop
                      waits in the group and runs this step again);
        3. dead-letter — every dead letter is produced to the DLQ topic and acknowledged
                      by all in-sync replicas (acks=all);
        4. commit   — the offset after each partition's last record, in batch order.

        A crash or stop anywhere before 4 commits nothing: the batch is delivered again
        on restart, and the sink's idempotent writes make the second time harmless.
        """
        now = datetime.now(UTC)
        records: list[SinkRecord] = []
        letters: list[DeadLetter] = []
        for tp, messages in batch.items():
            feed = self._feeds[tp.topic]
            for message in messages:
                item = decode(message, feed, self._sink.name, now)
                if isinstance(item, DeadLetter):
                    letters.append(item)
                else:
                    records.append(item)
        result = await self._unless_stopped(self._sink.write(records)) if records else WriteResult()
        letters.extend(result.dead_letters)
        p = self.progress
        p.consumed += sum(len(m) for m in batch.values())
        p.written += result.written
        p.deliveries += result.deliveries
        p.dead_lettered += len(letters)
        p.batches += 1
        p.lag = await self._lag_estimate()
        self._emit()
        produce = []
        for letter in letters:
            fitted = fit(letter, self._dlq_budget)
            produce.append(
                Produce(self._dlq_topic, fitted.value, key=fitted.key, headers=list(fitted.headers))
            )
        return Outcome(produce)

    async def _unless_stopped(self, work: Awaitable[T]) -> T:
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                forced = asyncio.ensure_future(self._forced.wait())
                try:
                    await asyncio.wait(
                        {task, forced},
                        timeout=self._options.shutdown_grace_s,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    forced.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                raise LoopStopped(f"sink {self._sink.name}: stopped during a write")
            return task.result()
        finally:
            stop.cancel()

    # --- lag ------------------------------------------------------------------------------

    async def _lag_estimate(self) -> int | None:
        """Records not yet read, from the high watermarks of the last fetches (cheap, may lag)."""
        consumer = self.consumer
        total = 0
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                return None
            total += max(0, highwater - await consumer.position(tp))
        return total

    async def _caught_up(self) -> bool:
        """True when every assigned partition has been read to its end offset (asked now)."""
        consumer = self.consumer
        assignment = consumer.assignment()
        if not assignment:
            return False
        try:
            ends = await consumer.end_offsets(list(assignment))
            lag = 0
            for tp in assignment:
                lag += max(0, ends[tp] - await consumer.position(tp))
        except KafkaError as exc:
            log.warning("sink %s: cannot read end offsets yet: %s", self._sink.name, exc)
            return False
        self.progress.lag = lag
        if lag == 0:
            self.progress.caught_up = True
            self._emit()
        return lag == 0

    def _emit(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self.progress)


async def reset_group(
    settings: RunnerSettings, group_id: str, feeds: frozenset[Feed], to: str = "earliest"
) -> dict[str, int]:
    """Move a stopped sink's group to the start (or end) of its topics; return the new offsets.

    Kafka accepts this only while the group has no running member, which is
    the point: stop the sink first. ``earliest`` replays everything the
    topics still hold (the sinks are idempotent, so a replay rewrites
    nothing); ``latest`` skips what is there now.
    """
    if to not in ("earliest", "latest"):
        raise ConfigError(f"reset to {to!r}: use 'earliest' or 'latest'")
    kafka = settings.kafka
    bootstrap = kafka.bootstrap_servers
    await asyncio.to_thread(kafka.check_reachable)
    topics = [feed.topic(settings.topics) for feed in sorted(feeds)]
    admin = kafka.admin()
    consumer = kafka.consumer(client="sink-reset", group_id=group_id, enable_auto_commit=False)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        described = await admin.describe_topics([t for t in topics if t in existing])
        await consumer.start()
    except (KafkaError, OSError) as exc:
        await admin.close()
        await consumer.stop()
        raise kafka.unavailable(exc) from exc
    try:
        missing = sorted(set(topics) - existing)
        if missing:
            raise ConfigError(f"topic(s) {', '.join(missing)} do not exist on {bootstrap}")
        partitions: list[TopicPartition] = []
        for topic in described:
            if topic["error_code"] != 0 or not topic["partitions"]:
                raise ConfigError(f"topic {topic['topic']} does not exist on {bootstrap}")
            partitions.extend(
                TopicPartition(topic["topic"], p["partition"])
                for p in sorted(topic["partitions"], key=lambda p: int(p["partition"]))
            )
        consumer.assign(partitions)
        if to == "earliest":
            offsets = await consumer.beginning_offsets(partitions)
        else:
            offsets = await consumer.end_offsets(partitions)
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            raise ServiceUnavailable(
                "Kafka",
                f"group {group_id} refused the reset ({type(exc).__name__}: {exc})",
                "stop every running member of the group (the sink) and try again",
            ) from exc
        return {f"{tp.topic}[{tp.partition}]": offset for tp, offset in sorted(offsets.items())}
    finally:
        await consumer.stop()
        await admin.close()
