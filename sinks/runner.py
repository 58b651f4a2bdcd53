"""Run a sink: consume its topics in batches, write, dead-letter, commit — in that order.

Each sink has its own consumer group, ``<group_id>-sink-<name>`` (e.g.
``skillstream-sink-sql``), so sinks read at their own pace and a new group
replays from the earliest offset. Auto-commit is off: offsets move only in
``SinkRunner._finish``, after the batch is durable. A batch is what one
``getmany`` returns (at most ``sinks.batch_size`` records).

When the sink or Kafka is unavailable (``ServiceUnavailable``), the runner
backs off (full jitter, ``retry_initial_s`` doubling to ``retry_max_s``) and
tries the same step again, for as long as it takes, committing nothing. While
it waits, its partitions are paused and the consumer keeps polling, so the
group does not evict it for being idle. ``ServiceUnavailable`` while starting
is not retried: the command exits 3 and names what is down.

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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
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
from streams.kafka.limits import (
    BROKER_DEFAULT_MAX_MESSAGE_BYTES,
    MAX_REQUEST_BYTES,
    max_message_bytes,
    value_budget,
)

log = logging.getLogger("skillstream.sinks")

T = TypeVar("T")

_KEEPALIVE_S = 1.0
_POLL_GUARD_S = 10.0


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


class _StoppedError(Exception):
    """A stop was requested while a step was waiting; leave without committing."""


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
        self.progress = Progress(sink=sink.name, group=self.group_id, clock=clock)

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self._feeds)

    def stop(self) -> None:
        """Ask the runner to stop after the step in flight; a second call cuts the grace short."""
        if self._stopping.is_set():
            self._forced.set()
        self._stopping.set()

    async def run(self) -> Progress:
        """Run until stopped (or, with ``until_caught_up``, until no record is left to read)."""
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        if self._handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._on_signal)
                handled.append(sig)
        try:
            await self._open()
            with contextlib.suppress(_StoppedError):
                await self._loop()
            return self.progress
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            await self._close()

    def _on_signal(self) -> None:
        self.progress.stopped_by_signal = True
        self.stop()

    # --- start and stop -------------------------------------------------------------------

    async def _open(self) -> None:
        kafka = self._settings.kafka
        await asyncio.to_thread(kafka.check_reachable)
        await self._sink.start()
        self._consumer = kafka.consumer(
            client=f"sink-{self._sink.name}",
            group_id=self.group_id,
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
        log.info(
            "sink %s: reading %s as group %s into %s",
            self._sink.name,
            ", ".join(self._feeds),
            self.group_id,
            self._sink.describe(),
        )

    async def _close(self) -> None:
        if self._consumer is not None:
            with contextlib.suppress(KafkaError):
                await self._consumer.stop()
        if self._producer is not None:
            with contextlib.suppress(KafkaError):
                await self._producer.stop()
        await self._sink.close()

    @property
    def consumer(self) -> AIOKafkaConsumer[bytes, bytes]:
        if self._consumer is None:
            raise RuntimeError("the runner is not started")
        return self._consumer

    # --- the loop -------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            batch = await self.consumer.getmany(
                timeout_ms=self._options.batch_wait_ms, max_records=self._options.batch_size
            )
            if batch:
                await self._finish(batch)
                if self._until_caught_up and self.progress.lag == 0 and await self._caught_up():
                    return
            elif self._until_caught_up and await self._caught_up():
                return
            else:
                self._emit()  # idle: lets a status display flush what it held back

    async def _finish(
        self, batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        """Make one batch durable, then commit it. The commit order, the only one there is:

        1. decode   — unreadable records become dead letters, the rest go to the sink;
        2. write    — ``sink.write`` returns once every record is durable in the sink or
                      handed back as a dead letter (retried while the sink is unavailable);
        3. dead-letter — every dead letter is produced to the DLQ topic and acknowledged
                      by all in-sync replicas (acks=all; retried while Kafka is unavailable);
        4. commit   — the offset after each partition's last record.

        A crash or stop anywhere before 4 commits nothing: the batch is delivered again
        on restart, and the sink's idempotent writes make the second time harmless.
        """
        now = datetime.now(UTC)
        records: list[SinkRecord] = []
        letters: list[DeadLetter] = []
        offsets: dict[TopicPartition, int] = {}
        for tp, messages in batch.items():
            feed = self._feeds[tp.topic]
            for message in messages:
                item = decode(message, feed, self._sink.name, now)
                if isinstance(item, DeadLetter):
                    letters.append(item)
                else:
                    records.append(item)
            offsets[tp] = messages[-1].offset + 1
        consumed = sum(len(m) for m in batch.values())

        result = await self._step(self._write, records) if records else WriteResult()
        letters.extend(result.dead_letters)
        if letters:
            await self._step(self._dead_letter, list(letters))
        await self._step(self._commit, offsets)

        p = self.progress
        p.consumed += consumed
        p.written += result.written
        p.deliveries += result.deliveries
        p.dead_lettered += len(letters)
        p.batches += 1
        p.lag = await self._lag_estimate()
        self._emit()

    async def _write(self, records: list[SinkRecord]) -> WriteResult:
        return await self._sink.write(records)

    async def _dead_letter(self, letters: list[DeadLetter]) -> None:
        """Produce dead letters, waiting for each ack; acknowledged ones leave ``letters``.

        The list is the step's argument, so a retry after a Kafka outage sends only
        what was not acknowledged yet.
        """
        assert self._producer is not None
        try:
            while letters:
                letter = fit(letters[0], self._dlq_budget)
                future = await self._producer.send(
                    self._dlq_topic,
                    value=letter.value,
                    key=letter.key,
                    headers=list(letter.headers),
                )
                await future
                letters.pop(0)
        except KafkaError as exc:
            raise ServiceUnavailable(
                "Kafka",
                f"cannot write dead letters to {self._dlq_topic} at {self._bootstrap}: {exc}",
            ) from exc

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        owned = self.consumer.assignment()
        mine = {tp: offset for tp, offset in offsets.items() if tp in owned}
        if len(mine) < len(offsets):
            log.warning(
                "sink %s: partitions %s moved to another member of %s before the commit; "
                "their records will be written again by it (harmless: writes are idempotent)",
                self._sink.name,
                sorted(f"{tp.topic}[{tp.partition}]" for tp in set(offsets) - set(mine)),
                self.group_id,
            )
        if not mine:
            return
        try:
            await self.consumer.commit(mine)
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning(
                "sink %s: commit refused after a rebalance of %s (%s); the batch will be "
                "delivered again (harmless: writes are idempotent)",
                self._sink.name,
                self.group_id,
                exc,
            )
        except KafkaError as exc:
            raise ServiceUnavailable(
                "Kafka",
                f"cannot commit offsets of group {self.group_id} at {self._bootstrap}: {exc}",
            ) from exc

    # --- retrying, waiting, stopping ------------------------------------------------------

    async def _step(self, step: Callable[[Any], Awaitable[T]], argument: Any) -> T:
        """Run one step of a batch; while its service is unavailable, back off and run it again."""
        attempt = 0
        while True:
            try:
                result = await self._unless_stopped(step(argument))
            except ServiceUnavailable as exc:
                attempt += 1
                self.progress.retries += 1
                delay = self._backoff.delay(attempt, self._rng)
                self.progress.waiting = (
                    f"{exc.service} unavailable: {exc.problem} (attempt {attempt}, "
                    f"next in {delay:.2f}s; nothing committed meanwhile)"
                )
                log.warning("sink %s: %s", self._sink.name, self.progress.waiting)
                self._emit()
                await self._wait_in_group(delay)
                continue
            if attempt:
                log.warning("sink %s: recovered after %d attempts", self._sink.name, attempt + 1)
                self.progress.waiting = None
                self._emit()
            return result

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
                raise _StoppedError
            return task.result()
        finally:
            stop.cancel()

    async def _wait_in_group(self, delay: float) -> None:
        """Sleep ``delay`` seconds with partitions paused, polling so the group keeps us."""
        consumer = self.consumer
        deadline = time.monotonic() + delay
        try:
            while True:
                if self._stopping.is_set():
                    raise _StoppedError
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), min(remaining, _KEEPALIVE_S))
                consumer.pause(*consumer.assignment())
                with contextlib.suppress(TimeoutError):
                    stray = await asyncio.wait_for(consumer.getmany(timeout_ms=0), _POLL_GUARD_S)
                    for tp, messages in stray.items():
                        consumer.seek(tp, messages[0].offset)
        finally:
            consumer.resume(*consumer.paused())

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
