"""The webhook sink: each milestone POSTed, signed, to every subscriber whose filter matches.

The body is the milestone CloudEvent in structured mode (``Content-Type:
application/cloudevents+json``), signed as ``sinks.signing`` describes. A
2xx answer is a delivery. Timeouts, connection errors, 408, 429 and 5xx are
retried; any other answer (a 3xx, a 4xx) is final at once.

Retry budget: a time, per milestone and subscriber. A milestone is retried
until ``webhook_max_elapsed_s`` have passed since its first attempt, and only
then, if it is still not delivered, goes to the dead-letter topic as a
``MilestoneDeliveryFailure`` naming the subscriber and the last error; the
stream goes on. Attempts are paced by full-jitter backoff (``retry_initial_s``
doubling to ``retry_max_s``), or by ``Retry-After`` when the subscriber asks for
longer; a wait is cut to what is left of the budget, so the last attempt comes
when the budget runs out. A subscriber down for less than the budget therefore
loses nothing, however many attempts that takes.

Targets: only http and https (the settings refuse other schemes). Unless a
subscriber sets ``allow_private``, the sink refuses to post to loopback, private
(RFC 1918, unique-local), link-local (cloud metadata at 169.254.169.254
included), unspecified, multicast, reserved or otherwise non-public addresses:
an address in the URL is refused when the sink is built, a host name when the
sink starts (it is resolved then), and again at every connection. The sink
connects to the very address it checked (``AddressGuard``), so a name that
changes its answer afterwards (DNS rebinding) gets no further than a refused
delivery. Redirects are never followed, and no HTTP proxy is used.

Subscribers are served concurrently, each with at most
``webhook_concurrency`` requests in flight; one learner's milestones go to a
subscriber one after the other, in order (a later one waits for the earlier
one's delivery or dead letter). Every request is cut at ``webhook_timeout_s``,
and a retry that finds no free request slot before its milestone's budget runs
out ends the retries. So a subscriber that never answers holds a batch up for
at most about ``k * (max_elapsed + timeout * (1 + ceil(n / concurrency)))``
seconds, ``n`` being its milestones in the batch and ``k`` the most milestones
one learner has among them. The runner commits the batch only when every
milestone is delivered or dead-lettered to every subscriber that wants it.

All subscribers share one ``httpx.AsyncClient`` (one connection pool).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from sinks.base import DeadLetter, Feed, MilestoneRecord, Sink, SinkRecord, WriteResult
from sinks.config import Sinks, Webhook
from sinks.deadletters import delivery_failure
from sinks.retry import Backoff, parse_retry_after
from sinks.signing import ATTEMPT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header
from streams.core import milestone_json
from streams.core.kinds import kinds as rule_kinds
from streams.errors import ConfigError

log = logging.getLogger("skillstream.sinks")

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
USER_AGENT = "skillstream-webhook/1"
RETRYABLE_STATUS = frozenset({408, 429})
DEFAULT_PORTS: Final = {"http": 80, "https": 443}

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``resolve(host, port)``: the IP addresses a host name (or IP literal) stands for."""


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    timeout_s: float
    max_elapsed_s: float
    concurrency: int
    backoff: Backoff

    @classmethod
    def from_settings(cls, sinks: Sinks) -> DeliveryPolicy:
        return cls(
            timeout_s=sinks.webhook_timeout_s,
            max_elapsed_s=sinks.webhook_max_elapsed_s,
            concurrency=sinks.webhook_concurrency,
            backoff=Backoff(sinks.retry_initial_s, sinks.retry_max_s),
        )


def shown_url(url: str) -> str:
    """The URL without credentials or query string (either may hold a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def matches(subscriber: Webhook, record: MilestoneRecord) -> bool:
    """A subscriber's filter: kinds and skills, each empty for "all"; both must match."""
    data = record.event.data
    if subscriber.kinds and data.kind not in subscriber.kinds:
        return False
    if subscriber.skills:
        skills = {data.skill, *data.skills} - {None}
        return not skills.isdisjoint(subscriber.skills)
    return True


# --- which addresses a subscriber may be at -----------------------------------------------------

_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_UNIQUE_LOCAL: Final = ipaddress.ip_network("fc00::/7")
_RFC1918: Final = tuple(
    ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_METADATA: Final = ipaddress.ip_address("169.254.169.254")


def address_problem(address: str) -> str | None:
    """Why ``address`` (an IP literal) is not a public target, or None when it is one.

    IPv4 inside IPv6 (``::ffff:127.0.0.1``, NAT64 ``64:ff9b::7f00:1``) is judged by
    the IPv4 address it carries.
    """
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        address.split("%", 1)[0]
    )
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip == _METADATA:
        return "a link-local address (the cloud metadata service)"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv6Address) and ip in _UNIQUE_LOCAL:
        return "a private address (unique-local)"
    if isinstance(ip, ipaddress.IPv4Address) and any(ip in net for net in _RFC1918):
        return "a private address (RFC 1918)"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global:
        return "not a public address"
    return None


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def target(url: str) -> tuple[str, int]:
    """(host, port) as the connection pool sees them: IDNA host, lower case; default ports."""
    parsed = httpx.URL(url)
    return parsed.raw_host.decode("ascii").lower(), parsed.port or DEFAULT_PORTS[parsed.scheme]


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself), in order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class UnsafeTargetError(Exception):
    """A subscriber's host resolved, at connection time, to an address it may not be at."""


class AddressGuard(httpcore.AsyncNetworkBackend):
    """Connects only to public addresses, except for the (host, port) pairs in ``allowed``.

    The host is resolved here, every address checked, and the connection made to a
    checked address (the TLS server name stays the host name, so certificates are
    verified as usual). A host with any address that is not public is refused with
    ``UnsafeTargetError``.
    """

    def __init__(
        self,
        resolve: Resolver = resolve_host,
        allowed: Collection[tuple[str, int]] = (),
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._resolve = resolve
        self._allowed = frozenset(allowed)
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = list(await self._resolve(host, port))
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        if (host.lower(), port) not in self._allowed:
            for address in addresses:
                problem = address_problem(address)
                if problem is not None:
                    raise UnsafeTargetError(
                        f"refused to connect: {host} resolves to {address}, {problem}"
                    )
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are not delivered over Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (TLS verified, no proxy) whose connections go through a guard."""

    def __init__(self, guard: AddressGuard, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=guard,
        )


def _refusal(subscriber: Webhook, why: str) -> str:
    return (
        f"webhook {subscriber.name} ({shown_url(subscriber.url)}): {why}; webhooks go only to "
        'public addresses unless the subscriber has "allow_private": true in SKILLSTREAM_WEBHOOKS'
    )


# --- the sink ---------------------------------------------------------------------------------


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
        resolve: Resolver = resolve_host,
    ) -> None:
        if not subscribers:
            raise ConfigError(
                "no webhook subscribers configured: set SKILLSTREAM_WEBHOOKS, e.g. "
                '\'[{"name": "crm", "url": "https://crm.example/hooks/skillstream", '
                '"secret": "…"}]\''
            )
        known = set(rule_kinds())
        for subscriber in subscribers:
            unknown = sorted(set(subscriber.kinds) - known)
            if unknown:
                raise ConfigError(
                    f"webhook {subscriber.name}: unknown milestone kind(s) {', '.join(unknown)}; "
                    f"known: {', '.join(sorted(known))}"
                )
            host, _ = target(subscriber.url)
            if not subscriber.allow_private and _ip_literal(host):
                problem = address_problem(host)
                if problem is not None:
                    raise ConfigError(_refusal(subscriber, f"{host} is {problem}"))
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
        self._resolve = resolve
        self._gates = {s.name: asyncio.Semaphore(policy.concurrency) for s in subscribers}

    def describe(self) -> str:
        return ", ".join(f"{s.name} ({shown_url(s.url)})" for s in self._subscribers)

    def allowed_private(self) -> frozenset[tuple[str, int]]:
        """The (host, port) targets that may be private: every subscriber at one allows it."""
        by_target: dict[tuple[str, int], bool] = {}
        for subscriber in self._subscribers:
            key = target(subscriber.url)
            by_target[key] = by_target.get(key, True) and subscriber.allow_private
        return frozenset(key for key, allowed in by_target.items() if allowed)

    async def check_targets(self) -> None:
        """Resolve each subscriber's host name and refuse one at a non-public address.

        A name that cannot be resolved now is only logged: the guard checks it again
        at every connection, and deliveries to it are retried meanwhile.
        """

        async def check(subscriber: Webhook) -> None:
            host, port = target(subscriber.url)
            if subscriber.allow_private or _ip_literal(host):
                return
            try:
                async with asyncio.timeout(self._policy.timeout_s):
                    addresses = await self._resolve(host, port)
            except (OSError, TimeoutError) as exc:
                log.warning(
                    "webhook %s: cannot resolve %s now (%s); its addresses are checked "
                    "at every connection",
                    subscriber.name,
                    host,
                    str(exc) or type(exc).__name__,
                )
                return
            for address in addresses:
                problem = address_problem(address)
                if problem is not None:
                    raise ConfigError(
                        _refusal(subscriber, f"{host} resolves to {address}, {problem}")
                    )

        await asyncio.gather(*(check(s) for s in self._subscribers))

    async def start(self) -> None:
        await self.check_targets()
        if self._client is None:
            slots = self._policy.concurrency * len(self._subscribers)
            guard = AddressGuard(self._resolve, self.allowed_private())
            self._client = httpx.AsyncClient(
                transport=GuardedTransport(
                    guard, httpx.Limits(max_connections=slots, max_keepalive_connections=slots)
                ),
                timeout=httpx.Timeout(self._policy.timeout_s),
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
        bodies = {r.event.id: milestone_json(r.event) for r in milestones}
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
        by_learner: dict[str, list[MilestoneRecord]] = defaultdict(list)
        for record in records:
            by_learner[record.learner].append(record)

        async def chain(items: list[MilestoneRecord]) -> list[tuple[str, DeadLetter] | None]:
            return [await self._deliver(subscriber, r, bodies[r.event.id]) for r in items]

        chains = await asyncio.gather(*(chain(items) for items in by_learner.values()))
        letters = [outcome for results in chains for outcome in results if outcome is not None]
        return len(records) - len(letters), letters

    async def _deliver(
        self, subscriber: Webhook, record: MilestoneRecord, body: bytes
    ) -> tuple[str, DeadLetter] | None:
        """Deliver one milestone to one subscriber; a dead letter once its budget is spent."""
        policy = self._policy
        gate = self._gates[subscriber.name]
        attempt = 0
        deadline: float | None = None
        error = ""
        while True:
            if not await self._slot(gate, deadline):
                return self._give_up(
                    subscriber,
                    record,
                    f"{error}; {self._spent(attempt)} (the last retry found no free request slot)",
                    attempt,
                )
            attempt += 1
            try:
                if deadline is None:
                    deadline = self._monotonic() + policy.max_elapsed_s
                answer = await self._post(subscriber, record, body, attempt)
            finally:
                gate.release()
            if answer.delivered:
                return None
            if not answer.retryable:
                return self._give_up(subscriber, record, answer.error, attempt)
            error = answer.error
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                return self._give_up(
                    subscriber, record, f"{error}; {self._spent(attempt)}", attempt
                )
            wait = policy.backoff.delay(attempt, self._rng)
            if answer.retry_after is not None:
                wait = max(wait, answer.retry_after)
            await self._sleep(min(wait, remaining))

    def _spent(self, attempts: int) -> str:
        return (
            f"the {self._policy.max_elapsed_s:g}s retry budget since the first attempt is spent "
            f"({attempts} attempts)"
        )

    async def _slot(self, gate: asyncio.Semaphore, deadline: float | None) -> bool:
        """Take a request slot. A retry (``deadline`` set) waits for one only until the deadline."""
        if deadline is None or not gate.locked():
            await gate.acquire()
            return True
        remaining = deadline - self._monotonic()
        if remaining <= 0:
            return False
        try:
            async with asyncio.timeout(remaining):
                await gate.acquire()
        except TimeoutError:
            return False
        return True

    def _give_up(
        self, subscriber: Webhook, record: MilestoneRecord, error: str, attempts: int
    ) -> tuple[str, DeadLetter]:
        now = datetime.fromtimestamp(self._wall_clock(), UTC)
        letter = delivery_failure(f"webhook:{subscriber.name}", record, error, attempts, now)
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
        except UnsafeTargetError as exc:
            return _Answer(False, False, f"{where}: {exc}")
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
