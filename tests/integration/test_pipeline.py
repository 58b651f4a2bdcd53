"""The stream agrees with the offline reference — plain, after SIGKILLs, and with two workers."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
from pathlib import Path

import httpx
from pipeline_support import (
    StreamReference,
    offline_profiles,
    offline_reference,
    prepare,
    publish,
    read_results,
    simulated,
    start_worker,
    stream_reference,
    wait_caught_up,
)
from prometheus_client import CONTENT_TYPE_LATEST

from schemas.milestones import MilestoneKind
from skillstream.settings import Settings
from tools.processes import wait_assigned


async def _assert_matches_offline(settings: Settings, stream, records: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    both: StreamReference = await stream_reference(settings, records)
    expected = {m.id for m in both.delivered.milestones}
    assert expected, "the workload should produce milestones"
    assert stream.milestone_ids == expected
    assert stream.profiles == offline_profiles(both.delivered)
    reference = both.offline
    # Every invalid record is dead-lettered, byte for byte, with its errors. A record read
    # again after a kill is dead-lettered again (at-least-once): one per source position.
    once = {(d["source"]["partition"], d["source"]["offset"]): d for d in stream.dead_letters}
    offline_bad = sorted(d.original_b64 for d in reference.dead_letters)
    stream_bad = sorted(str(d["original_b64"]) for d in once.values())
    assert stream_bad == offline_bad
    assert all(d["errors"] for d in stream.dead_letters)
    assert len(offline_bad) == reference.counts.dead_lettered > 0
    raw_bad = {base64.b64decode(b) for b in offline_bad}
    assert raw_bad <= set(records)


async def test_stream_equals_offline(settings: Settings, tmp_path: Path) -> None:
    records = simulated(learners=150, days=120, seed=11)
    await prepare(settings)
    worker = start_worker(settings, tmp_path)
    try:
        await publish(settings, records)
        await wait_caught_up(settings, len(records), [worker])
        stream = await read_results(settings)
        port = worker.env["SKILLSTREAM_WORKER_WEB_PORT"]
        async with httpx.AsyncClient(timeout=10) as client:
            scraped = await client.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        worker.stop()
    await _assert_matches_offline(settings, stream, records)
    # The worker's /metrics serves the Prometheus text format: what it counted.
    assert scraped.status_code == 200, scraped.text
    assert scraped.headers["content-type"] == CONTENT_TYPE_LATEST
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in scraped.text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples['skillstream_statements_received_total{source="kafka"}'] >= len(records)
    # The workload reaches every kind of milestone.
    kinds = {m.data.kind for m in offline_reference(settings, records).milestones}
    assert kinds == set(MilestoneKind)
    # No crash, no rebalance: each milestone was produced exactly once.
    assert stream.milestone_records == len(stream.milestone_ids)


async def test_sigkill_mid_stream_loses_nothing(settings: Settings, tmp_path: Path) -> None:
    records = simulated(learners=150, days=120, seed=12)
    await prepare(settings)
    worker = start_worker(settings, tmp_path)
    third = len(records) // 3
    try:
        await publish(settings, records[:third])
        await asyncio.sleep(3)
        worker.kill()
        worker = start_worker(settings, tmp_path)
        await publish(settings, records[third : 2 * third])
        await asyncio.sleep(2)
        worker.kill()
        worker = start_worker(settings, tmp_path)
        await publish(settings, records[2 * third :])
        await wait_caught_up(settings, len(records), [worker])
        stream = await read_results(settings)
    finally:
        worker.stop()
    await _assert_matches_offline(settings, stream, records)


async def test_two_workers_agree_with_one(settings: Settings, tmp_path: Path) -> None:
    records = simulated(learners=150, days=120, seed=13)
    await prepare(settings)
    first = start_worker(settings, tmp_path, "worker-a")
    second = start_worker(settings, tmp_path, "worker-b")
    half = len(records) // 2
    try:
        await publish(settings, records[:half])
        await asyncio.sleep(3)
        second.stop()  # one leaves mid-stream ...
        await publish(settings, records[half:])
        await asyncio.sleep(2)
        second = start_worker(settings, tmp_path, "worker-b")  # ... and rejoins
        await wait_caught_up(settings, len(records), [first, second])
        stream = await read_results(settings)
    finally:
        first.stop()
        second.stop()
    await _assert_matches_offline(settings, stream, records)


async def test_a_process_per_stage_agrees(settings: Settings, tmp_path: Path) -> None:
    """``worker --stages ingest`` and ``worker --stages profiles`` side by side."""
    records = simulated(learners=80, days=90, seed=14)
    await prepare(settings)
    stages = [
        start_worker(settings, tmp_path, "worker-ingest", ["--stages", "ingest"]),
        start_worker(settings, tmp_path, "worker-profiles", ["--stages", "profiles"]),
    ]
    try:
        await publish(settings, records)
        await wait_caught_up(settings, len(records), stages)
        stream = await read_results(settings)
        logs = [w.log_path.read_text(errors="replace") for w in stages]
    finally:
        for w in stages:
            w.stop()
    await _assert_matches_offline(settings, stream, records)
    # Profile state lives only with the profile stage's process.
    assert (tmp_path / "worker-profiles" / "profiles").is_dir()
    assert not (tmp_path / "worker-ingest" / "profiles").exists()
    assert all("Traceback" not in log for log in logs)


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


async def _until_children(pid: int, n: int, timeout_s: float = 30.0) -> list[int]:
    """The pool's processes once there are ``n`` (a restarted one waits out its backoff and
    its start-up, which may end after the stream caught up), or as they are at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    children = _children(pid)
    while len(children) != n and loop.time() < deadline:
        await asyncio.sleep(0.2)
        children = _children(pid)
    return children


async def test_a_pool_of_processes_agrees_even_when_one_is_killed(
    settings: Settings, tmp_path: Path
) -> None:
    """``worker --processes 2``: two processes share the partitions; one SIGKILLed
    mid-stream is started again by the pool, and nothing is lost."""
    records = simulated(learners=150, days=120, seed=15)
    await prepare(settings)
    pool = start_worker(settings, tmp_path, "pool", ["--processes", "2"])
    half = len(records) // 2
    try:
        await wait_assigned(pool, processes=2)  # both in the group before the first record
        await publish(settings, records[:half])
        await asyncio.sleep(4)
        assert pool.proc is not None
        os.kill(_children(pool.proc.pid)[1], signal.SIGKILL)
        await publish(settings, records[half:])
        await wait_caught_up(settings, len(records), [pool])
        stream = await read_results(settings)
        children = await _until_children(pool.proc.pid, 2)
    finally:
        pool.stop()
    await _assert_matches_offline(settings, stream, records)
    log = pool.log_path.read_text(errors="replace")
    assert "starting it again" in log
    assert len(children) == 2, log[-3000:]
    # Each process kept its own state: both folders hold profile databases.
    assert any((tmp_path / "pool" / "profiles").glob("partition-*"))
    assert any((tmp_path / "pool" / "process-1" / "profiles").glob("partition-*"))
