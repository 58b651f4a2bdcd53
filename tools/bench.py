"""``make bench``: skillstream's speed, measured against its performance targets.

Four figures, each the median of several repetitions, printed and written as
JSON (``bench-results/bench-<time>.json``):

(a) **offline core** — statements/s of validate → normalize → profile →
    milestones (``streams.offline.run_offline``) on one core, in this process,
    and where its time goes: µs of CPU per statement for each step, each step
    timed alone over the same statements (``bench_areas``);
(b) **pipeline** — statements/s through ``skillstream worker --processes 1``
    (ingest loop + profile stage in one process) on the broker, beside a **raw aiokafka loop** (consume,
    parse with orjson, produce, commit) over the same pre-published records
    on the same broker in the same run, and the ratio of the two. Both run as
    their own processes; each rate is statements over the span between the
    first and the last record it produced (broker timestamps), so process
    start-up is not counted for either;
(c) **latency** — statement-to-milestone p50/p99 with statements published
    at about half the measured pipeline rate (by librdkafka, each millisecond
    what is due): the milestone record's broker
    time minus the arrival time of the statement that triggered it (the
    ``skillstream-arrival-ms`` header the worker stamps on milestones);
(b'), (c') the same two figures for ``skillstream worker --processes N``
    with N the number of cores: every core of the box at work, compared with
    the same single-process raw loop;
(d) **recovery** — profile-table records/s a fresh worker restores from the
    changelog, for a configurable number of learners (default 1,000,000).

Then where the worker's event loop spends its time: µs of main-thread CPU per
statement by area, from one more ``--processes 1`` pipeline run that py-spy samples
(``tools.worker_profile``; not timed; ``--no-worker-profile`` skips it).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.events import LearningEvent
from schemas.topology import Topics, changelog_topic
from schemas.xapi import COMPILED as FAST_PATH_COMPILED
from schemas.xapi.parse import native_accepts
from skillstream.cli.catalog_cmd import publish_catalog
from skillstream.config import SAMPLE_CATALOG, load_catalog, load_rules, load_vocabulary
from skillstream.kafka_io import read_to_end
from skillstream.lag import total_lag
from skillstream.publishing import partition_key
from skillstream.settings import Settings, load_settings
from skillstream.topics import create_topics
from skillstream.worker import pipeline_groups
from streams.core import COMPILED as CORE_COMPILED
from streams.core import ProfileState, apply, encode_state, snapshot
from streams.heap import quiet_collector
from streams.ingest_loop import ARRIVAL_HEADER
from streams.kafka.batch_loop import Produce
from streams.kafka.producer import RdProducer
from streams.offline import run_offline
from streams.pipeline import Ingest
from streams.restore import cores as usable_cores
from tools import worker_profile
from tools.broker import REPO_ROOT, Broker, ensure_broker, wait_for_metadata
from tools.demo import wait_for_leaders
from tools.processes import ManagedProcess, free_port, settings_env, wait_assigned
from tools.simulate import Simulation

TARGETS = {
    "offline_statements_per_s": 100_000,
    "pipeline_statements_per_s": 30_000,
    "pipeline_to_raw_ratio": 0.7,  # the hot-path target; 0.6 before the hot-path work
    "latency_p99_ms": 100,
    "all_cores_pipeline_to_raw_ratio": 0.9,
    "all_cores_latency_p99_ms": 100,
    "recovery_records_per_s": 150_000,
}


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- (a) offline core -----------------------------------------------------------------------


def bench_offline(records: list[bytes], settings: Settings) -> tuple[float, float]:
    """Statements/s of the offline core, and µs per statement spent in the cyclic garbage
    collector meanwhile (the collector set up as ``skillstream offline`` sets it up)."""
    catalog = load_catalog(SAMPLE_CATALOG)
    vocabulary = load_vocabulary(None)
    rules = load_rules(None)
    quiet_collector()
    collecting: list[float] = []
    spent = [0.0]

    def timed(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            collecting.append(time.perf_counter())
        elif collecting:
            spent[0] += time.perf_counter() - collecting.pop()

    gc.callbacks.append(timed)
    try:
        started = time.perf_counter()
        run_offline(
            records,
            catalog=catalog,
            vocabulary=vocabulary,
            rules=rules,
            secret=settings.learner_secret_bytes,
            default_version=settings.xapi_version,
        )
        elapsed = time.perf_counter() - started
    finally:
        gc.callbacks.remove(timed)
    return len(records) / elapsed, spent[0] * 1e6 / len(records)


AREAS = (
    ("ingest", "parse, validate, normalize (native ingest first)"),
    ("apply", "profile core and milestone rules"),
    ("snapshot", "snapshot and state encoding, once per learner"),
)


def bench_areas(records: list[bytes], settings: Settings) -> dict[str, float]:
    """µs of CPU per statement of each step of the offline core, each timed alone.

    Every step's output is kept for the next, which the cyclic garbage collector would
    walk again and again; it is paused while timing, so each figure is the step's own."""
    gc.collect()
    gc.disable()
    try:
        return _areas(records, settings)
    finally:
        gc.enable()


def _areas(records: list[bytes], settings: Settings) -> dict[str, float]:
    catalog = load_catalog(SAMPLE_CATALOG)
    vocabulary = load_vocabulary(None)
    rules = load_rules(None)
    clock = time.process_time
    n = len(records)
    spent: dict[str, float] = {}
    ingest = Ingest(catalog, vocabulary, settings.learner_secret_bytes, settings.xapi_version)
    started = clock()
    events: list[LearningEvent] = []
    for raw in records:  # as the offline run and the worker do: the native ingest first
        outcome = ingest.record(raw)
        if isinstance(outcome, tuple):
            events.extend(outcome)
    spent["ingest"] = clock() - started
    states: dict[str, ProfileState] = {}
    started = clock()
    for event in events:
        states[event.learner] = apply(states.get(event.learner), event, catalog, rules)[0]
    spent["apply"] = clock() - started
    started = clock()
    for state in states.values():
        snapshot(state, catalog, rules)
        encode_state(state)
    spent["snapshot"] = clock() - started
    return {area: seconds / n * 1e6 for area, seconds in spent.items()}


# --- (b) pipeline vs raw loop ---------------------------------------------------------------


async def new_topics(bootstrap: str, topics: Topics) -> None:
    """Create a run's topics and wait until each partition has a leader that answers."""
    await wait_for_leaders(bootstrap, sorted(await create_topics(bootstrap, topics)))


_RUN_IDS: list[str] = []
"""The ids of this run's topic sets, deleted at the end (``delete_run_topics``)."""


def run_settings(bootstrap: str, work: Path, tag: str) -> Settings:
    rid = uuid.uuid4().hex[:8]
    _RUN_IDS.append(rid)
    return load_settings(
        kafka={"bootstrap_servers": bootstrap},
        topics=Topics(partitions=4).prefixed(f"bench{rid}.").model_dump(),
        group_id=f"bench-{tag}-{rid}",
        data_dir=work / f"{tag}-{rid}",
        log_level="WARNING",
    )


async def produce_all(bootstrap: str, topic: str, records: list[bytes], secret: bytes) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=1024 * 1024
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, r, key=partition_key(r, secret)) for r in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def timestamps(bootstrap: str, topic: str) -> list[int]:
    return [r.timestamp async for r in read_to_end(bootstrap, topic)]


async def wait_lag_zero(bootstrap: str, pairs: list[tuple[str, str]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await total_lag(bootstrap, pairs) == 0:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"not caught up after {timeout:.0f}s")


def start(name: str, args: list[str], settings: Settings, work: Path) -> ManagedProcess:
    env = settings_env(settings)
    env["SKILLSTREAM_WORKER_WEB_PORT"] = str(free_port())
    log_path = work / f"{name}.log"
    log_path.unlink(missing_ok=True)  # read for figures: never an earlier run's lines
    return ManagedProcess(name, args, env, log_path).start()


def start_workers(s: Settings, work: Path, processes: int, name: str) -> list[ManagedProcess]:
    """``skillstream worker --processes N``: one process, or a pool of them in one group."""
    return [start(name, ["worker", "--processes", str(processes)], s, work)]


async def bench_pipeline(
    bootstrap: str,
    records: list[bytes],
    work: Path,
    processes: int = 1,
    on_start: Callable[[list[ManagedProcess]], None] | None = None,
    before_stop: Callable[[list[ManagedProcess]], None] | None = None,
) -> float:
    s = run_settings(bootstrap, work, "pipeline")
    await new_topics(bootstrap, s.topics)
    await publish_catalog(s, SAMPLE_CATALOG)
    await produce_all(bootstrap, s.topics.statements, records, s.learner_secret_bytes)
    workers = start_workers(s, work, processes, "worker")
    try:
        if on_start is not None:
            on_start(workers)
        await wait_lag_zero(bootstrap, pipeline_groups(s), timeout=1800)
        while await committed(bootstrap, *pipeline_groups(s)[0]) < len(records):
            await asyncio.sleep(0.5)
            await wait_lag_zero(bootstrap, pipeline_groups(s), timeout=1800)
        if before_stop is not None:
            before_stop(workers)
    finally:
        for worker in workers:
            worker.stop()
    first = min(await timestamps(bootstrap, s.topics.events))
    last = max(await timestamps(bootstrap, s.topics.profiles))
    return len(records) / max((last - first) / 1000, 1e-3)


async def bench_worker_profile(
    bootstrap: str, records: list[bytes], work: Path
) -> dict[str, float]:
    """µs of the worker's main-thread CPU per statement by area (``tools.worker_profile``),
    from one more ``--processes 1`` pipeline run with py-spy attached (not a timed run)."""
    out = work / "worker-profile.raw"
    recorders: list[subprocess.Popen[bytes]] = []
    pids: list[int] = []
    cpu: list[float] = []

    def record(workers: list[ManagedProcess]) -> None:
        assert workers[0].proc is not None
        pids.append(workers[0].proc.pid)
        recorders.append(worker_profile.start_recording(workers[0].proc.pid, out))

    def measure_cpu(workers: list[ManagedProcess]) -> None:
        assert workers[0].proc is not None
        cpu.append(worker_profile.main_thread_cpu_s(workers[0].proc.pid))

    await bench_pipeline(bootstrap, records, work, 1, on_start=record, before_stop=measure_cpu)
    lines = worker_profile.finish_recording(recorders[0], out)
    return worker_profile.us_per_statement(
        worker_profile.attribute(lines, pids[0]), len(records), cpu[0] if cpu else None
    )


async def committed(bootstrap: str, group: str, topic: str) -> int:
    from skillstream.lag import group_lag

    return sum(p.committed or 0 for p in await group_lag(bootstrap, group, topic))


RAW_READ_OPTIONS: dict[str, Any] = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    "max_poll_records": 5000,
    "fetch_max_bytes": 64 * 1024 * 1024,
    "max_partition_fetch_bytes": 8 * 1024 * 1024,
}
"""How the raw loop's aiokafka consumer reads (ingest's fetch sizes)."""


async def raw_loop(bootstrap: str, source: str, sink: str, group: str, count: int) -> None:
    """The baseline: consume, parse (orjson), produce, commit — nothing else."""
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=group, **RAW_READ_OPTIONS
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1024 * 1024
    )
    await consumer.start()
    await producer.start()
    seen = 0
    try:
        while seen < count:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            futures = []
            for records in batch.values():
                for m in records:
                    try:
                        value = orjson.dumps(orjson.loads(m.value))
                    except orjson.JSONDecodeError:
                        value = m.value  # the workload's malformed records pass through as-is
                    futures.append(await producer.send(sink, value, key=m.key))
                    seen += 1
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


async def bench_raw(bootstrap: str, records: list[bytes], work: Path) -> float:
    s = run_settings(bootstrap, work, "raw")
    await new_topics(bootstrap, s.topics)
    await produce_all(bootstrap, s.topics.statements, records, s.learner_secret_bytes)
    started = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.bench",
            "raw-loop",
            bootstrap,
            s.topics.statements,
            s.topics.events,
            s.group_id,
            str(len(records)),
        ],
        cwd=REPO_ROOT,  # where ``tools`` is importable
    )
    if started.wait(1800) != 0:
        raise RuntimeError("raw loop failed")
    stamps = await timestamps(bootstrap, s.topics.events)
    return len(records) / max((max(stamps) - min(stamps)) / 1000, 1e-3)


# --- (c) latency ----------------------------------------------------------------------------


async def publish_paced(s: Settings, records: list[bytes], rate: float) -> None:
    """Publish ``records`` to the statements topic at ``rate`` a second, in steps of a
    millisecond: each step queues what is due with librdkafka (a few µs a record of this
    process's CPU, where aiokafka's ``send`` took 15-25 µs: on a box of two cores the
    publisher's CPU is taken from the worker being measured)."""
    keys = [partition_key(r, s.learner_secret_bytes) for r in records]
    producer = RdProducer(s.kafka, "bench-publisher", linger_ms=2)
    await producer.start()
    try:
        acks = []
        began, sent = time.monotonic(), 0
        while sent < len(records):
            due = min(len(records), int((time.monotonic() - began) * rate) + 1)
            if due > sent:
                step = [
                    Produce(s.topics.statements, records[i], key=keys[i]) for i in range(sent, due)
                ]
                acks.append(await producer.send_many(step))
                sent = due
            await asyncio.sleep(0.001)
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def bench_latency(
    bootstrap: str, records: list[bytes], rate: float, work: Path, processes: int = 1
) -> tuple[float, float, int]:
    s = run_settings(bootstrap, work, "latency")
    await new_topics(bootstrap, s.topics)
    await publish_catalog(s, SAMPLE_CATALOG)
    workers = start_workers(s, work, processes, "worker-latency")
    try:
        # the clock starts once the worker serves every partition
        await wait_assigned(workers[0], processes, partitions=s.topics.partitions)
        await publish_paced(s, records, rate)
        await wait_lag_zero(bootstrap, pipeline_groups(s), timeout=600)
    finally:
        for worker in workers:
            worker.stop()
    latencies = []
    async for m in read_to_end(bootstrap, s.topics.milestones):
        arrival = dict(m.headers or ()).get(ARRIVAL_HEADER)
        if arrival:
            latencies.append(m.timestamp - int(arrival))
    if not latencies:
        raise RuntimeError("no milestones carried an arrival time")
    latencies.sort()
    return (
        float(statistics.median(latencies)),
        float(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]),
        len(latencies),
    )


# --- (d) recovery ---------------------------------------------------------------------------


def sample_states(settings: Settings, count: int) -> list[bytes]:
    """Realistic encoded profile states: the simulator's learners after 120 days."""
    from streams.core import encode_state

    records = list(Simulation(count, 120, 99))
    result = run_offline(
        records,
        catalog=load_catalog(SAMPLE_CATALOG),
        vocabulary=load_vocabulary(None),
        rules=load_rules(None),
        secret=settings.learner_secret_bytes,
    )
    return [encode_state(state) for state in result.states.values()]


async def bench_recovery(bootstrap: str, learners: int, work: Path) -> tuple[float, int, float]:
    s = run_settings(bootstrap, work, "recovery")
    await new_topics(bootstrap, s.topics)
    changelog = changelog_topic(s.group_id)
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    changelog, s.topics.partitions, 1, topic_configs={"cleanup.policy": "compact"}
                )
            ]
        )
    finally:
        await admin.close()
    templates = sample_states(s, 200)
    size = statistics.mean(len(t) for t in templates)
    log(f"recovery: writing {learners} profile states (~{size:.0f} bytes each) to {changelog}")
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=50, max_batch_size=1024 * 1024
    )
    await producer.start()
    try:
        futures = []
        for i in range(learners):
            futures.append(
                await producer.send(
                    changelog, templates[i % len(templates)], key=f"lrn_bench{i:012d}".encode()
                )
            )
            if len(futures) >= 50_000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    env_settings = s.model_copy(update={"log_level": "INFO"})
    worker = start("worker-recovery", ["worker", "--processes", "1"], env_settings, work)
    log_path = work / "worker-recovery.log"
    try:
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace") if log_path.exists() else ""
            match = re.search(
                r"restored (\d+) profile states for partitions .* in ([0-9.]+)s", text
            )
            if match:
                count, seconds = int(match.group(1)), float(match.group(2))
                return count / max(seconds, 1e-3), count, size
            if not worker.running:
                raise RuntimeError(f"worker exited:\n{worker.log_tail()}")
            await asyncio.sleep(0.5)
        raise TimeoutError("recovery did not finish within an hour")
    finally:
        worker.stop()


# --- driver ---------------------------------------------------------------------------------


@dataclass
class Figures:
    offline: list[float]
    areas: list[dict[str, float]]
    pipeline: list[float]
    raw: list[float]
    latency_p50: list[float]
    latency_p99: list[float]
    recovery: list[float]
    pipeline_all: list[float]
    latency_all_p50: list[float]
    latency_all_p99: list[float]
    collector: list[float]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    if args.skip_broker:  # (a) alone: no broker is started
        return await measure(args, None)
    broker = ensure_broker()
    await wait_for_metadata(broker.bootstrap)
    try:
        return await measure(args, broker)
    finally:
        if _RUN_IDS:
            log(f"deleted this run's {await delete_run_topics(broker.bootstrap)} topics")


async def measure(args: argparse.Namespace, broker: Broker | None) -> dict[str, Any]:
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    where = "no broker" if broker is None else f"broker {broker.bootstrap} ({broker.origin})"
    log(f"{where}; simulating {args.learners} learners")
    records = list(Simulation(args.learners, args.days, 7))
    log(f"{len(records)} statements ({sum(map(len, records)) / len(records):.0f} bytes on average)")
    figures = Figures([], [], [], [], [], [], [], [], [], [], [])
    cores = usable_cores()
    for rep in range(args.repeat):
        log(f"repetition {rep + 1}/{args.repeat}: offline core")
        rate, collector = bench_offline(records, settings)
        figures.offline.append(rate)
        figures.collector.append(collector)
        log(f"  offline {rate:,.0f} statements/s ({collector:.1f} µs each in the collector)")
        figures.areas.append(bench_areas(records, settings))
        log(
            "  µs of CPU per statement: "
            + ", ".join(f"{area} {us:.1f}" for area, us in figures.areas[-1].items())
        )
        if broker is None:
            continue
        log("  raw aiokafka loop")
        figures.raw.append(await bench_raw(broker.bootstrap, records, work))
        log(f"  raw loop {figures.raw[-1]:,.0f} statements/s")
        for processes, pipeline, p50s, p99s in (
            (1, figures.pipeline, figures.latency_p50, figures.latency_p99),
            (cores, figures.pipeline_all, figures.latency_all_p50, figures.latency_all_p99),
        ):
            label = f"--processes {processes}"
            log(f"  pipeline, {label}")
            pipeline.append(await bench_pipeline(broker.bootstrap, records, work, processes))
            log(f"  pipeline {pipeline[-1]:,.0f} statements/s")
            rate = statistics.median(pipeline) / 2
            log(f"  latency at {rate:,.0f} statements/s, {label}")
            count = min(len(records), int(rate * args.latency_seconds))
            p50, p99, n = await bench_latency(
                broker.bootstrap, records[:count], rate, work, processes
            )
            p50s.append(p50)
            p99s.append(p99)
            log(f"  latency p50 {p50:.0f} ms, p99 {p99:.0f} ms over {n} milestones")
    worker_areas: dict[str, float] | None = None
    worker_areas_missing: str | None = None
    if broker is not None and args.worker_profile:
        log("pipeline, --processes 1, with py-spy sampling the worker (not timed)")
        try:
            worker_areas = await bench_worker_profile(broker.bootstrap, records, work)
            log(f"  worker's main thread: {worker_areas['total']:.1f} µs per statement")
        except (OSError, RuntimeError) as exc:
            worker_areas_missing = str(exc)
            log(f"  no worker profile: {worker_areas_missing}")
    if broker is not None and args.recovery_learners > 0:
        for rep in range(args.recovery_repeat):
            log(f"recovery {rep + 1}/{args.recovery_repeat}")
            rate_r, _, _size = await bench_recovery(broker.bootstrap, args.recovery_learners, work)
            figures.recovery.append(rate_r)
            log(f"  recovery {rate_r:,.0f} records/s")
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "broker": None if broker is None else broker.origin,
            "core": "compiled (mypyc)" if CORE_COMPILED else "pure Python",
            "validator_fast_path": (
                "native (Rust) ingest on the bytes, then compiled (mypyc)"
                if native_accepts is not None
                else "compiled (mypyc)"
                if FAST_PATH_COMPILED
                else "pure Python"
            ),
        },
        "workload": {
            "statements": len(records),
            "learners": args.learners,
            "days": args.days,
            "repeat": args.repeat,
        },
        "offline_statements_per_s": med(figures.offline),
        "offline_us_per_statement": {
            area: med([run[area] for run in figures.areas]) for area, _ in AREAS
        }
        if figures.areas
        else {},
        "offline_collector_us_per_statement": med(figures.collector),
        "pipeline_statements_per_s": med(figures.pipeline),
        "raw_loop_statements_per_s": med(figures.raw),
        "pipeline_to_raw_ratio": (
            statistics.median(figures.pipeline) / statistics.median(figures.raw)
            if figures.pipeline and figures.raw
            else None
        ),
        "latency_p50_ms": med(figures.latency_p50),
        "latency_p99_ms": med(figures.latency_p99),
        "all_cores_processes": cores,
        "all_cores_pipeline_statements_per_s": med(figures.pipeline_all),
        "all_cores_pipeline_to_raw_ratio": (
            statistics.median(figures.pipeline_all) / statistics.median(figures.raw)
            if figures.pipeline_all and figures.raw
            else None
        ),
        "all_cores_latency_p50_ms": med(figures.latency_all_p50),
        "all_cores_latency_p99_ms": med(figures.latency_all_p99),
        "worker_us_per_statement": worker_areas,
        "worker_profile_missing": worker_areas_missing,
        "recovery_records_per_s": med(figures.recovery),
        "recovery_learners": args.recovery_learners,
        "runs": figures.__dict__,
        "targets": TARGETS,
    }
    return result


async def delete_run_topics(bootstrap: str) -> int:
    """Delete the topics this run made (``bench<id>.*`` and ``bench-<tag>-<id>-*``)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        mine = [
            name
            for name in await admin.list_topics()
            if any(name.startswith(f"bench{rid}.") or f"-{rid}-" in name for rid in _RUN_IDS)
        ]
        if mine:
            await admin.delete_topics(mine)
        return len(mine)
    finally:
        await admin.close()


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def render(result: dict[str, Any]) -> str:
    def fmt(v: Any, unit: str) -> str:
        return "-" if v is None else f"{v:,.0f} {unit}" if unit != "x" else f"{v:.2f}"

    def target(key: str, unit: str) -> str:
        value = TARGETS.get(key)
        if value is None:
            return ""
        bound = "<=" if unit == "ms" else ">="
        return f"{bound} {value:,.2f}" if unit == "x" else f"{bound} {value:,} {unit}"

    n = result.get("all_cores_processes")
    rows = [
        ("(a) offline core, one core", "offline_statements_per_s", "statements/s"),
        ("(b) pipeline, --processes 1", "pipeline_statements_per_s", "statements/s"),
        ("    raw aiokafka loop", "raw_loop_statements_per_s", "statements/s"),
        ("    ratio to the raw loop", "pipeline_to_raw_ratio", "x"),
        ("(c) latency p50, --processes 1", "latency_p50_ms", "ms"),
        ("    latency p99", "latency_p99_ms", "ms"),
        (f"(b') pipeline, --processes {n}", "all_cores_pipeline_statements_per_s", "statements/s"),
        ("    ratio to the raw loop", "all_cores_pipeline_to_raw_ratio", "x"),
        (f"(c') latency p50, --processes {n}", "all_cores_latency_p50_ms", "ms"),
        ("    latency p99", "all_cores_latency_p99_ms", "ms"),
        (
            f"(d) recovery ({result['recovery_learners']:,} states)",
            "recovery_records_per_s",
            "records/s",
        ),
    ]
    cells = [(label, fmt(result[key], unit), target(key, unit)) for label, key, unit in rows]
    width = max(len(c[0]) for c in cells)
    lines = [f"profile core: {result['machine']['core']}", ""]
    lines += [f"{'figure'.ljust(width)}  {'median':>24}  target"]
    lines += [f"{a.ljust(width)}  {b:>24}  {c}" for a, b, c in cells]
    areas = result.get("offline_us_per_statement") or {}
    if areas:
        total = sum(areas.values())
        lines += ["", "where the offline core's time goes (µs of CPU per statement, median)"]
        for area, label in AREAS:
            us = areas[area]
            lines.append(f"  {label.ljust(48)} {us:6.1f} µs  {us / total:4.0%}")
        budget = 1e6 / TARGETS["offline_statements_per_s"]
        lines.append(f"  {'total'.ljust(48)} {total:6.1f} µs  (the target allows {budget:.0f} µs)")
    collector = result.get("offline_collector_us_per_statement")
    if collector is not None:
        lines.append(f"  (a) also spent {collector:.1f} µs per statement in the garbage collector")
    worker = result.get("worker_us_per_statement")
    if worker:
        lines += [
            "",
            "where the worker's event loop goes (--processes 1, py-spy, µs per statement)",
        ]
        total = worker["total"] or 1.0  # no sample in the loops: every share is 0
        for key, label, _ in worker_profile.AREAS:
            us = worker[key]
            lines.append(f"  {label.ljust(48)} {us:6.1f} µs  {us / total:4.0%}")
        lines.append(f"  {'total'.ljust(48)} {worker['total']:6.1f} µs")
    elif result.get("worker_profile_missing"):
        lines += ["", f"no worker profile: {result['worker_profile_missing']}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "raw-loop":
        bootstrap, source, sink, group, count = argv[1:6]
        asyncio.run(raw_loop(bootstrap, source, sink, group, int(count)))
        return
    parser = argparse.ArgumentParser(
        prog="make bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--learners", type=int, default=2000, help="simulated learners (default 2000)"
    )
    parser.add_argument("--days", type=int, default=120, help="simulated days (default 120)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; medians reported")
    parser.add_argument("--latency-seconds", type=float, default=30.0, help="paced run length")
    parser.add_argument("--recovery-learners", type=int, default=1_000_000, help="0 skips (d)")
    parser.add_argument("--recovery-repeat", type=int, default=1)
    parser.add_argument("--skip-broker", action="store_true", help="only (a), no broker")
    parser.add_argument(
        "--no-worker-profile",
        dest="worker_profile",
        action="store_false",
        help="skip the extra pipeline run sampled by py-spy (where the worker's time goes)",
    )
    parser.add_argument("--work", default=".local/bench", help="worker state and logs")
    parser.add_argument("--out", default="bench-results", help="folder for the JSON result")
    args = parser.parse_args(argv)
    result = asyncio.run(main_async(args))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(render(result))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
