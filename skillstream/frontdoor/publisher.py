"""Producing accepted statements to Kafka before the front door answers.

The front door answers 200/204 only once every statement of the request is
acknowledged by all in-sync replicas (``acks=all``, idempotent producer): an
LMS that got a 200 may forget the statements. When Kafka does not acknowledge
within ``timeout_s`` the request is answered 503 naming the broker; some of
its statements may have been written all the same, which is harmless because
a retry carries the same ids (see ``statements.py``) and the pipeline drops
statement ids it has already applied.

One producer serves the app (started and stopped by the FastAPI lifespan): a
producer per request would cost a broker connection and a metadata round trip
per request and defeat batching across requests. It is **replaced** when it
can no longer deliver anything:

* a produce answer with an error that poisons the idempotent producer's state
  (:data:`FATAL_ERRORS`: ``OutOfOrderSequenceNumber`` after a broker restart,
  ``UnknownProducerId``, a fenced or invalid epoch): aiokafka keeps the
  sequence numbers that the broker refuses, so every later batch to that
  partition would fail the same way for as long as the process lives;
* its background sender task ending (every later record would wait forever).

Then the producer is marked broken: requests waiting on it and new requests
are answered 503 at once (the LMS retries; ids are deterministic, so a retry
is harmless), one replacement task closes it (bounded wait) and starts a
fresh producer (new producer id, sequences from 0), retrying with a backoff
that doubles from :data:`RESTART_BACKOFF_S` up to :data:`RESTART_BACKOFF_MAX_S`
while the broker cannot be reached. There is never more than one replacement
task, nor more than one producer open at a time.

:meth:`KafkaPublisher.check` (``/healthz``) says whether the front door can
publish, not only whether a broker answers: unhealthy while the producer is
broken or being replaced, when its sender task has ended, when no broker
serves metadata, when a partition of the statements topic has no leader, and
for :data:`FAILURE_WINDOW_S` seconds after a publish failed for a broker-side
reason (no acknowledgement, a send error) unless a publish has succeeded since.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaConnectionError,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

from skillstream.errors import ServiceUnavailable
from skillstream.frontdoor.statements import VERSION_HEADER, Outgoing
from streams.kafka.connection import KafkaConnection, connection

logger: Final = logging.getLogger("skillstream.frontdoor.publisher")

HINT: Final = "is the broker running? SKILLSTREAM_KAFKA__BOOTSTRAP_SERVERS chooses it"
RETRY_HINT: Final = "retry the request: its statement ids are the same, so nothing counts twice"

FATAL_ERRORS: Final[tuple[type[Exception], ...]] = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerFenced,
)
"""Produce errors after which this producer will never deliver again: it is replaced."""

RESTART_BACKOFF_S: Final = 0.25
RESTART_BACKOFF_MAX_S: Final = 5.0
"""Wait before the first retry to start a replacement producer, doubling up to the maximum."""
CLOSE_TIMEOUT_S: Final = 5.0
"""How long a broken producer may take to close before its sender is cancelled."""
FAILURE_WINDOW_S: Final = 30.0
"""``/healthz`` reports a broker-side publish failure this long, unless a publish succeeds."""


class Publisher(Protocol):
    """What the app needs from Kafka; tests pass a fake with the same shape."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, records: Sequence[Outgoing], version: str) -> None: ...

    async def check(self, timeout_s: float) -> str:
        """A one-line description of what answered; raises ``ServiceUnavailable`` if nothing."""
        ...


ProducerFactory = Callable[[], Any]
"""Makes an unstarted producer with AIOKafkaProducer's interface (tests pass fakes)."""


class RecordRefused(ServiceUnavailable):
    """Kafka refused a record for what it is (too large, invalid), not for the broker's state."""


def _settled(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text and name not in text else text or name


def sender_task_of(producer: Any) -> asyncio.Future[Any] | None:
    """The producer's background sender task (aiokafka keeps it on ``_sender``), or None."""
    task = getattr(getattr(producer, "_sender", None), "sender_task", None)
    return task if isinstance(task, asyncio.Future) else None


class _Generation:
    """One producer and whether it has been given up on (``broken`` is set then)."""

    def __init__(self, producer: Any, number: int) -> None:
        self.producer = producer
        self.number = number
        self.broken = asyncio.Event()
        self.reason = ""


class KafkaPublisher:
    """Produces to the statements topic with one ``AIOKafkaProducer``, replaced when it breaks."""

    def __init__(
        self,
        kafka: KafkaConnection | str,
        topic: str,
        *,
        timeout_s: float = 10.0,
        linger_ms: int = 0,
        client_id: str = "frontdoor",
        producer_factory: ProducerFactory | None = None,
        restart_backoff_s: float = RESTART_BACKOFF_S,
        restart_backoff_max_s: float = RESTART_BACKOFF_MAX_S,
    ) -> None:
        self.kafka = connection(kafka)
        self.bootstrap = self.kafka.bootstrap_servers
        self.topic = topic
        self.timeout_s = timeout_s
        self._linger_ms = linger_ms
        self._client_id = client_id
        self._factory = producer_factory or self._new_producer
        self._backoff = (restart_backoff_s, restart_backoff_max_s)
        self._current: _Generation | None = None
        self._generations = 0
        self._replacing: asyncio.Task[None] | None = None
        self._replace_problem = ""
        self._stopped = False
        self._last_ok: float | None = None
        self._last_failure: tuple[float, str] | None = None
        self.replacements = 0
        """How many times a broken producer has been replaced (for logs and tests)."""

    def _new_producer(self) -> AIOKafkaProducer:
        return self.kafka.producer(
            client=self._client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=self._linger_ms,
            request_timeout_ms=max(int(self.timeout_s * 1000), 1000),
        )

    def _unavailable(self, problem: str) -> ServiceUnavailable:
        return ServiceUnavailable(f"Kafka at {self.bootstrap}", problem, HINT)

    @property
    def healthy_producer(self) -> bool:
        """A producer is open and not given up on."""
        current = self._current
        return current is not None and not current.broken.is_set()

    # --- lifetime ---------------------------------------------------------------------------

    async def _open(self) -> _Generation:
        """A started producer, or ``ServiceUnavailable``; bounded by ``timeout_s``."""
        producer = self._factory()
        limit = max(self.timeout_s, 1.0)
        try:
            async with asyncio.timeout(limit):
                await producer.start()
        except BaseException as exc:  # also cancelled: a half-started producer is closed
            await self._close(producer)
            if not isinstance(exc, KafkaError | OSError | TimeoutError):
                raise
            problem = f"not ready within {limit:g}s" if isinstance(exc, TimeoutError) else exc
            raise self._unavailable(f"cannot connect: {problem}") from exc
        self._generations += 1
        generation = _Generation(producer, self._generations)
        sender = sender_task_of(producer)
        if sender is not None:
            sender.add_done_callback(lambda task: self._sender_ended(generation, task))
        return generation

    async def start(self) -> None:
        """Connect; a second call is a no-op. Raises ``ServiceUnavailable`` naming the broker."""
        if self._current is not None:
            return
        self._stopped = False
        self._current = await self._open()

    async def stop(self) -> None:
        self._stopped = True
        replacing, self._replacing = self._replacing, None
        if replacing is not None and not replacing.done():
            replacing.cancel()
            await asyncio.wait({replacing})
        current, self._current = self._current, None
        if current is not None:
            if current.broken.is_set():
                await self._close(current.producer)
            else:
                await current.producer.stop()

    async def _close(self, producer: Any) -> None:
        """Close ``producer`` without waiting more than ``CLOSE_TIMEOUT_S`` for it to flush."""
        stopping = asyncio.ensure_future(producer.stop())
        done, _ = await asyncio.wait({stopping}, timeout=CLOSE_TIMEOUT_S)
        if done:
            if not stopping.cancelled() and stopping.exception() is not None:
                logger.warning(
                    "closing the old Kafka producer failed: %s", _describe(stopping.exception())
                )
            return
        sender = sender_task_of(producer)
        if sender is not None:  # stop() returns once the sender task is over
            sender.cancel()
        done, _ = await asyncio.wait({stopping}, timeout=CLOSE_TIMEOUT_S)
        if not done:
            stopping.cancel()
            logger.warning("the old Kafka producer did not close within %gs", 2 * CLOSE_TIMEOUT_S)

    # --- giving up on a producer, and replacing it ----------------------------------------

    def _sender_ended(self, generation: _Generation, task: asyncio.Future[Any]) -> None:
        failure = None if task.cancelled() else task.exception()
        if task.cancelled():
            why = "its sender task was cancelled"
        elif failure is not None:
            why = f"its sender task failed: {_describe(failure)}"
        else:
            why = "its sender task ended"
        self._give_up(generation, why)

    def _give_up(self, generation: _Generation, reason: str) -> None:
        """Mark ``generation`` broken and start replacing it (once, whoever calls first)."""
        if self._stopped or generation is not self._current or generation.broken.is_set():
            return
        generation.reason = reason
        generation.broken.set()
        self._record_failure(f"the producer failed: {reason}")
        logger.warning(
            "Kafka producer %d at %s gave up (%s): replacing it; requests are answered 503 "
            "until a new producer is ready",
            generation.number,
            self.bootstrap,
            reason,
        )
        if self._replacing is None or self._replacing.done():
            self._replacing = asyncio.get_running_loop().create_task(
                self._replace(generation), name="skillstream-frontdoor-producer-replacement"
            )

    async def _replace(self, broken: _Generation) -> None:
        await self._close(broken.producer)
        delay, longest = self._backoff
        attempt = 0
        while not self._stopped:
            attempt += 1
            try:
                fresh = await self._open()
            except ServiceUnavailable as exc:
                self._replace_problem = f"attempt {attempt} failed: {exc.problem}"
                logger.warning(
                    "replacing the Kafka producer: %s; next attempt in %gs",
                    self._replace_problem,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, longest)
                continue
            if self._stopped:
                await fresh.producer.stop()
                return
            self._current = fresh
            self._replace_problem = ""
            self.replacements += 1
            logger.info(
                "Kafka producer %d at %s ready after %d attempt(s), replacing producer %d",
                fresh.number,
                self.bootstrap,
                attempt,
                broken.number,
            )
            return

    # --- publishing ---------------------------------------------------------------------------

    def _record_failure(self, reason: str) -> None:
        self._last_failure = (asyncio.get_running_loop().time(), reason)

    def _broken_answer(self, generation: _Generation | None) -> ServiceUnavailable:
        if generation is None:
            return self._unavailable("the front door's producer is not started")
        detail = f"; {self._replace_problem}" if self._replace_problem else ""
        return self._unavailable(
            f"the producer failed ({generation.reason}) and is being replaced{detail}: {RETRY_HINT}"
        )

    async def publish(self, records: Sequence[Outgoing], version: str) -> None:
        """Produce ``records`` in order and wait until every one is acknowledged (acks=all)."""
        generation = self._current
        if generation is None or generation.broken.is_set():
            raise self._broken_answer(generation)
        if not records:
            return
        try:
            await self._publish(generation, records, version)
        except RecordRefused:
            raise
        except ServiceUnavailable as exc:
            self._record_failure(exc.problem)
            raise
        self._last_ok = asyncio.get_running_loop().time()

    async def _publish(
        self, generation: _Generation, records: Sequence[Outgoing], version: str
    ) -> None:
        producer = generation.producer
        headers = [(VERSION_HEADER, version.encode("utf-8"))]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        try:
            async with asyncio.timeout(self.timeout_s):
                futures = [
                    await producer.send(self.topic, r.value, key=r.key, headers=headers)
                    for r in records
                ]
        except TimeoutError as exc:
            raise self._unavailable(
                f"no room to queue {len(records)} statement(s) within {self.timeout_s:g}s"
            ) from exc
        except FATAL_ERRORS as exc:
            self._give_up(generation, _describe(exc))
            raise self._broken_answer(generation) from exc
        except (KafkaError, OSError) as exc:
            raise self._unavailable(f"could not produce to {self.topic}: {exc}") from exc
        acknowledged: asyncio.Future[Any] = asyncio.gather(*futures, return_exceptions=True)
        given_up: asyncio.Future[Any] = loop.create_task(generation.broken.wait())
        try:
            await asyncio.wait(
                {acknowledged, given_up},
                timeout=max(deadline - loop.time(), 0),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            given_up.cancel()
        pending = [f for f in futures if not f.done()]
        for future in pending:  # settled later: retrieve the outcome so none goes unheard
            future.add_done_callback(_settled)
        failures = [f.exception() for f in futures if f.done() and not f.cancelled()]
        fatal = next((e for e in failures if isinstance(e, FATAL_ERRORS)), None)
        if fatal is not None:
            self._give_up(generation, _describe(fatal))
        if generation.broken.is_set() and (pending or fatal is not None):
            raise self._broken_answer(generation)
        if pending:
            raise self._unavailable(
                f"{len(pending)} of {len(records)} statement(s) not acknowledged by the in-sync "
                f"replicas of {self.topic} within {self.timeout_s:g}s"
            )
        failure = next((e for e in failures if e is not None), None)
        if failure is not None:
            problem = f"{self.topic} refused a statement: {failure}"
            if isinstance(failure, KafkaError) and failure.retriable:
                raise self._unavailable(problem) from failure
            raise RecordRefused(f"Kafka at {self.bootstrap}", problem, HINT) from failure

    # --- health ----------------------------------------------------------------------------

    async def check(self, timeout_s: float) -> str:
        """Whether a publish can succeed now (see the module docstring); raises if not."""
        generation = self._current
        if generation is None or generation.broken.is_set():
            raise self._broken_answer(generation)
        sender = sender_task_of(generation.producer)
        if sender is not None and sender.done():
            self._give_up(generation, "its sender task ended")
            raise self._broken_answer(generation)
        try:
            async with asyncio.timeout(timeout_s):
                metadata = await generation.producer.client.fetch_all_metadata()
        except TimeoutError as exc:
            raise self._unavailable(f"no metadata within {timeout_s:g}s") from exc
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            raise self._unavailable(_describe(exc)) from exc
        if self.topic not in metadata.topics():
            raise self._unavailable(
                f"topic {self.topic} does not exist (create it: skillstream topics create)"
            )
        partitions = metadata.partitions_for_topic(self.topic) or set()
        led = metadata.available_partitions_for_topic(self.topic) or set()
        if not partitions or len(led) < len(partitions):
            raise self._unavailable(
                f"{len(partitions) - len(led)} of {len(partitions)} partition(s) of {self.topic} "
                "have no leader"
            )
        now = asyncio.get_running_loop().time()
        if self._last_failure is not None:
            failed_at, reason = self._last_failure
            recent = now - failed_at < FAILURE_WINDOW_S
            if recent and (self._last_ok is None or self._last_ok < failed_at):
                raise self._unavailable(
                    f"the last publish failed {now - failed_at:.0f}s ago and none succeeded "
                    f"since: {reason}"
                )
        last = "no publish yet" if self._last_ok is None else "last publish acknowledged"
        return (
            f"{len(metadata.brokers())} broker(s), topic {self.topic} present, "
            f"{len(partitions)} partition(s) led; producer {generation.number} ready ({last})"
        )
