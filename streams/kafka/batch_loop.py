"""The one batch loop every stage runs on: fetch, process, produce, acknowledge, commit.

Ingest, the profile stage and the sinks are *handlers*: a handler turns a batch of
records into an ``Outcome`` — the records to produce, and what must be made durable
once they are acknowledged — and knows nothing of consumers, producers or commits.
The loop owns those, the same way for every stage:

1. **fetch** up to ``max_records`` records; a batch is also bounded in time: the loop
   measures how long a record takes to process and sizes the next fetch so that a
   batch takes about ``budget_ms`` (a batch under load never grows past what keeps
   latency low);
2. **process** the batch (``handler.process``); a ``ServiceUnavailable`` from it (a
   sink's database down, say) is retried with backoff on the same batch, with the
   partitions paused and the consumer still polling so the group keeps the member;
3. **produce** the outcome's records, without waiting;
4. while those acknowledgements are in flight, **fetch and process the next batch**
   (at most ``max_in_flight`` batches are in flight: 1 is stop-and-wait);
5. **complete** the oldest batch once every record of it is acknowledged: the
   outcome's ``durable`` step runs, then the batch's offsets are **committed** —
   strictly in fetch order.

A handler may hold effects back across batches (write-back state: the profile
stage writes a learner's state, changelog record and snapshot once per interval,
not once per batch). Its batches are then *deferred*: acknowledged as above, but
committed only after the handler's next ``flush`` — every ``flush_interval_ms``,
when idle, before a rebalance and before a stop — has produced what it held, had
it acknowledged and made it durable. The interval's flush round goes out in slices
(``flush_slice`` items each), one between two batches (or one after another when no
batch comes, up to ``max_in_flight`` in flight), each pipelined like a batch:
produced at once, completing in order behind the batches in flight; the round's
batches are committed when its last slice is durable. The other flushes (idle,
rebalance, stop) finish the round and wait for it all.

A crash anywhere before 5 commits nothing for that batch or any later one: the records
are fetched again after a restart, and each stage's own idempotence (statement ids,
milestone ids, upserts) makes the second time harmless. A rebalance waits for every
batch in flight to complete before partitions are handed over (``drain``). Errors
from Kafka itself (produce, commit, fetch) end ``run``: the caller restarts the stage
from its last commit (``skillstream.worker.supervise``), which is the one policy for
broker restarts, lost connections and a stage that crashed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from streams.errors import ServiceUnavailable
from streams.kafka.consumer import CommitRefused

log = logging.getLogger(__name__)

Batch = Mapping[TopicPartition, Sequence[Any]]
"""What one fetch returns: each partition's records, in offset order."""


@dataclass(slots=True)
class Produce:
    """One record an outcome asks the loop to produce."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    partition: int | None = None
    headers: list[tuple[str, bytes]] | None = None


@dataclass(slots=True)
class Outcome:
    """What a batch becomes: records to produce, and what to make durable once they are
    acknowledged (awaited with each produced record's metadata, in ``produce`` order)."""

    produce: list[Produce] = field(default_factory=list)
    durable: Callable[[list[Any]], Awaitable[None]] | None = None
    unprocessed: frozenset[TopicPartition] = frozenset()
    """Partitions whose records the handler left alone (and sought back): not committed."""
    deferred: bool = False
    """The batch's effects are not all in ``produce``: the handler keeps some (write-back
    state) until its next ``flush``, so the batch is committed only after that flush."""
    more: bool = False
    """From ``flush(limit)``: this is one slice of a flush round, and more are to come."""


class Handler(Protocol):
    async def process(self, batch: Batch) -> Outcome: ...


class FlushingHandler(Handler, Protocol):
    """A handler that holds effects back across batches (``Outcome.deferred``) and hands
    them over in flush *rounds*: the loop starts one every ``flush_interval_ms``, when
    idle, and before a rebalance or a stop; deferred batches are committed once the
    round that covers them is durable.

    A round covers what the batches processed before it started held back. ``flush``
    returns the next slice of the round in progress — at most ``limit`` items, all
    when ``limit`` is None — with ``more`` set while the round has more; a call with
    no round in progress starts one."""

    async def flush(self, limit: int | None = None) -> Outcome: ...


class Consumer(Protocol):
    """What the loop consumes with: the part of ``AIOKafkaConsumer`` it uses, which the hot
    stages' ``RdConsumer`` (librdkafka) offers too (an in-memory one in unit tests)."""

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Any]]: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...

    def assignment(self) -> set[TopicPartition]: ...

    def pause(self, *partitions: TopicPartition) -> None: ...

    def resume(self, *partitions: TopicPartition) -> None: ...

    def paused(self) -> set[TopicPartition]: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...


class Producer(Protocol):
    """What the loop produces with: ``send`` queues one record and returns an awaitable of
    its acknowledgement. A producer that can take a whole list at once may also offer
    ``send_many(records: Sequence[Produce]) -> Awaitable[list]`` (one awaitable for the
    list, resolving to each record's metadata in order); the loop then uses that."""

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]: ...


class LoopStopped(Exception):
    """``stop`` came while a batch waited for a service: that batch is not committed."""


@dataclass(slots=True)
class LoopStats:
    batches: int = 0
    records: int = 0
    produced: int = 0
    retries: int = 0
    busy_s: float = 0.0
    """Seconds spent processing and producing (not waiting for records or acks)."""


@dataclass(slots=True)
class _InFlight:
    offsets: dict[TopicPartition, int]
    acks: Awaitable[list[Any]] | None
    """Every produced record's metadata, in produce order (None: nothing produced)."""
    durable: Callable[[list[Any]], Awaitable[None]] | None
    records: int
    deferred: bool = False
    round: int = 0
    """A deferred batch: the number of flush rounds started before it was processed (the
    next round covers it). A flush slice: its round."""
    flush: bool = False
    """A slice of a flush round."""
    last: bool = False
    """The round's last slice: once it is durable, the round's batches are committed."""


class BatchLoop:
    """Runs one handler over one consumer and one producer; see the module docstring."""

    def __init__(
        self,
        consumer: Consumer,
        producer: Producer,
        handler: Handler,
        *,
        name: str,
        max_records: int = 5000,
        min_records: int = 50,
        budget_ms: float = 50.0,
        wait_ms: int = 100,
        max_in_flight: int = 2,
        retry: Callable[[int], float] | None = None,
        on_batch: Callable[[int], None] | None = None,
        on_waiting: Callable[[str | None], None] | None = None,
        on_idle: Callable[[], Awaitable[bool]] | None = None,
        lock: asyncio.Lock | None = None,
        flush_interval_ms: float = 1000.0,
        flush_slice: int = 64,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.handler = handler
        self.name = name
        self.max_records = max_records
        self.min_records = min(min_records, max_records)
        self.budget_s = budget_ms / 1000
        self.wait_ms = wait_ms
        self.max_in_flight = max(1, max_in_flight)
        self._retry = retry or (lambda attempt: min(0.5 * 2 ** (attempt - 1), 30.0))
        self.on_batch = on_batch
        self.on_waiting = on_waiting
        self.on_idle = on_idle
        self._lock = lock or asyncio.Lock()
        """Held while a batch is processed and produced: a rebalance listener that takes it
        and then calls ``drain`` sees every batch either not started or in flight."""
        self._completing = asyncio.Lock()
        self._flushing = asyncio.Lock()
        self._flush: Callable[[int | None], Awaitable[Outcome]] | None = getattr(
            handler, "flush", None
        )
        self.flush_interval_s = flush_interval_ms / 1000
        self.flush_slice = max(1, flush_slice)
        self._rounds = 0
        """Flush rounds started so far."""
        self._round_open = False
        """A round is in progress: some of its slices are still to be produced."""
        self._deferred_since_round = 0
        """Deferred batches processed since the last round began (none: no round due)."""
        self._held: dict[int, dict[TopicPartition, int]] = {}
        """Offsets of complete deferred batches, by the round that covers them (``round``
        + 1), waiting for that round to be durable."""
        self._clock = clock
        self._last_flush = clock()
        self._per_record_s: float | None = None
        self._in_flight: deque[_InFlight] = deque()
        self._stopping = asyncio.Event()
        self.stats = LoopStats()

    # --- running ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the batches in flight, fetch nothing more, and return from ``run``."""
        self._stopping.set()

    @property
    def next_fetch(self) -> int:
        """How many records to fetch so that processing them takes about ``budget_ms``."""
        if self._per_record_s is None or self._per_record_s <= 0:
            return self.max_records
        fits = int(self.budget_s / self._per_record_s)
        return max(self.min_records, min(self.max_records, fits))

    async def run(self) -> None:
        """Until ``stop`` (or ``on_idle`` says there is nothing left to do)."""
        try:
            await self._run()
        except LoopStopped as stopped:
            log.info("%s", stopped)

    async def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                wait = 0 if self._in_flight else self.wait_ms
                batch = await self.consumer.getmany(timeout_ms=wait, max_records=self.next_fetch)
                batch = {tp: records for tp, records in batch.items() if records}
                if batch:
                    await self._start(batch)
                while self._in_flight and (
                    self._batches_in_flight() >= self.max_in_flight
                    or (not batch and not self._slice_next())
                ):
                    await self._complete_oldest()
                if self._flush is not None:
                    if not batch and wait:  # nothing came for wait_ms: idle, flush now
                        await self.flush()
                    elif self._round_open or (
                        self._deferred_since_round
                        and self._clock() - self._last_flush >= self.flush_interval_s
                    ):
                        await self._flush_slice()
                on_idle = self.on_idle
                if not batch and not self._in_flight and on_idle is not None:
                    if self._flush is not None:
                        await self.flush()  # nothing held back when it says "done"
                    if await on_idle():
                        return
        finally:
            if self._stopping.is_set():
                await self.drain()

    def _slice_next(self) -> bool:
        """With no batch to process: whether the round's next slice goes out before the
        oldest in flight is waited for (up to ``max_in_flight`` of them in flight), so
        the acknowledgements of one slice are awaited while the next is encoded, not
        one after the other."""
        return self._round_open and len(self._in_flight) < self.max_in_flight

    def _batches_in_flight(self) -> int:
        """Batches in flight, not counting flush slices (they wait in line, in order)."""
        return sum(1 for flight in self._in_flight if not flight.flush)

    async def drain(self) -> None:
        """Complete every batch in flight, in order, and flush what the handler holds back
        (before partitions are handed over, and before a stop)."""
        while self._in_flight:
            await self._complete_oldest()
        if self._flush is not None:
            await self.flush()

    async def flush(self) -> None:
        """Everything held back made durable and committed, waiting for it all: every batch
        in flight complete, the round in progress finished, then one more round for what
        was held back since, each slice acknowledged and durable before the next."""
        while self._in_flight:
            await self._complete_oldest()
        if self._flush is None:
            return
        async with self._flushing:
            started = self._clock()
            for _ in range(2 if self._round_open else 1):
                await self._slice(None)
                await self._complete_oldest()
            self.stats.busy_s += self._clock() - started

    async def _flush_slice(self) -> None:
        """The next slice of the flush round (a new round once the interval is up),
        pipelined: its records are produced now and complete in order behind the batches
        in flight while the next batches are processed, so a big round never stops the
        stage for long."""
        async with self._lock:
            started = self._clock()
            await self._slice(self.flush_slice)
            self.stats.busy_s += self._clock() - started

    async def _slice(self, limit: int | None) -> None:
        assert self._flush is not None
        if not self._round_open:
            self._rounds += 1
            self._last_flush = self._clock()
            self._deferred_since_round = 0
        outcome = await self._flush(limit)
        self._round_open = outcome.more
        acks = await self._send(outcome.produce)
        self._in_flight.append(
            _InFlight(
                {}, acks, outcome.durable, 0, round=self._rounds, flush=True, last=not outcome.more
            )
        )
        self.stats.produced += len(outcome.produce)

    # --- one batch -------------------------------------------------------------------------

    async def _start(self, batch: Batch) -> None:
        async with self._lock:
            await self._start_locked(batch)

    async def _start_locked(self, batch: Batch) -> None:
        started = self._clock()
        records = sum(len(r) for r in batch.values())
        outcome = await self._process(batch)
        acks = await self._send(outcome.produce)
        offsets = {
            tp: recs[-1].offset + 1 for tp, recs in batch.items() if tp not in outcome.unprocessed
        }
        self._in_flight.append(
            _InFlight(
                offsets,
                acks,
                outcome.durable,
                records,
                deferred=outcome.deferred,
                round=self._rounds,
            )
        )
        self._deferred_since_round += outcome.deferred
        took = self._clock() - started
        self.stats.busy_s += took
        per_record = took / records
        self._per_record_s = (
            per_record
            if self._per_record_s is None
            else 0.8 * self._per_record_s + 0.2 * per_record
        )
        self.stats.batches += 1
        self.stats.records += records
        self.stats.produced += len(outcome.produce)

    async def _send(self, records: list[Produce]) -> Awaitable[list[Any]] | None:
        """Produce ``records`` without waiting; the awaitable of their acknowledgements."""
        if not records:
            return None
        many = getattr(self.producer, "send_many", None)
        if many is not None:
            acks: Awaitable[list[Any]] = await many(records)
            return acks
        send = self.producer.send
        return asyncio.gather(
            *[
                await send(p.topic, p.value, key=p.key, partition=p.partition, headers=p.headers)
                for p in records
            ]
        )

    async def _process(self, batch: Batch) -> Outcome:
        """``handler.process``, again and again while what it needs is unavailable."""
        attempt = 0
        while True:
            if self._stopping.is_set() and attempt:
                raise LoopStopped(f"{self.name}: stopped while waiting; nothing committed")
            try:
                outcome = await self.handler.process(batch)
            except ServiceUnavailable as exc:
                attempt += 1
                self.stats.retries += 1
                delay = self._retry(attempt)
                waiting = (
                    f"{exc.service} unavailable: {exc.problem} (attempt {attempt}, next in "
                    f"{delay:.2f}s; nothing committed meanwhile)"
                )
                log.warning("%s: %s", self.name, waiting)
                if self.on_waiting is not None:
                    self.on_waiting(waiting)
                await self._wait_in_group(delay)
                continue
            if attempt:
                log.warning("%s: recovered after %d attempts", self.name, attempt + 1)
                if self.on_waiting is not None:
                    self.on_waiting(None)
            return outcome

    async def _complete_oldest(self) -> None:
        """Complete the oldest batch in flight; one at a time, so commits stay in order."""
        async with self._completing:
            if self._in_flight:
                await self._complete(self._in_flight[0])
                self._in_flight.popleft()

    async def _complete(self, flight: _InFlight) -> None:
        metas = list(await flight.acks) if flight.acks is not None else []
        if flight.durable is not None:
            await flight.durable(metas)
        if flight.flush:
            if flight.last:  # the round is durable: commit the batches it covers
                covered: dict[TopicPartition, int] = {}
                for tag in [tag for tag in self._held if tag < flight.round]:
                    for tp, offset in self._held.pop(tag).items():
                        covered[tp] = max(offset, covered.get(tp, 0))
                if covered:
                    await self._commit(covered)
        elif flight.deferred:
            held = self._held.setdefault(flight.round, {})
            for tp, offset in flight.offsets.items():
                held[tp] = max(offset, held.get(tp, 0))
        else:
            await self._commit(flight.offsets)
        if self.on_batch is not None and not flight.flush:
            self.on_batch(flight.records)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        owned = self.consumer.assignment()
        mine = {tp: offset for tp, offset in offsets.items() if tp in owned}
        if len(mine) < len(offsets):
            log.warning(
                "%s: partitions %s moved to another member before the commit; it re-reads "
                "their records (harmless: every stage skips what it already applied)",
                self.name,
                sorted(f"{tp.topic}[{tp.partition}]" for tp in set(offsets) - set(mine)),
            )
        if not mine:
            return
        try:
            await self.consumer.commit(mine)
        except (CommitFailedError, IllegalStateError, CommitRefused) as exc:
            log.warning(
                "%s: commit refused after a rebalance (%s); the records are read again",
                self.name,
                exc,
            )

    async def _wait_in_group(self, delay: float) -> None:
        """Sleep ``delay`` seconds with partitions paused, polling so the group keeps us."""
        consumer = self.consumer
        deadline = self._clock() + delay
        try:
            while not self._stopping.is_set():
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), min(remaining, 1.0))
                consumer.pause(*consumer.assignment())
                stray = await consumer.getmany(timeout_ms=0)
                for tp, messages in stray.items():
                    if messages:
                        consumer.seek(tp, messages[0].offset)
        finally:
            consumer.resume(*consumer.paused())
