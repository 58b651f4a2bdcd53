"""`skillstream replay --from earliest` after a crash: refused while workers run, then the
same milestone ids, nothing emitted twice, and the answer offline mode gives."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ops_support import (
    cli,
    describe_milestones,
    milestone_ids,
    wait_workers_gone,
    wait_workers_joined,
)
from pipeline_support import (
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

from skillstream.config import load_rules
from skillstream.operations.cluster import Cluster
from skillstream.operations.groups import ingest_group
from skillstream.settings import Settings


async def test_replay_from_earliest_after_a_crash_gives_the_same_milestones(
    settings: Settings, tmp_path: Path
) -> None:
    records = simulated(learners=120, days=100, seed=31)
    reference = offline_reference(settings, records)
    rules = load_rules(settings.rules_file)
    busiest = max(p.statements for p in reference.profiles.values())
    # A replay from earliest is only promised within what a profile remembers (docs/operations.md).
    assert busiest < rules.evidence_cap + rules.dedupe_memory
    await prepare(settings)
    worker = start_worker(settings, tmp_path)
    half = len(records) // 2
    try:
        await wait_workers_joined(settings)
        refused = await cli(settings, "replay", "--from", "earliest")
        assert worker.running, f"the worker died:\n{worker.log_tail()}"
        assert refused.code == 2, refused
        assert f"{settings.group_id}-ingest" in refused.err, refused
        assert "stop every `skillstream worker`" in refused.err, refused

        await publish(settings, records[:half])
        await asyncio.sleep(2)
        worker.kill()  # a crash mid-stream: no final commit
        worker = start_worker(settings, tmp_path)
        await publish(settings, records[half:])
        await wait_caught_up(settings, len(records), [worker])
        before = await read_results(settings)
        seen_before = {(p, o) for p, o, _ in await milestone_ids(settings)}
    finally:
        worker.stop()
    await wait_workers_gone(settings)

    dry = await cli(settings, "replay", "--from", "earliest", "--dry-run")
    assert dry.code == 0, dry
    assert "nothing was changed" in dry.err
    ingest = ingest_group(settings)
    async with Cluster(settings.kafka) as cluster:
        tps = await cluster.partitions(settings.topics.statements)
        assert sum(v or 0 for v in (await cluster.committed(ingest.group, tps)).values()) == len(
            records
        )

    replay = await cli(settings, "replay", "--from", "earliest")
    assert replay.code == 0, replay
    assert f"{len(records):,} statements will be read again" in replay.err, replay
    async with Cluster(settings.kafka) as cluster:
        committed = await cluster.committed(ingest.group, tps)
        assert committed == await cluster.beginning_offsets(tps)

    worker = start_worker(settings, tmp_path)
    try:
        followed = await cli(settings, "replay", "--wait", "--timeout", "240")
        assert followed.code == 0, followed
        assert "caught up" in followed.err
        await wait_caught_up(settings, len(records), [worker])
        after = await read_results(settings)
        re_emitted = {i for p, o, i in await milestone_ids(settings) if (p, o) not in seen_before}
    finally:
        worker.stop()

    # The replay re-read every statement and emitted nothing already applied ...
    changed = after.milestone_ids ^ before.milestone_ids
    assert not changed, await describe_milestones(settings, changed, reference)
    assert not re_emitted, await describe_milestones(settings, re_emitted, reference)
    assert after.profiles == before.profiles
    # ... and the stream agrees with the core over the same input, in the order delivered
    # (which is offline mode's for every learner that no group statement reordered).
    delivered = (await stream_reference(settings, records)).delivered
    offline_ids = {m.id for m in delivered.milestones}
    differ = await describe_milestones(settings, before.milestone_ids ^ offline_ids, delivered)
    assert before.milestone_ids == offline_ids, differ
    assert after.profiles == offline_profiles(delivered)
