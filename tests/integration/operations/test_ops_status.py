"""`skillstream status` and `replay --from TIME` on the real broker: positions, rates, sink
groups once they exist, offsets found by record time, and refusals while workers run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from ops_support import cli, wait_workers_gone, wait_workers_joined
from pipeline_support import prepare, publish, simulated, start_worker, wait_caught_up

from skillstream.operations.cluster import Cluster, GroupBusyError
from skillstream.operations.groups import ingest_group
from skillstream.operations.replay import plan_from
from skillstream.operations.when import Start
from skillstream.settings import Settings


async def status(settings: Settings, state_file: Path) -> dict[str, object]:
    run = await cli(settings, "status", "--json", "--state-file", str(state_file))
    assert run.code == 0, run
    reading: dict[str, object] = orjson.loads(run.out)
    return reading


def groups(reading: dict[str, object]) -> dict[str, dict[str, object]]:
    return {str(g["role"]): g for g in reading["groups"]}  # type: ignore[attr-defined]


async def ingest_committed(settings: Settings) -> int:
    async with Cluster(settings.kafka) as cluster:
        tps = await cluster.partitions(settings.topics.statements)
        found = await cluster.committed(ingest_group(settings).group, tps)
    return sum(v or 0 for v in found.values())


async def test_replay_from_a_time_and_status(settings: Settings, tmp_path: Path) -> None:
    records = simulated(learners=40, days=30, seed=35)
    first, second = records[: len(records) // 2], records[len(records) // 2 :]
    state_file = tmp_path / "status.json"
    await prepare(settings)
    await publish(settings, first)

    # Never run: both worker groups shown, not started, everything lagging; no rates yet.
    reading = await status(settings, state_file)
    assert reading["previous_at"] is None
    shown = groups(reading)
    assert set(shown) == {"ingest", "profiles"}
    assert shown["ingest"]["state"] == "Dead"
    assert shown["ingest"]["lag"] == len(first)
    assert shown["ingest"]["done_per_s"] is None

    await asyncio.sleep(1.5)
    between = datetime.now(UTC)
    await asyncio.sleep(1.5)
    await publish(settings, second)

    plan = await plan_from(settings, Start(between))
    assert sum(m.target for m in plan.moves) == len(first)
    assert sum(m.to_read for m in plan.moves) == len(second)
    moved = await cli(settings, "replay", "--from", between.isoformat())
    assert moved.code == 0, moved
    assert await ingest_committed(settings) == len(first)
    moved = await cli(settings, "replay", "--from", "earliest")
    assert moved.code == 0, moved
    assert await ingest_committed(settings) == 0

    worker = start_worker(settings, tmp_path)
    try:
        await wait_workers_joined(settings)
        for args in (["--from", "2h"], ["--rebuild", "--dry-run"]):
            refused = await cli(settings, "replay", *args)
            assert worker.running, f"the worker died:\n{worker.log_tail()}"
            assert refused.code == 2, refused
            assert f"group {settings.group_id}-ingest" in refused.err, refused
            assert f"group {settings.group_id}:" in refused.err, refused

        # Kafka itself refuses to move a group with members, whatever the command checked.
        async with Cluster(settings.kafka) as cluster:
            tps = await cluster.partitions(settings.topics.statements)
            with pytest.raises(GroupBusyError, match="a member joined it"):
                await cluster.commit_stopped_group(
                    ingest_group(settings).group, dict.fromkeys(tps, 0)
                )

        followed = await cli(settings, "replay", "--wait", "--timeout", "240")
        assert followed.code == 0, followed
        await wait_caught_up(settings, len(records), [worker])
        sink = await cli(settings, "sink", "sql", "--until-caught-up", "--upgrade")
        assert sink.code == 0, sink

        reading = await status(settings, state_file)
        assert reading["previous_at"] is not None
        shown = groups(reading)
        assert set(shown) == {"ingest", "profiles", "sink sql"}
        assert shown["ingest"]["members"] == 1
        assert shown["ingest"]["lag"] == 0
        assert shown["profiles"]["lag"] == 0
        assert shown["sink sql"]["lag"] == 0
        # Ingest committed every statement since the first reading: a positive rate.
        assert isinstance(shown["ingest"]["done_per_s"], float)
        assert shown["ingest"]["done_per_s"] > 0
        table = await cli(settings, "status", "--state-file", str(state_file))
        assert table.code == 0, table
        assert "done/s" in table.out
        assert "rates over the" in table.out
    finally:
        worker.stop()
    await wait_workers_gone(settings)
