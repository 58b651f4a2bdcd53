"""Support for the end-to-end pipeline tests: run workers, wait for them, read results."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import TopicPartition
from aiokafka.admin import NewTopic

from schemas.events import LearningEvent, decode_learner_events
from skillstream.cli.catalog_cmd import publish_catalog
from skillstream.config import SAMPLE_CATALOG, load_catalog, load_rules, load_vocabulary
from skillstream.kafka_io import read_to_end
from skillstream.lag import total_lag
from skillstream.publishing import publish_records
from skillstream.settings import Settings
from skillstream.worker import pipeline_groups
from streams.kafka.connection import KafkaConnection
from streams.offline import OfflineResult, run_offline
from streams.pipeline import Ingest, Profiles, by_learner
from streams.state_store import StateStore
from tools.processes import ManagedProcess, free_port, settings_env
from tools.simulate import Simulation


async def new_topic(kafka: KafkaConnection, name: str, partitions: int, **configs: str) -> None:
    """Create topic ``name`` (replication 1; ``configs`` as topic configs)."""
    admin = kafka.admin(client="test")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs)])
    finally:
        await admin.close()


def simulated(learners: int, days: int, seed: int) -> list[bytes]:
    return list(Simulation(learners, days, seed))


def offline_reference(settings: Settings, records: list[bytes]) -> OfflineResult:
    return run_offline(
        records,
        catalog=load_catalog(SAMPLE_CATALOG),
        vocabulary=load_vocabulary(None),
        rules=load_rules(settings.rules_file),
        secret=settings.learner_secret_bytes,
        default_version=settings.xapi_version,
    )


async def prepare(settings: Settings) -> None:
    await publish_catalog(settings, SAMPLE_CATALOG)


async def publish(settings: Settings, records: list[bytes]) -> None:
    await publish_records(settings, records)


def start_worker(
    settings: Settings, tmp: Path, name: str = "worker", extra: list[str] | None = None
) -> ManagedProcess:
    env = settings_env(settings)
    env["SKILLSTREAM_DATA_DIR"] = str(tmp / name)
    env["SKILLSTREAM_WORKER_WEB_PORT"] = str(free_port())
    env["SKILLSTREAM_WORKER_PROCESSES"] = "1"  # a kill is a crash of the worker itself
    return ManagedProcess(name, ["worker", *(extra or [])], env, tmp / f"{name}.log").start()


async def wait_caught_up(
    settings: Settings,
    expected_inputs: int,
    workers: list[ManagedProcess],
    timeout: float = 240.0,
    settle: float = 4.0,
) -> None:
    """Wait until every stage has committed everything, and stays so for ``settle`` seconds."""
    groups = pipeline_groups(settings)
    bootstrap = settings.kafka
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        for w in workers:
            if not w.running:
                raise AssertionError(f"{w.name} exited:\n{w.log_tail()}")
        lag = await total_lag(bootstrap, groups)
        ingested = await committed_on(settings, groups[0])
        if lag == 0 and ingested >= expected_inputs:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle and await total_lag(bootstrap, groups) == 0:
                return
        else:
            quiet_since = None
        await asyncio.sleep(0.5)
    raise AssertionError(
        f"pipeline did not catch up in {timeout}s (lag {lag}, {ingested} of "
        f"{expected_inputs} inputs committed by ingest)\n"
        + await _where_it_stands(settings, groups, workers)
    )


async def _where_it_stands(
    settings: Settings, groups: list[tuple[str, str]], workers: list[ManagedProcess]
) -> str:
    """For a pipeline that did not catch up: each stage's positions, and each worker's log
    and stacks (where it waits)."""
    from skillstream.lag import group_lag

    lines = []
    for group, topic in groups:
        try:
            positions = await group_lag(settings.kafka, group, topic)
        except Exception as exc:  # the logs and stacks below still help
            lines.append(f"{group} {topic}: positions not read ({exc!r})")
            continue
        lines += [
            f"{group} {topic}[{p.partition}]: committed {p.committed}, end {p.end}"
            for p in positions
            if p.lag
        ]
    for w in workers:
        lines += [f"--- {w.name}: log", w.log_tail(), f"--- {w.name}: stacks", w.stacks()]
    return "\n".join(lines)


async def committed_on(settings: Settings, group_topic: tuple[str, str]) -> int:
    from skillstream.lag import group_lag

    parts = await group_lag(settings.kafka, *group_topic)
    return sum(p.committed or 0 for p in parts)


@dataclass
class StreamResult:
    milestone_ids: set[str]
    milestone_records: int
    profiles: dict[str, dict[str, object]]
    dead_letters: list[dict[str, object]]


async def read_results(settings: Settings) -> StreamResult:
    bootstrap = settings.kafka
    ids: set[str] = set()
    n = 0
    async for r in read_to_end(bootstrap, settings.topics.milestones):
        ids.add(orjson.loads(r.value)["id"])
        n += 1
    profiles: dict[str, dict[str, object]] = {}
    async for r in read_to_end(bootstrap, settings.topics.profiles):
        if r.value is None:
            profiles.pop(r.key.decode(), None)
            continue
        doc = orjson.loads(r.value)
        profiles[doc["learner"]] = doc  # the latest record per key, as compaction keeps
    letters = [
        orjson.loads(r.value) async for r in read_to_end(bootstrap, settings.topics.statements_dlq)
    ]
    return StreamResult(ids, n, profiles, letters)


def offline_profiles(result: OfflineResult) -> dict[str, dict[str, object]]:
    return {k: orjson.loads(v.model_dump_json()) for k, v in result.profiles.items()}


# --- The reference for a stream run -------------------------------------------------------
#
# A learner's statements reach the profile stage in the order ingest produced them. For a
# learner whose statements all came through one input partition (keyed by actor) that is
# the file's order; a group statement is keyed by its first member, so the other members
# see it interleaved with their own statements in an order that depends on timing. The
# core's guarantees for arrival order are in docs/profiles-and-milestones.md ("Order and
# determinism"): a milestone is never retracted, so a late low score can leave one fired
# that the file order never reaches. The checks below are therefore exact twice over:
# the stream equals the core applied in the order the stream delivered (recovery,
# batching, restarts and rebalances change nothing), and that equals the file-order
# offline run for every learner whose delivered order is the file's.

Order = dict[str, list[str]]


async def delivered_events(
    settings: Settings, start: dict[int, int] | None = None
) -> dict[str, list[LearningEvent]]:
    """Each learner's events in the order ``learning.events`` holds them (from ``start``)."""
    per: dict[str, list[LearningEvent]] = defaultdict(list)
    async for r in read_to_end(settings.kafka, settings.topics.events):
        if start is not None and r.offset < start.get(r.partition, 0):
            continue
        if b'"control"' in r.value:
            continue  # an erasure marker, not events
        learner, events = decode_learner_events(r.value)
        per[learner].extend(events)
    return per


def file_order_events(settings: Settings, records: list[bytes]) -> dict[str, list[LearningEvent]]:
    """Each learner's events in the order offline mode applies them (the file's)."""
    ingest = Ingest(
        load_catalog(SAMPLE_CATALOG),
        load_vocabulary(None),
        settings.learner_secret_bytes,
        settings.xapi_version,
    )
    outcomes = (ingest.record(raw) for raw in records)
    return by_learner(e for o in outcomes if isinstance(o, tuple) for e in o)


def _first_seen(events: list[LearningEvent]) -> list[str]:
    seen: set[str] = set()
    order = []
    for e in events:
        if e.statement_id not in seen:
            seen.add(e.statement_id)
            order.append(e.statement_id)
    return order


def core_reference(
    settings: Settings, offline: OfflineResult, per: dict[str, list[LearningEvent]]
) -> OfflineResult:
    """``offline`` with profiles and milestones from the core applied in ``per``'s order."""
    profiles_core = Profiles(load_catalog(SAMPLE_CATALOG), load_rules(settings.rules_file))
    milestones = []
    profiles = {}
    for learner, events in per.items():
        outcome = profiles_core.apply_batch(None, events)
        milestones.extend(outcome.milestones)
        if outcome.snapshot is not None:
            profiles[learner] = outcome.snapshot
    return dataclasses.replace(offline, profiles=profiles, milestones=milestones, states={})


@dataclass
class StreamReference:
    """What the stream must produce (``delivered``), and how it relates to the file order."""

    delivered: OfflineResult
    offline: OfflineResult
    reordered: set[str]

    def check_against_file_order(self) -> None:
        """Learners delivered in the file's order get exactly the offline result; the
        others get the same profile figures (snapshots do not depend on arrival order),
        and their milestones may differ only as the docs say arrival order can change them."""
        assert set(self.delivered.profiles) == set(self.offline.profiles)
        offline_ids = _ids_per_learner(self.offline)
        delivered_ids = _ids_per_learner(self.delivered)
        for k, offline in self.offline.profiles.items():
            delivered = self.delivered.profiles[k]
            if k in self.reordered:
                figures = {"milestones"}
                assert delivered.model_dump(exclude=figures) == offline.model_dump(exclude=figures)
            else:
                assert delivered_ids[k] == offline_ids[k], k
                assert delivered == offline, k


def _ids_per_learner(result: OfflineResult) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = defaultdict(set)
    for m in result.milestones:
        ids[m.data.learner].add(m.id)
    return ids


async def stream_reference(
    settings: Settings, records: list[bytes], start: dict[int, int] | None = None
) -> StreamReference:
    """The reference for what the stream produced from ``records`` (read after the run)."""
    offline = offline_reference(settings, records)
    delivered = await delivered_events(settings, start)
    filed = file_order_events(settings, records)
    assert {k: set(_first_seen(v)) for k, v in delivered.items()} == {
        k: set(_first_seen(v)) for k, v in filed.items()
    }, "ingest delivered other events than offline mode reads from the file"
    reordered = {k for k, v in delivered.items() if _first_seen(v) != _first_seen(filed[k])}
    reference = StreamReference(core_reference(settings, offline, delivered), offline, reordered)
    reference.check_against_file_order()
    return reference


# --- changelogs to restore ------------------------------------------------------------------

CHANGELOG_PARTITIONS = 4


async def fill_changelog(
    kafka: KafkaConnection, topic: str, transactional: bool = False
) -> tuple[dict[int, int], dict[int, dict[bytes, bytes]]]:
    """1,200 records over 4 partitions: puts, overwrites and deletes; returns the end offsets
    and what each partition holds in the end. ``transactional`` writes them in transactions
    of 100, so each partition's last offset holds a commit marker, not a record."""
    await new_topic(kafka, topic, CHANGELOG_PARTITIONS)
    options = {"transactional_id": f"{topic}-filler"} if transactional else {}
    producer = kafka.producer(client="test", acks="all", **options)
    await producer.start()
    final: dict[int, dict[bytes, bytes]] = {p: {} for p in range(CHANGELOG_PARTITIONS)}
    try:
        for first in range(0, 1200, 100):
            if transactional:
                await producer.begin_transaction()
            for n in range(first, first + 100):
                key = f"lrn_{n % 300:04d}".encode()
                value = None if n % 7 == 0 else f"state {n} ".encode() * 20
                meta = await (
                    await producer.send(topic, value, key=key, partition=n % CHANGELOG_PARTITIONS)
                )
                if value is None:
                    final[meta.partition].pop(key, None)
                else:
                    final[meta.partition][key] = value
            if transactional:
                await producer.commit_transaction()
    finally:
        await producer.stop()
    consumer = kafka.consumer(client="test")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(CHANGELOG_PARTITIONS)]
        ends = {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()
    return ends, final


def assert_restored(
    store: StateStore, final: dict[int, dict[bytes, bytes]], ends: dict[int, int] | None = None
) -> None:
    """Each partition's database holds what ``fill_changelog`` left in it in the end (and,
    given ``ends``, its checkpoint is the end offset)."""
    held = store_contents(store)
    for p in range(CHANGELOG_PARTITIONS):
        checkpoint = held[p].pop(b"@")
        assert held[p] == final[p], f"partition {p}"
        if ends is not None:
            assert checkpoint == str(ends[p]).encode(), f"partition {p}"


def store_contents(store: StateStore) -> dict[int, dict[bytes, bytes]]:
    """Every partition's keys and values, and its checkpoint under ``b"@"``."""
    return {
        p: {k: store.get(p, k) or b"" for k in store.keys(p)}
        | {b"@": str(store.checkpoint(p)).encode()}
        for p in range(CHANGELOG_PARTITIONS)
    }
