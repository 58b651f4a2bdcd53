"""The worker: a faust app that runs skillstream's three stages side by side.

* two **global tables** (``streams.followers``): the whole ``skills.catalog``
  topic as a live-updated ``Catalog``, and the erased learners from
  ``learner.erased``;
* the **ingest loop** (``streams.ingest_loop``): ``xapi.statements`` →
  ``learning.events`` / ``xapi.statements.dlq``;
* the **profile stage** (``streams.profile_stage``): ``learning.events`` →
  profile state (RocksDB + changelog) → ``career.milestones`` and
  ``learner.profiles``.

faust gives the worker its lifecycle (start, graceful stop on SIGTERM/SIGINT,
crash on a failed task), its HTTP endpoint (``/metrics``, ``/healthz``) and
its timers. The stages themselves move records in bulk on aiokafka: each
module's docstring has its commit order, and the README's "Performance"
section the measurements behind that choice. Processing starts only once the
catalog is loaded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from aiokafka.errors import KafkaError
from faust.app.base import BootStrategy

from schemas import topology
from schemas.catalog import Catalog
from schemas.topology import changelog_topic
from schemas.vocabulary import Vocabulary
from skillstream import metrics
from skillstream.settings import Settings
from streams.core import Rules
from streams.decode_memo import DecodeMemo
from streams.followers import ErasedLearners, catalog_follower, erased_follower
from streams.heap import PauseWatch, quiet_collector
from streams.ingest_loop import IngestLoop
from streams.pipeline import Ingest, Profiles, Rejected
from streams.profile_stage import ProfileStage
from streams.state_store import StateStore

log = logging.getLogger(__name__)


class Runtime:
    """What the stages share: settings, the live catalog, the core's inputs."""

    def __init__(
        self,
        settings: Settings,
        rules: Rules,
        vocabulary: Vocabulary,
        catalog: Catalog | None = None,
    ) -> None:
        self.settings = settings
        self.rules = rules
        self.catalog = catalog if catalog is not None else Catalog()
        kafka = settings.kafka
        topics = settings.topics
        self.erased = ErasedLearners()
        self.followers = (
            catalog_follower(kafka, topics.catalog, self.catalog),
            erased_follower(kafka, topics.erased, self.erased),
        )
        self.ingest = Ingest(
            self.catalog, vocabulary, settings.learner_secret_bytes, settings.xapi_version
        )
        # What ingest writes to learning.events, kept for this process's profile stage to
        # take instead of decoding the same bytes back (streams/decode_memo.py): only when
        # this process runs both stages.
        self.memo = DecodeMemo() if settings.worker_stages == "all" else None
        self.ingest_loop = IngestLoop(
            self.ingest,
            kafka=kafka,
            group_id=topology.ingest_group(settings.group_id),
            statements_topic=topics.statements,
            events_topic=topics.events,
            dlq_topic=topics.statements_dlq,
            max_records=settings.ingest_batch,
            budget_ms=settings.batch_budget_ms,
            erased=self.erased,
            on_batch=self._count_batch,
            on_rejected=_count_rejected,
            memo=self.memo,
        )
        self.profile_stage = ProfileStage(
            Profiles(self.catalog, rules),
            kafka=kafka,
            group_id=topology.profile_group(settings.group_id),
            events_topic=topics.events,
            milestones_topic=topics.milestones,
            profiles_topic=topics.profiles,
            dlq_topic=topics.statements_dlq,
            store=StateStore(settings.data_dir / "profiles"),
            max_records=settings.profile_batch,
            budget_ms=settings.batch_budget_ms,
            flush_interval_ms=settings.profile_flush_ms,
            cache_per_partition=settings.profile_cache,
            on_milestone=metrics.record_milestone,
            memo=self.memo,
        )
        self._last_report = (time.monotonic(), 0, 0.0, 0, 0.0)
        self._credit_seen = (0, 0)
        self.pauses: PauseWatch | None = None
        """The collector's pauses, timed once ``watch_collector`` has run."""

    def watch_collector(self) -> PauseWatch:
        """Once startup is loaded (the worker command calls it just before the faust worker
        starts): what startup made frozen out of the collector's scans, young collections
        rarer (``streams.heap.quiet_collector``), and every collection timed into
        ``skillstream_gc_pause_seconds``; the long ones are reported with the progress
        line (``report_progress``, every 10 s)."""
        quiet_collector()
        if self.pauses is None:
            self.pauses = PauseWatch(metrics.record_collector_pause).start()
        return self.pauses

    def _count_batch(self, records: int) -> None:
        """Metrics of one ingest batch: statements received, and credited or not."""
        metrics.record_statements_received("kafka", records)
        counts = self.ingest.counts
        before = self._credit_seen
        metrics.record_credited(counts.credited - before[0], counts.uncredited - before[1])
        self._credit_seen = (counts.credited, counts.uncredited)

    async def wait_ready(self) -> None:
        """Until every global table has been read to its end."""
        for follower in self.followers:
            await follower.ready.wait()

    def report_progress(self) -> None:
        """One log line: what each stage did since the last line, and how busy it was; and
        the collector's long pauses, if any (at most one warning a minute)."""
        if self.pauses is not None:
            self.pauses.report()
        now = time.monotonic()
        t0, records0, ingest0, events0, profile0 = self._last_report
        loop, stats = self.ingest_loop, self.profile_stage.stats
        span = max(now - t0, 1e-9)
        records = self.ingest.counts.records - records0
        events = stats.events - events0
        if records or events:
            memo = self.memo
            log.info(
                "ingest %d records (%.0f/s, busy %.0f%%, %d dead-lettered in all); "
                "profiles %d events (%.0f/s, busy %.0f%%); %d milestones in all%s",
                records,
                records / span,
                100 * (loop.busy_s - ingest0) / span,
                self.ingest.counts.dead_lettered,
                events,
                events / span,
                100 * (self.profile_stage.busy_s - profile0) / span,
                stats.milestones,
                ""
                if memo is None
                else f"; learning.events records taken from ingest's memo {memo.taken}, "
                f"decoded {memo.decoded}",
            )
        self._last_report = (
            now,
            self.ingest.counts.records,
            loop.busy_s,
            stats.events,
            self.profile_stage.busy_s,
        )


async def supervise(name: str, run: Callable[[], Awaitable[None]]) -> None:
    """Run a stage; when it loses Kafka, start it again with backoff instead of dying.

    Each stage commits only what is durable, so a restart re-reads from the
    last commit and loses nothing; a broker restart needs no operator.
    """
    delay = 1.0
    while True:
        began = time.monotonic()
        try:
            await run()
            return
        except (KafkaError, OSError) as exc:
            if time.monotonic() - began > 60:
                delay = 1.0
            log.warning("%s lost Kafka (%r); starting it again in %.0fs", name, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def _count_rejected(rejected: Rejected) -> None:
    metrics.record_dead_letter(sorted({p.code for p in rejected.problems}))


def _broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{server.strip()}" for server in bootstrap.split(",") if server.strip()]


class _WithoutKafka(BootStrategy):
    """faust's services minus its Kafka consumer and producer: the stages have their own."""

    enable_kafka = False


class WorkerApp(faust.App):
    """A faust app that joins no consumer group.

    faust's own consumer would join a group that reads nothing; after a worker is killed,
    its restart waited for that group to drop the dead member (faust's session timeout,
    about a minute) before any stage started. The stages' consumers need no such wait.
    """

    BootStrategy = _WithoutKafka


def create_app(runtime: Runtime) -> faust.App:
    """The faust app of one worker (finalized)."""
    s = runtime.settings
    app = WorkerApp(
        worker_group(s),
        broker=_broker_urls(s.kafka.bootstrap_servers),
        store="memory://",
        datadir=str(s.data_dir / "faust"),
        topic_partitions=s.topics.partitions,
        topic_replication_factor=s.topics.replication_factor,
        web_enabled=True,
        web_host=s.worker_web_host,
        web_port=s.worker_web_port,
        web_in_thread=False,
    )

    @app.task  # type: ignore[untyped-decorator]
    async def follow_global_tables() -> None:
        await asyncio.gather(*(supervise(f"{f.topic} follower", f.run) for f in runtime.followers))

    if s.worker_stages in ("all", "ingest"):

        @app.task  # type: ignore[untyped-decorator]
        async def ingest() -> None:
            await runtime.wait_ready()
            await supervise("ingest", runtime.ingest_loop.run)

    if s.worker_stages in ("all", "profiles"):

        @app.task  # type: ignore[untyped-decorator]
        async def profiles() -> None:
            await runtime.wait_ready()
            await supervise("profile stage", runtime.profile_stage.run)

    @app.timer(interval=10.0)  # type: ignore[untyped-decorator]
    async def progress() -> None:
        runtime.report_progress()

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        body, content_type = metrics.render()
        # As a header: aiohttp refuses a content_type argument with a charset parameter in
        # it, and the Prometheus text format's type has one.
        return web.bytes(body, headers={"Content-Type": content_type})

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        ready = all(f.ready.is_set() for f in runtime.followers)
        # One reading of the profile stage's assignment (librdkafka's thread replaces it).
        assigned, restored = runtime.profile_stage.assigned, set(runtime.profile_stage.restored)
        serving: dict[str, list[int]] = {}
        if s.worker_stages in ("all", "ingest"):
            serving["ingest"] = sorted(runtime.ingest_loop.serving)
        if s.worker_stages in ("all", "profiles"):
            serving["profiles"] = sorted(assigned & restored)
        return web.json(
            {
                "tables_loaded": ready,
                "assigned_partitions": sorted(assigned),
                "restoring_partitions": sorted(assigned - restored),
                "serving_partitions": serving,
            },
            status=200 if ready else 503,
        )

    app.finalize()
    return app


def worker_group(settings: Settings) -> str:
    """The faust app's name (its id; the app joins no consumer group)."""
    return topology.worker_name(settings.group_id)


def pipeline_groups(settings: Settings) -> list[tuple[str, str]]:
    """(consumer group, topic) of each stage, for lag and replay."""
    return topology.pipeline_groups(settings.group_id, settings.topics)


__all__ = ["Runtime", "changelog_topic", "create_app", "pipeline_groups", "worker_group"]
