"""Fault injection: the pipeline ends where the offline reference says, whatever happens.

For every scenario: the final profiles equal ``skillstream offline`` on the same
input, every milestone id is in the SQL sink exactly once (its primary key),
every bad record is on the dead-letter topic with its errors, and no process
needed a hand. Quick variants run in ``make test``; ``make chaos`` runs the
long ones (marked ``slow``).
"""

from __future__ import annotations

import asyncio
import base64
import random
import subprocess
from pathlib import Path

import pytest
from pipeline_support import (
    offline_profiles,
    prepare,
    publish,
    read_results,
    simulated,
    start_worker,
    stream_reference,
    wait_caught_up,
)
from sqlalchemy import create_engine, text

from skillstream.settings import Settings
from tools.broker import KAFKA_SCRIPT, Broker
from tools.faults import BadKind, bad_records, mix
from tools.processes import ManagedProcess, settings_env, wait_assigned

CATCH_UP_S = 420
"""How long a scenario's pipeline may take to catch up: under pytest's timeout (600 s), so
a pipeline that stalls fails with its stages' positions and its workers' stacks, not
with pytest's timeout."""


def workload(learners: int, days: int, bad: int, seed: int) -> tuple[list[bytes], list[bytes]]:
    good = simulated(learners, days, seed)
    bad_list = [record for _, record in bad_records(bad, seed, oversized_share=0.002)]
    return mix(good, bad_list, seed), bad_list


def run_sql_sink(settings: Settings, tmp: Path) -> None:
    sink = ManagedProcess(
        "sink-sql",
        ["sink", "sql", "--upgrade", "--until-caught-up"],
        settings_env(settings),
        tmp / "sink-sql.log",
    ).start()
    code = sink.wait_exit(300)
    assert code == 0, sink.log_tail()


async def verify(settings: Settings, tmp: Path, records: list[bytes], bad: list[bytes]) -> None:
    both = await stream_reference(settings, records)
    reference = both.offline
    stream = await read_results(settings)
    offline_ids = {m.id for m in both.delivered.milestones}
    assert offline_ids
    assert stream.milestone_ids == offline_ids
    assert stream.profiles == offline_profiles(both.delivered)
    # A record re-read after a kill is dead-lettered again (at-least-once): one letter per
    # source position counts, and those must be exactly offline's, byte for byte.
    once = {
        (d["source"]["partition"], d["source"]["offset"]): d  # type: ignore[index]
        for d in stream.dead_letters
    }
    dead = [base64.b64decode(str(d["original_b64"])) for d in once.values()]
    assert all(d["errors"] for d in stream.dead_letters)
    assert set(bad) <= set(dead), "every bad record is dead-lettered"
    assert sorted(dead) == sorted(base64.b64decode(d.original_b64) for d in reference.dead_letters)

    run_sql_sink(settings, tmp)
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        rows = [r[0] for r in conn.execute(text("select id from milestones"))]
        learners = {r[0] for r in conn.execute(text("select learner from learner_profiles"))}
    engine.dispose()
    assert len(rows) == len(set(rows))
    assert set(rows) == offline_ids
    assert learners == set(reference.profiles)


async def chunks_with(
    settings: Settings, records: list[bytes], parts: int, between: object
) -> None:
    size = len(records) // parts + 1
    for i in range(parts):
        await publish(settings, records[i * size : (i + 1) * size])
        if i < parts - 1:
            await between(i)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kills", "learners", "bad"),
    [
        pytest.param(2, 120, 1_000, id="quick"),
        pytest.param(8, 400, 10_000, id="long", marks=pytest.mark.slow),
    ],
)
async def test_worker_killed_repeatedly_with_bad_input(
    settings: Settings, tmp_path: Path, kills: int, learners: int, bad: int
) -> None:
    records, bad_list = workload(learners, 150, bad, seed=21)
    kinds = {k for k, _ in bad_records(bad, 21, oversized_share=0.002)}
    assert {BadKind.MALFORMED_JSON, BadKind.INVALID_UTF8, BadKind.WRONG_TYPES} <= kinds
    await prepare(settings)
    workers = [start_worker(settings, tmp_path)]
    rng = random.Random(5)

    async def kill(_: int) -> None:
        await asyncio.sleep(rng.uniform(0.5, 2.5))
        workers[0].kill()
        workers[0] = start_worker(settings, tmp_path)

    try:
        await chunks_with(settings, records, kills + 1, kill)
        await wait_caught_up(settings, len(records), workers, timeout=CATCH_UP_S)
    finally:
        workers[0].stop()
    await verify(settings, tmp_path, records, bad_list)


@pytest.mark.parametrize(
    ("restarts", "learners"),
    [
        pytest.param(1, 120, id="quick"),
        pytest.param(3, 300, id="long", marks=pytest.mark.slow),
    ],
)
async def test_broker_restarted_mid_stream(
    broker: Broker, settings: Settings, tmp_path: Path, restarts: int, learners: int
) -> None:
    if broker.origin != "local":
        pytest.skip("stopping the broker needs the local broker (KAFKA_BOOTSTRAP_SERVERS is set)")
    records, bad_list = workload(learners, 150, 300, seed=22)
    await prepare(settings)
    worker = start_worker(settings, tmp_path)
    await wait_assigned(worker)  # a worker still starting when the broker goes exits (by design)

    async def bounce(_: int) -> None:
        await asyncio.sleep(1.5)
        subprocess.run(["bash", str(KAFKA_SCRIPT), "down"], check=True, capture_output=True)
        await asyncio.sleep(3)
        subprocess.run(["bash", str(KAFKA_SCRIPT), "up"], check=True, capture_output=True)

    try:
        await chunks_with(settings, records, restarts + 1, bounce)
        await wait_caught_up(settings, len(records), [worker], timeout=CATCH_UP_S)
        assert worker.running, "the worker survived the broker restarts on its own"
    finally:
        worker.stop()
    await verify(settings, tmp_path, records, bad_list)


@pytest.mark.slow
async def test_workers_leave_and_rejoin_repeatedly(settings: Settings, tmp_path: Path) -> None:
    records, bad_list = workload(300, 150, 2_000, seed=23)
    await prepare(settings)
    workers = {
        "a": start_worker(settings, tmp_path, "worker-a"),
        "b": start_worker(settings, tmp_path, "worker-b"),
    }

    async def churn(i: int) -> None:
        name = "b" if i % 2 == 0 else "a"
        await asyncio.sleep(2)
        workers[name].stop()
        await asyncio.sleep(2)
        workers[name] = start_worker(settings, tmp_path, f"worker-{name}")

    try:
        await chunks_with(settings, records, 6, churn)
        await wait_caught_up(settings, len(records), list(workers.values()), timeout=CATCH_UP_S)
    finally:
        for w in workers.values():
            w.stop()
    await verify(settings, tmp_path, records, bad_list)
