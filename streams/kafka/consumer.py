"""The hot stages' consumer: librdkafka (confluent-kafka) behind the batch loop's ``Consumer``.

Ingest reads one record per statement. aiokafka fetches, decompresses and unpacks each
record batch in Python on the event loop, and keeps the group's heartbeats there too;
librdkafka does all of that in its own C threads, so the event loop is left with one
small object per record. The stages do not see the difference: ``getmany`` returns, as
aiokafka's does, each partition's records (``Record``: ``topic``, ``partition``,
``offset``, ``key``, ``value``, ``headers``, ``timestamp``), keyed by aiokafka's
``TopicPartition``.

Threads. Reading (librdkafka's ``poll`` and ``consume``) runs on one thread of its own
(the event loop stays free while it waits for records), and librdkafka calls the rebalance
callbacks on that thread, inside that read. The callbacks hand the stage's listener
(``on_partitions_revoked``, ``on_partitions_assigned``, as for aiokafka) to the event loop
and wait for it: a revoked partition is handed over only once the listener has drained
and committed what was in flight, the same order aiokafka keeps. librdkafka answers a commit made on another thread
only once the callback has returned, so while a callback waits, the listener's commits
are run by the callback's own thread; other commits run on a thread of their own.

Settings kept from the aiokafka consumers they replace: offsets committed only by the
stage (no auto-commit), ``earliest`` for a group with no commit, round-robin assignment
(aiokafka's default: old and new workers can share a group while they are rolled), the
same session timeout and heartbeat interval (``streams.membership``), uncommitted reads.

Errors: a fatal error, or one librdkafka will not retry, fails ``getmany`` with
``ConsumeFailed`` (a ``KafkaError`` of aiokafka's kind: the supervisor starts the stage
again from its last commit); a broker that went away is retried by librdkafka and only
logged. A commit refused because the group moved on raises ``CommitRefused``, which the
batch loop logs (the records are read again, harmlessly).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError as AIOKafkaError

from streams.kafka.connection import KafkaConnection

log = logging.getLogger(__name__)

DEFAULT_MAX_RECORDS = 5000
"""What one ``getmany`` returns at most when the caller names no limit."""


class ConsumeFailed(AIOKafkaError):  # type: ignore[misc]
    """librdkafka failed in a way it will not retry (or the consumer is not started)."""


class CommitRefused(AIOKafkaError):  # type: ignore[misc]
    """The group refused a commit: it rebalanced, and this member's generation is over."""


class Listener(Protocol):
    """What a stage hears about its partitions (aiokafka's ``ConsumerRebalanceListener``)."""

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None: ...

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None: ...


class Record:
    """One consumed record, with the attributes of aiokafka's ``ConsumerRecord`` the stages
    read: ``topic``, ``partition``, ``offset``, ``key``, ``value``, ``headers`` (a sequence
    of (name, bytes)) and ``timestamp`` (milliseconds). Each is read from librdkafka's
    message when asked for: a stage reads three or four of them per record, so building
    all seven up front would cost more than it saves."""

    __slots__ = ("_m",)

    def __init__(self, message: Any) -> None:
        self._m = message

    @property
    def topic(self) -> str:
        return str(self._m.topic())

    @property
    def partition(self) -> int:
        return int(self._m.partition())

    @property
    def offset(self) -> int:
        return int(self._m.offset())

    @property
    def key(self) -> bytes | None:
        key: bytes | None = self._m.key()
        return key

    @property
    def value(self) -> bytes | None:
        value: bytes | None = self._m.value()
        return value

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]:
        return self._m.headers() or ()

    @property
    def timestamp(self) -> int:
        return int(self._m.timestamp()[1])

    def __repr__(self) -> str:
        return f"Record({self.topic}[{self.partition}]@{self.offset}, key={self.key!r})"


_REFUSED_COMMIT = frozenset({"REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID"})
"""librdkafka's names of the errors that say the group moved on before a commit."""


class RdConsumer:
    """The batch loop's ``Consumer`` on librdkafka, in a consumer group; ``start`` it, then
    ``getmany`` until ``stop``."""

    def __init__(
        self,
        kafka: KafkaConnection,
        client: str,
        *topics: str,
        group_id: str,
        session_timeout_ms: int,
        heartbeat_interval_ms: int,
        auto_offset_reset: str = "earliest",
        fetch_max_bytes: int = 64 * 1024 * 1024,
        max_partition_fetch_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.kafka = kafka
        self._topics = list(topics)
        self._config: dict[str, Any] = {
            **kafka.librdkafka(client),
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": auto_offset_reset,
            "partition.assignment.strategy": "roundrobin",
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": heartbeat_interval_ms,
            "isolation.level": "read_uncommitted",
            "fetch.max.bytes": fetch_max_bytes,
            "max.partition.fetch.bytes": max_partition_fetch_bytes,
            "receive.message.max.bytes": fetch_max_bytes + 1024 * 1024,
            "socket.nagle.disable": True,
            # Once its prefetch queue is full, librdkafka waits this long before fetching
            # again (its default, a second, held the reading of a backlog to ~150,000
            # records/s here).
            "fetch.queue.backoff.ms": 20,
            "error_cb": self._on_error,
        }
        self._consumer: Any = None
        self._listener: Listener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._failed: BaseException | None = None
        self._closing = False
        self._paused: set[TopicPartition] = set()
        self._assigned: frozenset[TopicPartition] = frozenset()
        self._mailbox: queue.SimpleQueue[Callable[[], None] | None] | None = None
        """While a rebalance callback waits for the listener: the commits it runs for it."""
        self._mail_lock = threading.Lock()
        self._partitions: dict[tuple[str, int], TopicPartition] = {}

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the client and ask the cluster for its metadata: an unreachable cluster,
        refused credentials or an untrusted certificate fail here, naming the cluster."""
        from confluent_kafka import Consumer, KafkaException

        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rdconsumer")
        self._consumer = Consumer(self._config)
        timeout = self.kafka.request_timeout_ms / 1000
        try:
            await asyncio.to_thread(self._consumer.list_topics, timeout=timeout)
        except KafkaException as exc:
            await self.stop()
            raise ConsumeFailed(f"{self.kafka.bootstrap_servers}: {_text(exc)}") from None
        if self._failed is not None:
            failed = self._failed
            await self.stop()
            raise failed
        if self._topics:
            self.subscribe(self._topics)

    def subscribe(self, topics: list[str], listener: Listener | None = None) -> None:
        """Join the group for ``topics``; ``listener`` hears of every rebalance."""
        consumer = self._ready()
        self._topics = list(topics)
        self._listener = listener
        consumer.subscribe(self._topics, on_assign=self._on_assign, on_revoke=self._on_revoke)

    async def stop(self) -> None:
        """Leave the group and close. The listener is not called for the partitions given up
        here (as with aiokafka): the batch loop drained them before it returned."""
        consumer, self._consumer = self._consumer, None
        self._closing = True
        thread, self._thread = self._thread, None
        try:
            if consumer is not None and thread is not None:
                await asyncio.get_running_loop().run_in_executor(thread, consumer.close)
        finally:
            if thread is not None:
                thread.shutdown(wait=False)

    # --- the batch loop's Consumer -----------------------------------------------------------

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Any]]:
        """The records librdkafka has fetched, up to ``max_records``, as soon as there is
        one (waiting at most ``timeout_ms`` for it); grouped by partition, in offset order."""
        if partitions:
            raise ValueError("RdConsumer reads its whole assignment; it takes no partitions")
        consumer = self._ready()
        assert self._loop is not None
        assert self._thread is not None
        messages = await self._loop.run_in_executor(
            self._thread, _fetch, consumer, max_records or DEFAULT_MAX_RECORDS, timeout_ms / 1000
        )
        if self._failed is not None:
            raise self._failed
        batch: dict[TopicPartition, list[Any]] = {}
        current: list[Any] | None = None
        current_key: tuple[str, int] | None = None
        for m in messages:
            error = m.error()
            if error is not None:
                self._consume_error(error)
                continue
            topic = m.topic()
            partition = m.partition()
            where = (topic, partition)
            if where != current_key:
                tp = self._tp(topic, partition)
                current = batch.get(tp)
                if current is None:
                    current = batch[tp] = []
                current_key = where
            assert current is not None
            current.append(Record(m))
        return batch

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit ``offsets`` (each the next offset to read) and wait for the group's answer."""
        from confluent_kafka import KafkaException
        from confluent_kafka import TopicPartition as Partition

        consumer = self._ready()
        wanted = [Partition(tp.topic, tp.partition, offset) for tp, offset in offsets.items()]
        try:
            answered = await self._on_consumer_thread(
                partial(consumer.commit, offsets=wanted, asynchronous=False)
            )
        except KafkaException as exc:
            raise _commit_error(exc.args[0] if exc.args else None, str(exc)) from None
        for tp in answered or ():
            if tp.error is not None:
                raise _commit_error(tp.error, f"{tp.topic}[{tp.partition}]: {tp.error.str()}")

    def assignment(self) -> set[TopicPartition]:
        """The partitions assigned, as the rebalance callbacks last told them (librdkafka's
        own ``assignment`` would wait for a rebalance in progress: for the listener's drain
        that asks, a deadlock). During ``on_partitions_revoked`` the revoked partitions are
        still assigned, so the drain commits them, as with aiokafka."""
        return set(self._assigned)

    def pause(self, *partitions: TopicPartition) -> None:
        if partitions:
            self._ready().pause(_theirs(partitions))
            self._paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        if partitions:
            self._ready().resume(_theirs(partitions))
            self._paused.difference_update(partitions)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        from confluent_kafka import TopicPartition as Partition

        self._ready().seek(Partition(partition.topic, partition.partition, offset))

    # --- inside -------------------------------------------------------------------------------

    def _ready(self) -> Any:
        if self._failed is not None:
            raise self._failed
        consumer = self._consumer
        if consumer is None:
            raise ConsumeFailed("the consumer is not started")
        return consumer

    def _tp(self, topic: str, partition: int) -> TopicPartition:
        tp = self._partitions.get((topic, partition))
        if tp is None:
            tp = self._partitions[(topic, partition)] = TopicPartition(topic, partition)
        return tp

    def _on_assign(self, _consumer: Any, partitions: list[Any]) -> None:
        """librdkafka's thread, inside ``consume``: the listener runs on the event loop, and
        the assignment takes effect once it is done."""
        self._paused.clear()
        assigned = self._tps(partitions)
        self._assigned = frozenset(assigned)
        if self._listener is not None and not self._closing:
            self._call(self._listener.on_partitions_assigned(assigned))

    def _on_revoke(self, _consumer: Any, partitions: list[Any]) -> None:
        """librdkafka's thread, inside ``consume``: the partitions are handed over once the
        listener (on the event loop) has drained what was in flight."""
        self._paused.clear()
        revoked = self._tps(partitions)
        try:
            if self._listener is not None and not self._closing:
                self._call(self._listener.on_partitions_revoked(revoked))
        finally:
            self._assigned = self._assigned.difference(revoked)

    def _tps(self, partitions: list[Any]) -> list[TopicPartition]:
        return [self._tp(p.topic, p.partition) for p in partitions]

    async def _on_consumer_thread(self, call: Callable[[], Any]) -> Any:
        """``call()`` off the event loop: on the thread inside a rebalance callback while one
        waits for the listener (librdkafka answers a commit from any other thread only once
        the callback has returned: the listener's drain would wait for itself), else on a
        thread of its own. The batch loop never commits while ``getmany`` runs, so the only
        commits that meet a rebalance are the listener's."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()

        def job() -> None:
            try:
                result = call()
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting commit
                loop.call_soon_threadsafe(_settle, answer, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, answer, result, None)

        with self._mail_lock:
            mailbox = self._mailbox
            if mailbox is not None:
                mailbox.put(job)
        if mailbox is None:
            return await asyncio.to_thread(call)
        return await answer

    def _call(self, listening: Coroutine[Any, Any, None]) -> None:
        """Run the listener on the event loop and wait for it, serving its commits here."""
        loop = self._loop
        assert loop is not None
        mailbox: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        with self._mail_lock:
            self._mailbox = mailbox
        try:
            done = asyncio.run_coroutine_threadsafe(listening, loop)
            done.add_done_callback(lambda _: mailbox.put(None))
            while not done.done():
                try:
                    job = mailbox.get(timeout=1.0)
                except queue.Empty:
                    # a loop that stops meanwhile must not leave this thread waiting forever
                    if loop.is_closed() or not loop.is_running():
                        done.cancel()
                        return
                    continue
                if job is not None:
                    job()
            done.result()  # the listener's failure ends the consume that called it
        finally:
            with self._mail_lock:
                self._mailbox = None
            while not mailbox.empty():  # posted before the mailbox closed: served still
                job = mailbox.get()
                if job is not None:
                    job()

    def _consume_error(self, error: Any) -> None:
        if error.fatal() or not error.retriable():
            raise ConsumeFailed(f"{self.kafka.bootstrap_servers}: {error.str()}")
        log.warning("consuming from %s: %s (retrying)", self.kafka.bootstrap_servers, error.str())

    def _on_error(self, error: Any) -> None:
        """librdkafka's errors that are not about one record: fatal ones fail the consumer
        (the stage restarts); the others (a broker that went away) librdkafka retries."""
        if error.fatal():
            self._failed = ConsumeFailed(f"{self.kafka.bootstrap_servers}: {error.str()}")
        else:
            log.warning(
                "consuming from %s: %s (retrying)", self.kafka.bootstrap_servers, error.str()
            )


def held_partitions(consumer: RdConsumer | None) -> set[int]:
    """The partition numbers a stage's consumer holds now; none when it is not running."""
    return set() if consumer is None else {tp.partition for tp in consumer.assignment()}


def _fetch(consumer: Any, limit: int, timeout_s: float) -> list[Any]:
    """Up to ``limit`` messages, as soon as there is one (within ``timeout_s``): librdkafka's
    ``consume`` alone would wait for ``limit`` of them until the timeout, holding a trickle
    of records back (aiokafka's ``getmany`` returns what has come)."""
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    if limit == 1:
        return [first]
    messages: list[Any] = consumer.consume(limit - 1, 0)
    messages.insert(0, first)
    return messages


def _settle(answer: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if answer.done():
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)


def _theirs(partitions: Sequence[TopicPartition]) -> list[Any]:
    from confluent_kafka import TopicPartition as Partition

    return [Partition(tp.topic, tp.partition) for tp in partitions]


def _text(exc: BaseException) -> str:
    first: Any = exc.args[0] if exc.args else None
    return str(first.str()) if hasattr(first, "str") else str(exc)


def _commit_error(error: Any, text: str) -> AIOKafkaError:
    if error is not None and hasattr(error, "name") and error.name() in _REFUSED_COMMIT:
        return CommitRefused(text)
    return ConsumeFailed(f"commit: {text}")
