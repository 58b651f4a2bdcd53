"""The webhook sink: each milestone POSTed, signed, to every subscriber whose filter matches.

The body is the milestone CloudEvent in structured mode (``Content-Type:
application/cloudevents+json``), signed as ``sinks.signing`` describes. A
2xx answer is a delivery. Timeouts, connection errors, 408, 429 and 5xx are
retried with full-jitter backoff, waiting what ``Retry-After`` asks when the
subscriber sends it; any other answer (a 3xx, a 4xx) is final at once.

Retry budget, per subscriber and batch: at most ``webhook_max_attempts``
attempts per milestone, and no retry starts later than ``webhook_max_elapsed_s``
after the subscriber's share of the batch began. A milestone that runs out of
budget (or gets a final answer) goes to the dead-letter topic as a
``MilestoneDeliveryFailure`` naming the subscriber and the last error; the
stream goes on. A milestone still waiting for its first attempt when the
window closes is still tried once.

Subscribers are served concurrently, each with at most
``webhook_concurrency`` requests in flight; one learner's milestones go to a
subscriber one after the other, in order (a later one waits for the earlier
one's delivery or dead letter). Every request is cut at
``webhook_timeout_s``, so a subscriber holds a batch up for at most about
``max_elapsed + timeout * (1 + m)`` seconds, ``m`` being the larger of
ceil(milestones for it in the batch / concurrency) and the most milestones
one learner has in the batch. The runner commits the batch only when every
milestone is delivered or dead-lettered to every subscriber that wants it.

All subscribers share one ``httpx.AsyncClient`` (one connection pool).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from schemas.milestones import MilestoneKind
from sinks.base import DeadLetter, Feed, MilestoneRecord, Sink, SinkRecord, WriteResult
from sinks.deadletters import delivery_failure
from sinks.retry import Backoff, parse_retry_after
from sinks.signing import ATTEMPT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header
from skillstream.errors import ConfigError
from skillstream.settings import Sinks, Webhook

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
USER_AGENT = "skillstream-webhook/1"
RETRYABLE_STATUS = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    timeout_s: float
    max_attempts: int
    max_elapsed_s: float
    concurrency: int
    backoff: Backoff

    @classmethod
    def from_settings(cls, sinks: Sinks) -> DeliveryPolicy:
        return cls(
            timeout_s=sinks.webhook_timeout_s,
            max_attempts=sinks.webhook_max_attempts,
            max_elapsed_s=sinks.webhook_max_elapsed_s,
            concurrency=sinks.webhook_concurrency,
            backoff=Backoff(sinks.retry_initial_s, sinks.retry_max_s),
        )


def shown_url(url: str) -> str:
    """The URL without credentials or query string (either may hold a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def matches(subscriber: Webhook, record: MilestoneRecord) -> bool:
    """A subscriber's filter: kinds and skills, each empty for "all"; both must match."""
    data = record.event.data
    if subscriber.kinds and data.kind.value not in subscriber.kinds:
        return False
    if subscriber.skills:
        skills = {data.skill, *data.skills} - {None}
        return not skills.isdisjoint(subscriber.skills)
    return True


@dataclass(frozen=True, slots=True)
class _Answer:
    delivered: bool
    retryable: bool
    error: str
    retry_after: float | None = None


class WebhookSink(Sink):
    """Signed CloudEvents to HTTP subscribers (see the module docstring for the guarantees)."""

    name = "webhook"
    feeds = frozenset({Feed.MILESTONES})

    def __init__(
        self,
        subscribers: Sequence[Webhook],
        policy: DeliveryPolicy,
        *,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not subscribers:
            raise ConfigError(
                "no webhook subscribers configured: set SKILLSTREAM_WEBHOOKS, e.g. "
                '\'[{"name": "crm", "url": "https://crm.example/hooks/skillstream", '
                '"secret": "…"}]\''
            )
        known = {kind.value for kind in MilestoneKind}
        for subscriber in subscribers:
            unknown = sorted(set(subscriber.kinds) - known)
            if unknown:
                raise ConfigError(
                    f"webhook {subscriber.name}: unknown milestone kind(s) {', '.join(unknown)}; "
                    f"known: {', '.join(sorted(known))}"
                )
        names = [s.name for s in subscribers]
        if len(set(names)) != len(names):
            raise ConfigError(f"webhook names must be unique, got {names}")
        self._subscribers = tuple(subscribers)
        self._policy = policy
        self._client = client
        self._own_client = client is None
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._rng = rng
        self._gates = {s.name: asyncio.Semaphore(policy.concurrency) for s in subscribers}

    def describe(self) -> str:
        return ", ".join(f"{s.name} ({shown_url(s.url)})" for s in self._subscribers)

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._policy.timeout_s),
                limits=httpx.Limits(
                    max_connections=self._policy.concurrency * len(self._subscribers),
                    max_keepalive_connections=self._policy.concurrency * len(self._subscribers),
                ),
                headers={"User-Agent": USER_AGENT},
                follow_redirects=False,
            )

    async def close(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("the webhook sink is not started")
        return self._client

    async def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        unique: dict[str, MilestoneRecord] = {}
        for record in batch:
            if isinstance(record, MilestoneRecord):
                unique.setdefault(record.event.id, record)
        milestones = list(unique.values())
        bodies = {r.event.id: r.event.model_dump_json().encode("utf-8") for r in milestones}
        outcomes = await asyncio.gather(
            *(
                self._serve(subscriber, [r for r in milestones if matches(subscriber, r)], bodies)
                for subscriber in self._subscribers
            )
        )
        result = WriteResult()
        failed: set[str] = set()
        for delivered, letters in outcomes:
            result.deliveries += delivered
            for milestone_id, letter in letters:
                failed.add(milestone_id)
                result.dead_letters.append(letter)
        result.written = len(milestones) - len(failed)
        return result

    async def _serve(
        self, subscriber: Webhook, records: list[MilestoneRecord], bodies: dict[str, bytes]
    ) -> tuple[int, list[tuple[str, DeadLetter]]]:
        """One subscriber's share of a batch: learners in parallel, each learner in order."""
        if not records:
            return 0, []
        window_ends = self._monotonic() + self._policy.max_elapsed_s
        by_learner: dict[str, list[MilestoneRecord]] = defaultdict(list)
        for record in records:
            by_learner[record.learner].append(record)

        async def chain(items: list[MilestoneRecord]) -> list[tuple[str, DeadLetter] | None]:
            return [
                await self._deliver(subscriber, r, bodies[r.event.id], window_ends) for r in items
            ]

        chains = await asyncio.gather(*(chain(items) for items in by_learner.values()))
        letters = [outcome for results in chains for outcome in results if outcome is not None]
        return len(records) - len(letters), letters

    async def _deliver(
        self, subscriber: Webhook, record: MilestoneRecord, body: bytes, window_ends: float
    ) -> tuple[str, DeadLetter] | None:
        """Deliver one milestone to one subscriber; a dead letter if it cannot be."""
        policy = self._policy
        attempt = 0
        while True:
            attempt += 1
            async with self._gates[subscriber.name]:
                answer = await self._post(subscriber, record, body, attempt)
            if answer.delivered:
                return None
            if not answer.retryable:
                return self._give_up(subscriber, record, answer.error, attempt)
            if attempt >= policy.max_attempts:
                return self._give_up(
                    subscriber, record, f"{answer.error}; gave up after {attempt} attempts", attempt
                )
            wait = answer.retry_after
            if wait is None:
                wait = policy.backoff.delay(attempt, self._rng)
            if self._monotonic() + wait > window_ends:
                why = (
                    f"it asked to retry after {wait:.0f}s"
                    if answer.retry_after is not None
                    else "the next retry"
                )
                return self._give_up(
                    subscriber,
                    record,
                    f"{answer.error}; {why} would pass the {policy.max_elapsed_s:g}s retry "
                    f"window (after {attempt} attempts)",
                    attempt,
                )
            await self._sleep(wait)

    def _give_up(
        self, subscriber: Webhook, record: MilestoneRecord, error: str, attempts: int
    ) -> tuple[str, DeadLetter]:
        letter = delivery_failure(
            f"webhook:{subscriber.name}", record, error, attempts, datetime.now(UTC)
        )
        return record.event.id, letter

    async def _post(
        self, subscriber: Webhook, record: MilestoneRecord, body: bytes, attempt: int
    ) -> _Answer:
        where = f"webhook {subscriber.name} ({shown_url(subscriber.url)})"
        timestamp = int(self._wall_clock())
        secret = subscriber.secret.get_secret_value()
        headers = {
            "Content-Type": CONTENT_TYPE,
            SIGNATURE_HEADER: signature_header(secret, timestamp, body),
            EVENT_ID_HEADER: record.event.id,
            ATTEMPT_HEADER: str(attempt),
        }
        timeout = self._policy.timeout_s
        try:
            async with asyncio.timeout(timeout):
                response = await self.client.post(subscriber.url, content=body, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            return _Answer(False, True, f"{where}: no answer within {timeout:g}s")
        except httpx.TransportError as exc:
            detail = str(exc) or type(exc).__name__
            return _Answer(False, True, f"{where}: connection failed: {detail}")
        status = response.status_code
        if 200 <= status < 300:
            return _Answer(True, False, "")
        error = f"{where}: HTTP {status} {response.reason_phrase}".rstrip()
        if status in RETRYABLE_STATUS or status >= 500:
            wait = parse_retry_after(
                response.headers.get("Retry-After"),
                datetime.fromtimestamp(self._wall_clock(), UTC),
            )
            return _Answer(False, True, error, wait)
        if 300 <= status < 400:
            error += " (redirects are not followed: configure the final URL)"
        return _Answer(False, False, error)
