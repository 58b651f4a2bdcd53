"""The profile stage: ``learning.events`` → profile state → milestones and snapshots.

It runs in bulk on the batch loop (``streams.kafka``, reading and producing through
librdkafka) with its own state store rather than as a faust agent over a faust table:
faust spends on the order of 150 µs per record in its consumer hand-off and restores a
changelog at a few thousand records a second (both measured; see the README's
"Performance"), while this stage has to keep up with every statement and restore a
million learners quickly.
It keeps the same guarantees a faust table gives, written out here:

* **Partitions.** The stage's consumer group (``SKILLSTREAM_GROUP_ID``) owns
  ``learning.events`` partitions; each partition has its own RocksDB
  database (``streams.state_store``) and the same partition of the compacted
  changelog topic ``<group>-profiles-changelog``.
* **Restore.** When a partition is assigned, its database is brought up to
  the end of its changelog partition, reading from the database's checkpoint
  (nothing to read when the state never left this worker), before any record
  of it is processed.
* **Commit order**, per batch of ``learning.events`` records:

  1. fold each learner's events into the learner's state (one read and one
     write per learner per batch, whatever the number of events);
  2. produce the milestones, one snapshot per learner to ``learner.profiles``
     and the new states to the changelog; wait for the broker to acknowledge
     all of them (``acks=all``);
  3. write the states and the changelog checkpoint to the local database in
     one atomic batch; after a batch that erased a learner, purge their older
     copies from the partition's files (``StateStore.purge``: flush, compact the
     key's range) before the commit, so that ``forget`` sees it applied only then;
  4. commit the ``learning.events`` offsets.

  A milestone is durable before the state that remembers it fired: a crash
  can repeat a milestone (same id — sinks keep one record per id), never lose
  one. A crash before 4 re-reads the batch and the core skips what it already
  applied; the state and the snapshot are written again.
* **No record stops the stage.** A record that is not a ``learning.events``
  record, and an event the core fails on (a bug of skillstream's), go to the
  statements dead-letter topic with the reason (code ``events_record`` or
  ``internal``) and their position on ``learning.events``; the learner's other
  events are applied one by one from the state before the batch
  (``streams.pipeline.apply_each``). ``skillstream dlq reprocess`` sends such a
  letter back to ``learning.events``.
* **Rebalances.** A revoked partition is handed over only after the batch in
  progress has finished (the listener waits for it), so the new owner never
  restores a changelog that is still being written.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.deadletter import DeadLetter, Problem, SourcePosition
from schemas.events import LearningEvent, decode_learner_events, encode_learner_events
from schemas.milestones import MILESTONE_KAFKA_HEADERS
from schemas.topology import changelog_topic
from streams.core import (
    ProfileState,
    decode_state,
    encode_state,
    milestone_json,
    snapshot_json,
    untrack_events,
    untrack_state,
)
from streams.decode_memo import DecodeMemo
from streams.ingest_loop import ARRIVAL_HEADER
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
from streams.pipeline import LearnerOutcome, Profiles, apply_each, internal_problem
from streams.restore import Todo, restore_changelog
from streams.state_store import EPOCH_KEY, StateStore

log = logging.getLogger(__name__)

ERASE = "erase"
"""A control record on ``learning.events``: ``{"version": 1, "learner": k, "control": "erase"}``."""


def erase_record(learner: str) -> bytes:
    return orjson.dumps({"version": 1, "learner": learner, "control": ERASE})


@dataclass
class StageStats:
    records: int = 0
    events: int = 0
    milestones: int = 0
    snapshots: int = 0
    erased: int = 0
    bad_records: int = 0
    busy_s: float = 0.0
    restored: int = 0
    restore_s: float = 0.0
    milestones_by_kind: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)


@dataclass
class _Learner:
    key: bytes
    partition: int
    events: list[LearningEvent]
    """The learner's events after the last erasure in the batch, in order."""
    arrivals: list[int]
    """Per event: when its statement arrived in Kafka (ms; 0: unknown)."""
    sources: list[Any]
    """Per event: the learning.events record it came in (for a dead letter)."""
    erase: bool = False
    """An erasure came first: start from no state (and delete it if no events follow)."""


@dataclass(slots=True)
class _Dirty:
    """A learner changed since the last flush: their state now (None once erased), the
    events applied since (to rebuild it if the core fails on a later batch), and whether
    an erasure came (the flush purges their older copies from the store's files)."""

    state: ProfileState | None
    events: list[LearningEvent]
    erased: bool = False


class _Listener:
    """What the stage does when its partitions move (``streams.kafka.consumer.Listener``)."""

    def __init__(self, stage: ProfileStage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.stage.lock:  # the batch being processed finishes first …
            loop = self.stage.loop
            if loop is not None:
                await loop.drain()  # … and every batch in flight is durable and committed
            for tp in revoked:
                self.stage.drop_cache(tp.partition)
                self.stage._dirty.pop(tp.partition, None)
                self.stage._pending.pop(tp.partition, None)  # none: drained, round finished
                self.stage._unflushed.pop(tp.partition, None)
                self.stage.restored.discard(tp.partition)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # Holding the lock keeps ``process`` out until the state is restored, whatever
        # the consumer fetches meanwhile (librdkafka starts on the new partitions only
        # once this returns; a batch fetched before is sought back by ``process``).
        async with self.stage.lock:
            partitions = [tp.partition for tp in assigned]
            await self.stage.restore(partitions)
            self.stage.restored = set(partitions)


class ProfileStage:
    def __init__(
        self,
        profiles: Profiles,
        *,
        kafka: KafkaConnection,
        group_id: str,
        events_topic: str,
        milestones_topic: str,
        profiles_topic: str,
        dlq_topic: str,
        store: StateStore,
        max_records: int = 20_000,
        budget_ms: float = 100.0,
        flush_interval_ms: float = 500.0,
        cache_per_partition: int = 50_000,
        restore_processes: int | None = None,
        on_milestone: Callable[[str, float | None], None] | None = None,
        memo: DecodeMemo | None = None,
    ) -> None:
        self.profiles = profiles
        self.kafka = kafka
        self.group_id = group_id
        self.events_topic = events_topic
        self.milestones_topic = milestones_topic
        self.profiles_topic = profiles_topic
        self.dlq_topic = dlq_topic
        self.dlq_budget = value_budget(BROKER_DEFAULT_MAX_MESSAGE_BYTES)
        self.changelog = changelog_topic(group_id)
        self.store = store
        self.max_records = max_records
        self.cache_per_partition = cache_per_partition
        self.restore_processes = restore_processes
        """Processes a large restore is split across (default: the cores; 1: in this one)."""
        self.on_milestone = on_milestone
        self.memo = memo
        """The records this process's ingest wrote, taken instead of decoded; if any."""
        self._decode = decode_learner_events if memo is None else memo.decode
        self.lock = asyncio.Lock()
        self.stats = StageStats()
        self.restored: set[int] = set()
        """Partitions whose state is restored; records of any other are fetched again."""
        self._cache: dict[int, OrderedDict[bytes, ProfileState]] = {}
        self._dirty: dict[int, dict[bytes, _Dirty]] = {}
        """Learners changed since the last flush round began, per partition (write-back
        state)."""
        self._pending: dict[int, dict[bytes, _Dirty]] = {}
        """Learners of the flush round in progress whose slice is not produced yet."""
        self._round: list[tuple[int, bytes]] = []
        """Their (partition, key), in the order they were changed."""
        self._unflushed: dict[int, dict[bytes, bytes | None]] = {}
        """States of batches in flight (produced, not yet written to the store): what a
        learner's state is when the cache no longer holds it and the store not yet."""
        self._producer: RdProducer | None = None
        self._consumer: RdConsumer | None = None
        self.loop: BatchLoop | None = None
        self.budget_ms = budget_ms
        self.flush_interval_ms = flush_interval_ms

    # --- lifecycle -----------------------------------------------------------------------

    async def run(self, ready: asyncio.Event | None = None) -> None:
        if ready is not None:
            await ready.wait()
        producer = RdProducer(self.kafka, "profiles")
        consumer = RdConsumer(
            self.kafka,
            "profiles",
            group_id=self.group_id,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            auto_offset_reset="earliest",
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        self._cache.clear()
        self._dirty.clear()
        self._pending.clear()
        self._round.clear()
        self._unflushed.clear()
        self._producer, self._consumer = producer, consumer
        if self.loop is not None:
            self.stats.busy_s += self.loop.stats.busy_s
        self.loop = BatchLoop(
            consumer,
            producer,
            self,
            name="profile stage",
            max_records=self.max_records,
            budget_ms=self.budget_ms,
            lock=self.lock,
            flush_interval_ms=self.flush_interval_ms,
        )
        try:
            await producer.start()
            await consumer.start()
            limits = await max_message_bytes(self.kafka, [self.dlq_topic])
            self.dlq_budget = value_budget(limits[self.dlq_topic])
            consumer.subscribe([self.events_topic], listener=_Listener(self))
            await self.loop.run()
        finally:
            self._consumer = None
            await consumer.stop()
            await producer.stop()
            self.restored = set()  # after the stop: a restore in progress ends before it
            self.store.close()

    @property
    def assigned(self) -> set[int]:
        """The partitions of ``learning.events`` this stage's consumer holds now."""
        return held_partitions(self._consumer)

    @property
    def serving(self) -> set[int]:
        """The partitions it processes now: assigned, and their state restored (a partition
        still restoring is assigned but not served: its records wait)."""
        return self.assigned & self.restored

    @property
    def busy_s(self) -> float:
        """Seconds spent processing batches, over every run."""
        return self.stats.busy_s + (self.loop.stats.busy_s if self.loop is not None else 0.0)

    # --- restore ---------------------------------------------------------------------------

    async def restore(self, partitions: list[int]) -> None:
        """Bring each partition's database up to the end of its changelog partition."""
        started = time.perf_counter()
        if not partitions:
            return
        consumer = self.kafka.consumer(
            client="profiles-restore", group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        todo: Todo = {}
        try:
            tps = [TopicPartition(self.changelog, p) for p in partitions]
            consumer.assign(tps)
            beginning = await consumer.beginning_offsets(tps)
            end = await consumer.end_offsets(tps)
            for tp in tps:
                if end[tp] == 0:
                    end[tp] = await self._write_epoch(tp.partition)
                epoch = await self._changelog_epoch(consumer, tp, beginning[tp])
                start = self.store.checkpoint(tp.partition)
                if self.store.epoch(tp.partition) != epoch or start > end[tp]:
                    # New changelog (first start, or a rebuild): local state is not its history.
                    if start:
                        log.warning(
                            "local state of partition %d belongs to another changelog; "
                            "restoring it whole",
                            tp.partition,
                        )
                    self.store.wipe(tp.partition)
                    start = beginning[tp]
                if start < end[tp]:
                    todo[tp.partition] = (max(start, beginning[tp]), end[tp])
        finally:
            await consumer.stop()
        for partition in partitions:
            self.drop_cache(partition)
        restored = await restore_changelog(
            self.kafka, self.changelog, self.store, todo, self.restore_processes
        )
        elapsed = time.perf_counter() - started
        self.stats.restored += restored
        self.stats.restore_s += elapsed
        if restored:
            log.info(
                "restored %d profile states for partitions %s in %.1fs (%.0f/s)",
                restored,
                sorted(partitions),
                elapsed,
                restored / max(elapsed, 1e-9),
            )

    async def _write_epoch(self, partition: int) -> int:
        """Mark a new, empty changelog partition with an epoch; return its end offset."""
        assert self._producer is not None
        meta = await (
            await self._producer.send(
                self.changelog, uuid.uuid4().hex.encode(), key=EPOCH_KEY, partition=partition
            )
        )
        return int(meta.offset) + 1

    @staticmethod
    async def _changelog_epoch(
        consumer: AIOKafkaConsumer, tp: TopicPartition, first: int
    ) -> bytes | None:
        consumer.seek(tp, first)
        batch = await consumer.getmany(tp, timeout_ms=5000, max_records=1)
        for record in batch.get(tp, []):
            return record.value if record.key == EPOCH_KEY else None
        return None

    # --- processing ------------------------------------------------------------------------

    def drop_cache(self, partition: int) -> None:
        self._cache.pop(partition, None)

    def _state(self, partition: int, key: bytes) -> ProfileState | None:
        cache = self._cache.setdefault(partition, OrderedDict())
        state = cache.get(key)
        if state is not None:
            cache.move_to_end(key)
            return state
        entry = self._dirty.get(partition, {}).get(key)
        if entry is None:
            entry = self._pending.get(partition, {}).get(key)
        if entry is not None:
            return entry.state
        return self._flushed(partition, key)

    def _flushed(self, partition: int, key: bytes) -> ProfileState | None:
        """The learner's state as of the last flush (written or on its way to the store)."""
        unflushed = self._unflushed.get(partition)
        if unflushed is not None and key in unflushed:
            raw = unflushed[key]
        else:
            raw = self.store.get(partition, key)
        if raw is None:
            return None
        state = decode_state(raw)
        untrack_state(state)  # held for a while (the cache): the collector need not walk it
        return state

    def _remember(self, partition: int, key: bytes, state: ProfileState) -> None:
        cache = self._cache.setdefault(partition, OrderedDict())
        cache[key] = state
        cache.move_to_end(key)
        while len(cache) > self.cache_per_partition:
            cache.popitem(last=False)

    def _group(
        self, batch: dict[TopicPartition, list[Any]], letters: list[tuple[bytes | None, bytes]]
    ) -> dict[bytes, _Learner]:
        """The batch's events per learner; an unreadable record becomes a dead letter."""
        learners: dict[bytes, _Learner] = {}
        stats = self.stats
        for tp, records in batch.items():
            for record in records:
                stats.records += 1
                key = record.key
                try:
                    if key is None:
                        raise ValueError("record has no key")
                    try:
                        _, events = self._decode(record.value)
                    except ValueError:
                        if _is_erase(record.value):
                            learners[key] = _Learner(key, tp.partition, [], [], [], erase=True)
                            stats.erased += 1
                            continue
                        raise
                except ValueError as exc:
                    stats.bad_records += 1
                    log.error(
                        "unreadable learning.events record %s[%d]@%d dead-lettered: %s",
                        tp.topic,
                        tp.partition,
                        record.offset,
                        exc,
                    )
                    problem = Problem(path="$", message=str(exc)[:2000], code="events_record")
                    letters.append((key, self._letter(record, record.value or b"", problem)))
                    continue
                arrival = _arrival_ms(record.headers)
                entry = learners.get(key)
                if entry is None:
                    learners[key] = entry = _Learner(key, tp.partition, [], [], [])
                entry.events.extend(events)
                entry.arrivals.extend([arrival] * len(events))
                entry.sources.extend([record] * len(events))
        return learners

    async def process(self, batch: Batch) -> Outcome:
        """One batch of ``learning.events`` (``streams.kafka.batch_loop.Handler``).

        The loop holds ``self.lock`` meanwhile, so a rebalance sees each batch either not
        started or in flight. Records of a partition whose state is not restored yet
        (fetched before its restore) are sought back and left for later.
        """
        consumer = self._consumer
        unrestored = {tp: r for tp, r in batch.items() if tp.partition not in self.restored}
        if consumer is not None:
            assignment = consumer.assignment()
            for tp, records in unrestored.items():
                if records and tp in assignment:
                    consumer.seek(tp, records[0].offset)
        ready = {tp: list(r) for tp, r in batch.items() if tp.partition in self.restored}
        skipped = frozenset(unrestored)
        if not ready:
            return Outcome(unprocessed=skipped)
        try:
            outcome = self._process(ready)
        except BaseException:
            for tp in ready:
                self.drop_cache(tp.partition)
            raise
        outcome.unprocessed = skipped
        return outcome

    def _process(self, batch: dict[TopicPartition, list[Any]]) -> Outcome:
        """The batch's milestones and dead letters, produced now; the learners' new states
        are held back (write-back) until the next ``flush``."""
        stats = self.stats
        letters: list[tuple[bytes | None, bytes]] = []
        learners = self._group(batch, letters)
        produce: list[Produce] = []
        held: list[LearningEvent] = []
        now_ms = time.time() * 1000
        for learner in learners.values():
            key, partition = learner.key, learner.partition
            dirty = self._dirty.setdefault(partition, {})
            if learner.erase:
                self._cache.get(partition, OrderedDict()).pop(key, None)
                dirty[key] = _Dirty(None, [], erased=True)
                if not learner.events:
                    continue
            state = None if learner.erase else self._state(partition, key)
            try:
                outcome = self.profiles.apply_batch(state, learner.events, with_snapshot=False)
            except Exception as exc:  # noqa: BLE001 - one learner's failure is theirs alone
                isolated = self._isolate(learner, exc, letters)
                if isolated is None:
                    continue
                outcome = isolated
            stats.events += len(learner.events)
            for milestone, trigger in zip(outcome.milestones, outcome.triggers, strict=True):
                # Latency is measured from the arrival of the statement that fired it.
                arrival = learner.arrivals[trigger] if trigger < len(learner.arrivals) else 0
                headers = [*MILESTONE_KAFKA_HEADERS]
                if arrival:
                    headers.append((ARRIVAL_HEADER, str(arrival).encode()))
                produce.append(
                    Produce(
                        self.milestones_topic,
                        milestone_json(milestone),
                        key=key,
                        headers=headers,
                    )
                )
                kind = str(milestone.data.kind)
                stats.milestones += 1
                stats.milestones_by_kind[kind] = stats.milestones_by_kind.get(kind, 0) + 1
                latency = (now_ms - arrival) if arrival else None
                if latency is not None:
                    stats.latencies_ms.append(latency)
                    if len(stats.latencies_ms) > 100_000:
                        del stats.latencies_ms[:50_000]
                if self.on_milestone is not None:
                    self.on_milestone(kind, None if latency is None else latency / 1000)
            entry = dirty.get(key)
            if entry is None:
                dirty[key] = _Dirty(outcome.state, list(learner.events))
            else:
                entry.state = outcome.state
                entry.events.extend(learner.events)
            held.extend(learner.events)
            self._remember(partition, key, outcome.state)
        untrack_events(held)  # held until the write-back: the collector need not walk them
        produce.extend(Produce(self.dlq_topic, letter, key=k) for k, letter in letters)
        return Outcome(produce, deferred=True)

    async def flush(self, limit: int | None = None) -> Outcome:
        """Step 2 for the states held back, one slice of a flush round at a time
        (``streams.kafka.batch_loop.FlushingHandler``): one snapshot and one changelog
        record per learner changed before the round began (a tombstone for one erased),
        at most ``limit`` learners, and, once they are acknowledged, the store writes and
        purges of step 3 (``_write``)."""
        if not self._round:  # a new round: everything changed before it
            self._pending, self._dirty = self._dirty, {}
            self._round = [(p, k) for p, learners in self._pending.items() for k in learners]
        cut = len(self._round) if limit is None else limit
        taken, self._round = self._round[:cut], self._round[cut:]
        produce: list[Produce] = []
        changelog: list[tuple[int, int, bytes, bytes | None]] = []
        """(index in produce, partition, learner key, encoded state or None)"""
        erased: dict[int, list[bytes]] = {}
        for partition, key in taken:
            entry = self._pending[partition].pop(key)
            unflushed = self._unflushed.setdefault(partition, {})
            if entry.erased:
                erased.setdefault(partition, []).append(key)
            state = entry.state
            if state is None:
                produce.append(Produce(self.profiles_topic, None, key=key))
                changelog.append((len(produce), partition, key, None))
                produce.append(Produce(self.changelog, None, key=key, partition=partition))
                unflushed[key] = None
                continue
            if state.active:
                view = snapshot_json(state, self.profiles.catalog, self.profiles.rules)
                produce.append(Produce(self.profiles_topic, view, key=key))
                self.stats.snapshots += 1
            encoded = encode_state(state)
            untrack_state(state)  # what the batches since its decoding made (see _flushed)
            changelog.append((len(produce), partition, key, encoded))
            produce.append(Produce(self.changelog, encoded, key=key, partition=partition))
            unflushed[key] = encoded

        async def durable(metas: list[Any]) -> None:
            await self._write(changelog, metas, erased)

        if not self._round:
            self._pending = {}
        return Outcome(produce, durable, more=bool(self._round))

    async def _write(
        self,
        changelog: list[tuple[int, int, bytes, bytes | None]],
        metas: list[Any],
        erased: dict[int, list[bytes]],
    ) -> None:
        """Step 3: the batch's states into the local store, with the changelog checkpoint."""
        per_partition: dict[int, tuple[dict[bytes, bytes | None], int]] = {}
        for index, partition, key, value in changelog:
            changes, next_offset = per_partition.get(partition, ({}, 0))
            changes[key] = value
            per_partition[partition] = (changes, max(next_offset, metas[index].offset + 1))
            if value is None:
                self._cache.get(partition, OrderedDict()).pop(key, None)
        for partition, (changes, next_offset) in per_partition.items():
            self.store.write(partition, changes, next_offset)
            unflushed = self._unflushed.get(partition, {})
            for key, value in changes.items():
                if unflushed.get(key, b"") is value:  # no later batch changed it meanwhile
                    del unflushed[key]
        # Still step 3: an erasure reaches the disk before the offsets are committed
        # (so `forget` sees it applied only then). A delete left older copies of the
        # learner's state in the partition's files; ``purge`` flushes and compacts
        # them away, and what a restore erased too (``purge_due``). In a thread: it
        # can take seconds on a big partition, and RocksDB releases the GIL meanwhile.
        for partition in per_partition:
            keys = erased.get(partition, [])
            restored = self.store.purge_due(partition)
            if keys or restored:
                took = await asyncio.to_thread(self.store.purge, partition, keys)
                log.info(
                    "erasure: purged %d erased learner(s)%s from partition %d's local files "
                    "in %.2fs",
                    len(keys),
                    " and the erasures its restore applied" if restored else "",
                    partition,
                    took,
                )

    def _isolate(
        self, learner: _Learner, exc: Exception, letters: list[tuple[bytes | None, bytes]]
    ) -> LearnerOutcome | None:
        """After the core failed on a learner's batch: apply what it can, dead-letter the rest."""
        key, partition = learner.key, learner.partition
        log.error(
            "the profile core failed on a batch of %d events of %s (%r); applying them one by "
            "one and dead-lettering those that fail",
            len(learner.events),
            key.decode(errors="replace"),
            exc,
        )
        self._cache.get(partition, OrderedDict()).pop(key, None)  # the core mutated it
        # The state before this batch: the last flushed one, with the events applied since
        # (milestones they fired are produced again: same ids, which sinks keep once).
        held = self._dirty.get(partition, {}).pop(key, None)
        # A learner of the flush round in progress whose slice is not produced yet: their
        # events since the last state produced are the round's and the ones held since.
        pending = self._pending.get(partition, {}).get(key)
        if learner.erase or (held is not None and held.erased):
            before, earlier = None, [] if learner.erase else held.events if held else []
        elif pending is not None:
            before = None if pending.erased else self._flushed(partition, key)
            earlier = [*pending.events, *(held.events if held else [])]
        else:
            before, earlier = self._flushed(partition, key), held.events if held else []
        events = [*earlier, *learner.events]
        learner.arrivals[:0] = [0] * len(earlier)
        learner.sources[:0] = [None] * len(earlier)
        learner.events = events
        outcome, failed = apply_each(self.profiles, before, events)
        if pending is not None and not learner.erase:
            # The core may have changed the state object the round holds: the round's
            # slice writes the state rebuilt here instead (ahead of the round, which a
            # re-read batch tolerates: the core skips what it already applied).
            pending.state = outcome.state if outcome is not None else before
        if (held is not None and held.erased) or learner.erase:
            self._dirty.setdefault(partition, {})[key] = _Dirty(None, [], erased=True)
        for failure in failed:
            self.stats.bad_records += 1
            if failure.index < 0:
                log.error("snapshot of %s failed: %r", key.decode(errors="replace"), failure.error)
                continue
            event = learner.events[failure.index]
            source = learner.sources[failure.index]
            if source is None:
                continue  # an event of an earlier batch: dead-lettered when it failed then
            found = internal_problem(failure.error)
            problem = Problem(path=found.path, message=found.message, code=found.code)
            value = encode_learner_events(event.learner, [event])
            letters.append((key, self._letter(source, value, problem)))
        return outcome

    def _letter(self, record: Any, original: bytes, problem: Problem) -> bytes:
        letter = DeadLetter(
            source=SourcePosition(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                timestamp_ms=record.timestamp,
            ),
            original_b64=DeadLetter.encode(original),
            errors=(problem,),
            dead_lettered_at=datetime.now(UTC),
        )
        return letter.fit(self.dlq_budget)[1]


def _is_erase(value: bytes | None) -> bool:
    try:
        doc = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and doc.get("control") == ERASE


def _arrival_ms(headers: Any) -> int:
    for name, value in headers or ():
        if name == ARRIVAL_HEADER and value:
            return int(value)
    return 0
