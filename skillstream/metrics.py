"""Prometheus metrics shared by the worker and the HTTP front door.

One registry, :data:`REGISTRY`, holds every skillstream metric, so a process
serves exactly what skillstream measures (no default process collectors from
another library's import). The worker and the front door each call the small
``record_*``/``set_*`` functions below; neither touches a metric object
directly, so names and labels are decided here only.

Metrics (all prefixed ``skillstream_``):

=====================================  =========  ====================================
name                                   type       labels
=====================================  =========  ====================================
``statements_received_total``          counter    ``source`` (``http`` or ``kafka``)
``statements_rejected_total``          counter    ``reason``: problem code (HTTP 400)
``dead_letters_total``                 counter    none: statements dead-lettered
``dead_letter_reasons_total``          counter    ``reason``: problem code
``milestones_total``                   counter    ``kind``: milestone kind
``statements_credited_total``          counter    ``credited``: ``true`` (named a skill) or
                                                  ``false`` (valid, but credited none)
``catalog_credited_share``             gauge      none: credited over all, since start
``processing_latency_seconds``         histogram  none: Kafka arrival to milestone
``consumer_lag``                       gauge      ``group``, ``topic``, ``partition``
``http_requests_total``                counter    ``method``, ``route``, ``status``
``http_request_duration_seconds``      histogram  ``method``, ``route``
``gc_pause_seconds``                   histogram  ``generation`` (``0``, ``1``, ``2``): how
                                                  long each cyclic collection stopped the
                                                  worker (``streams.heap.PauseWatch``)
=====================================  =========  ====================================

A dead letter usually has several problems; it counts once in
``dead_letters_total`` and once under each distinct code in
``dead_letter_reasons_total`` (so the reasons add up to at least the dead
letters, never fewer). A falling credited share means the catalog is going stale
(new courses no mapping covers): ``skillstream catalog gaps`` lists them; the share
over the last hour is ``sum(rate(skillstream_statements_credited_total{credited="true"}
[1h])) / sum(rate(skillstream_statements_credited_total[1h]))``. Labels only ever take values from closed sets (source,
problem codes, milestone kinds, route templates, partitions), never a learner
or a statement id, so the number of series stays bounded. The HTTP labels are
bounded here whatever a client sends: ``method`` is one of :data:`HTTP_METHODS`
or ``other``, ``status`` one of :data:`HTTP_STATUSES` or its class (``2xx`` …
``5xx``, else ``other``), and ``route`` is the route template the front door
matched or ``unmatched`` (the caller passes nothing else).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series add nothing here

REGISTRY: Final = CollectorRegistry(auto_describe=True)
"""Every skillstream metric; ``render()`` serves it."""

LATENCY_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""Seconds, from 5 ms (one fast hop) to 60 s (a worker catching up); the 100 ms p99 target
falls on a bucket bound so it can be read off the histogram exactly."""

PAUSE_BUCKETS: Final = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds a collection stopped the process: a young one takes a few ms, a full one over
many cached profile states can take seconds."""

HTTP_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Source = Literal["http", "kafka"]

HTTP_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"}
)
"""Request methods kept as they are in the HTTP labels; any other method is ``other``."""
HTTP_STATUSES: Final = frozenset(
    {200, 204, 400, 401, 403, 404, 405, 408, 413, 415, 422, 429, 500, 503, 504}
)
"""Statuses kept as they are in the ``status`` label; others are counted by class."""

_statements_received: Final = Counter(
    "skillstream_statements_received",
    "Statements received, by where they came from (http: the front door, kafka: the worker).",
    ["source"],
    registry=REGISTRY,
)
_statements_rejected: Final = Counter(
    "skillstream_statements_rejected",
    "Problems found in statements the front door refused with 400, by problem code.",
    ["reason"],
    registry=REGISTRY,
)
_dead_letters: Final = Counter(
    "skillstream_dead_letters",
    "Statements the worker sent to the dead-letter topic.",
    registry=REGISTRY,
)
_dead_letter_reasons: Final = Counter(
    "skillstream_dead_letter_reasons",
    "Dead letters by problem code; a dead letter counts once under each distinct code it has.",
    ["reason"],
    registry=REGISTRY,
)
_milestones: Final = Counter(
    "skillstream_milestones",
    "Milestones produced, by milestone kind.",
    ["kind"],
    registry=REGISTRY,
)
_credited: Final = Counter(
    "skillstream_statements_credited",
    "Valid statements the worker normalised, by whether they credited at least one skill "
    "(voiding statements and ignored verbs are not counted).",
    ["credited"],
    registry=REGISTRY,
)
_credited_share: Final = Gauge(
    "skillstream_catalog_credited_share",
    "Share of the counted statements that credited a skill, since the process started.",
    registry=REGISTRY,
)
_credit_totals: Final = [0, 0]
"""Credited and uncredited statements counted by this process (for the share)."""
_latency: Final = Histogram(
    "skillstream_processing_latency_seconds",
    "From a statement's arrival in Kafka (record timestamp) to the milestone it caused "
    "being produced.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
_lag: Final = Gauge(
    "skillstream_consumer_lag",
    "Records published but not yet committed by a consumer group, per partition.",
    ["group", "topic", "partition"],
    registry=REGISTRY,
)
_http_requests: Final = Counter(
    "skillstream_http_requests",
    "Requests the front door answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
_http_duration: Final = Histogram(
    "skillstream_http_request_duration_seconds",
    "Time from a request's arrival to its response, by method and route template.",
    ["method", "route"],
    buckets=HTTP_BUCKETS,
    registry=REGISTRY,
)

_collector_pause: Final = Histogram(
    "skillstream_gc_pause_seconds",
    "How long each cyclic garbage collection stopped the process, by generation (2: full).",
    ["generation"],
    buckets=PAUSE_BUCKETS,
    registry=REGISTRY,
)
_pause_of_generation: Final = tuple(_collector_pause.labels(generation=str(g)) for g in range(3))
"""Made here, once: ``record_collector_pause`` runs inside the collector, where making a
labelled child (a lock held over allocations) could meet a collection begun under it."""


def record_statements_received(source: Source, count: int = 1) -> None:
    """``count`` statements arrived through ``source`` (counted before validation)."""
    if count > 0:
        _statements_received.labels(source=source).inc(count)


def record_collector_pause(generation: int, seconds: float) -> None:
    """A cyclic collection of ``generation`` stopped the process ``seconds``; called from
    ``gc.callbacks``, so it only adds to the children made at import: their locks guard
    float additions alone, and nothing allocated while one is held can start a collection
    (nor can one start inside another)."""
    _pause_of_generation[min(max(generation, 0), 2)].observe(max(seconds, 0.0))


def record_rejected(codes: Iterable[str]) -> None:
    """The front door refused statements; one increment per problem code reported."""
    for code in codes:
        _statements_rejected.labels(reason=code).inc()


def record_dead_letter(codes: Iterable[str]) -> None:
    """One statement was dead-lettered with problems of these codes (duplicates allowed)."""
    _dead_letters.inc()
    for code in sorted(set(codes)):
        _dead_letter_reasons.labels(reason=code).inc()


_milestones_of_kind: dict[str, Any] = {}


def record_milestone(kind: str, latency_s: float | None = None) -> None:
    """A milestone of ``kind`` was produced; ``latency_s`` from its statement's Kafka arrival.

    A negative latency (clocks of broker and worker apart) is recorded as 0; None
    (latency unknown, e.g. a replay from an old offset where it means nothing)
    records the milestone only.
    """
    counter = _milestones_of_kind.get(kind)
    if counter is None:  # the labelled child, looked up once per kind (once per milestone costs)
        counter = _milestones_of_kind[kind] = _milestones.labels(kind=kind)
    counter.inc()
    if latency_s is not None:
        _latency.observe(max(latency_s, 0.0))


def record_credited(credited: int, uncredited: int) -> None:
    """``credited`` more statements named a skill, ``uncredited`` more named none."""
    if credited > 0:
        _credited.labels(credited="true").inc(credited)
    if uncredited > 0:
        _credited.labels(credited="false").inc(uncredited)
    _credit_totals[0] += max(credited, 0)
    _credit_totals[1] += max(uncredited, 0)
    total = _credit_totals[0] + _credit_totals[1]
    if total:
        _credited_share.set(_credit_totals[0] / total)


def set_lag(group: str, topic: str, partition: int, lag: int) -> None:
    """The consumer group's lag on one partition (end offset minus committed offset)."""
    _lag.labels(group=group, topic=topic, partition=str(partition)).set(max(lag, 0))


def clear_lag(group: str, topic: str, partition: int) -> None:
    """Forget a partition's lag series (the partition was revoked from this process)."""
    try:
        _lag.remove(group, topic, str(partition))
    except KeyError:
        return


def http_method_label(method: str) -> str:
    """``method`` if it is a standard one, else ``other``: clients choose what they send."""
    return method if method in HTTP_METHODS else "other"


def http_status_label(status: int) -> str:
    """The status if it is a known one, else its class (``4xx``), else ``other``."""
    if status in HTTP_STATUSES:
        return str(status)
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def record_http_request(method: str, route: str, status: int, duration_s: float) -> None:
    """One answered request; ``route`` is the route template (or ``unmatched``), never the
    raw path. Method and status are bounded here (see the module docstring)."""
    method_label = http_method_label(method)
    _http_requests.labels(method=method_label, route=route, status=http_status_label(status)).inc()
    _http_duration.labels(method=method_label, route=route).observe(duration_s)


def render() -> tuple[bytes, str]:
    """The registry in the Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
