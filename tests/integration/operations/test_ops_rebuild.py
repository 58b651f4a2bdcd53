"""`skillstream replay --rebuild` after lowering rule thresholds: exactly the milestones
offline mode predicts as new appear, the rest come again with the same ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from ops_support import (
    cli,
    describe_milestones,
    end_offset_sum,
    milestone_ids,
    wait_workers_gone,
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

from schemas.topology import changelog_topic
from skillstream.operations.cluster import Cluster
from skillstream.operations.groups import ingest_group, profile_group
from skillstream.settings import Settings

DEFAULT_RULES = Path(__file__).resolve().parents[3] / "streams" / "default_rules.yaml"


def lowered_rules(folder: Path) -> Path:
    """The shipped rules with two thresholds lowered (same rule and level names, so same ids)."""
    text = DEFAULT_RULES.read_text()
    changed = text.replace("{name: 4-weeks, weeks: 4}", "{name: 4-weeks, weeks: 2}").replace(
        "{name: practitioner, proficiency: 0.5}", "{name: practitioner, proficiency: 0.45}"
    )
    assert changed.count("weeks: 2}") == 1
    assert "proficiency: 0.45}" in changed
    path = folder / "rules-lowered.yaml"
    path.write_text(changed)
    return path


@pytest.mark.parametrize("local_state", ["epoch", "deleted"])
async def test_rebuild_after_a_rule_change_emits_what_offline_predicts(
    settings: Settings, tmp_path: Path, local_state: str
) -> None:
    """``epoch``: the worker finds its local state outdated on its own; ``deleted``:
    ``--local-state`` deletes it up front."""
    records = simulated(learners=100, days=90, seed=32)
    new_settings = settings.model_copy(update={"rules_file": lowered_rules(tmp_path)})
    old_offline = offline_reference(settings, records)
    new_offline = offline_reference(new_settings, records)
    assert {m.id for m in new_offline.milestones} - {m.id for m in old_offline.milestones}, (
        "the lowered thresholds should reach new achievements"
    )

    await prepare(settings)
    worker = start_worker(settings, tmp_path)
    try:
        await publish(settings, records)
        await wait_caught_up(settings, len(records), [worker])
        before = await read_results(settings)
    finally:
        worker.stop()
    await wait_workers_gone(settings)
    old_reference = (await stream_reference(settings, records)).delivered
    async with Cluster(settings.kafka) as cluster:
        events_end = await cluster.end_offsets(await cluster.partitions(settings.topics.events))
    rebuild_start = {tp.partition: offset for tp, offset in events_end.items()}
    published_before = {(p, o) for p, o, _ in await milestone_ids(settings)}

    # A dry run changes nothing.
    dry = await cli(settings, "replay", "--rebuild", "--dry-run")
    assert dry.code == 0, dry
    assert changelog_topic(settings.group_id) in dry.out
    assert "nothing was changed" in dry.err
    changelog_records = await end_offset_sum(settings, changelog_topic(settings.group_id))
    assert changelog_records > 0

    data_dir = tmp_path / "worker"  # start_worker's SKILLSTREAM_DATA_DIR
    extra = ["--local-state", str(data_dir)] if local_state == "deleted" else []
    rebuild = await cli(settings, "replay", "--rebuild", *extra)
    assert rebuild.code == 0, rebuild
    assert "epoch mismatch" in rebuild.err
    assert (data_dir / "profiles").exists() == (local_state == "epoch")
    async with Cluster(settings.kafka) as cluster:
        changelog = await cluster.partitions(changelog_topic(settings.group_id))
        assert len(changelog) == settings.topics.partitions
        assert sum((await cluster.end_offsets(changelog)).values()) == 0
        events = await cluster.partitions(settings.topics.events)
        assert await cluster.committed(profile_group(settings).group, events) == (
            await cluster.end_offsets(events)
        )
        statements = await cluster.partitions(settings.topics.statements)
        assert await cluster.committed(ingest_group(settings).group, statements) == (
            await cluster.beginning_offsets(statements)
        )

    worker = start_worker(new_settings, tmp_path)  # same data dir: its local state is outdated
    try:
        await wait_caught_up(new_settings, len(records), [worker])
        after = await read_results(new_settings)
        log = worker.log_path.read_text(errors="replace")
    finally:
        worker.stop()
    if local_state == "epoch":
        assert "belongs to another changelog" in log

    # The rebuild re-ingested every statement: the new rules over the order it delivered.
    new_reference = (await stream_reference(new_settings, records, rebuild_start)).delivered
    old_ids = {m.id for m in old_reference.milestones}
    new_ids = {m.id for m in new_reference.milestones}
    predicted_new = new_ids - old_ids
    rebuilt = {i for p, o, i in await milestone_ids(settings) if (p, o) not in published_before}
    appeared = after.milestone_ids - before.milestone_ids
    references = (old_reference, new_reference)
    checks = {
        # what is new is exactly what the core predicts from the rule change;
        "new milestones == core(new rules) - core(old rules)": (appeared, predicted_new),
        # the rebuild evaluated everything again: every milestone of the new rules, once more;
        "republished by the rebuild == core(new rules)": (rebuilt, new_ids),
        # before the change, the stream agreed with the core.
        "stream before the change == core(old rules)": (before.milestone_ids, old_ids),
    }
    problems = [
        f"{name}: differ by {await describe_milestones(settings, got ^ want, *references)}"
        for name, (got, want) in checks.items()
        if got != want
    ]
    assert not problems, "\n".join(problems)
    assert after.profiles == offline_profiles(new_reference)
