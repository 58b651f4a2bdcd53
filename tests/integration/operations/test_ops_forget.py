"""`skillstream forget`: no trace of the learner in profile state (after a restart and a fresh
restore), in the compacted topics' latest values, or in the SQL sink."""

from __future__ import annotations

from pathlib import Path

import orjson
from ops_support import cli, latest_by_key, wait_workers_gone
from pipeline_support import (
    offline_reference,
    prepare,
    publish,
    simulated,
    start_worker,
    wait_caught_up,
)
from sqlalchemy import create_engine, func, select

from schemas.identity import learner_keys
from schemas.topology import changelog_topic
from sinks import tables
from skillstream.kafka_io import read_to_end
from skillstream.settings import Settings
from streams.state_store import StateStore


def learner_with_mbox(
    settings: Settings, records: list[bytes], milestones: dict[str, int]
) -> tuple[str, str]:
    """(mailto IFI, key) of the learner identified by ``mbox`` with the most milestones."""
    by_key: dict[str, str] = {}
    for raw in records:
        try:
            actor = orjson.loads(raw)["actor"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if isinstance(actor, dict) and isinstance(actor.get("mbox"), str) and "member" not in actor:
            try:
                (key,) = learner_keys(actor, settings.learner_secret_bytes)
            except (KeyError, ValueError, TypeError):
                continue
            by_key.setdefault(key, actor["mbox"])
    key = max(by_key, key=lambda k: milestones.get(k, 0))
    assert milestones.get(key, 0) > 0
    return by_key[key], key


def sql_rows(url: str, learner: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: conn.execute(
                    select(func.count()).select_from(table).where(table.c.learner == learner)
                ).scalar_one()
                for table in (tables.milestones, tables.learner_profiles, tables.erased_learners)
            }
    finally:
        engine.dispose()


def stored_keys(folder: Path) -> set[bytes]:
    store = StateStore(folder)
    try:
        return {key for partition in range(8) for key in store.keys(partition)}
    finally:
        store.close()


async def test_forget_leaves_no_trace(
    settings: Settings, tmp_path: Path, database_url: str
) -> None:
    """On SQLite and PostgreSQL (``database_url`` runs the test once for each)."""
    settings = settings.model_copy(update={"database_url": database_url})
    records = simulated(learners=60, days=60, seed=34)
    reference = offline_reference(settings, records)
    counts: dict[str, int] = {}
    for m in reference.milestones:
        counts[m.data.learner] = counts.get(m.data.learner, 0) + 1
    ifi, key = learner_with_mbox(settings, records, counts)

    await prepare(settings)
    worker = start_worker(settings, tmp_path)
    try:
        await publish(settings, records)
        await wait_caught_up(settings, len(records), [worker])
        sink = await cli(settings, "sink", "sql", "--until-caught-up", "--upgrade")
        assert sink.code == 0, sink
        rows = sql_rows(settings.database_url, key)
        assert rows["milestones"] > 0
        assert rows["learner_profiles"] == 1

        bad = await cli(settings, "forget", "mailto:not an address")
        assert bad.code == 2, bad
        assert "not an address" not in bad.err  # an identifier is never echoed

        erased = await cli(settings, "forget", ifi)
        assert erased.code == 0, erased
        assert key in erased.out
        assert "applied" in erased.out
        assert "row(s) deleted now" in erased.out
        assert ifi not in erased.out + erased.err
        # Queries stop returning the learner at once: the rows went with the command.
        assert sql_rows(settings.database_url, key) == {
            "milestones": 0,
            "learner_profiles": 0,
            "erased_learners": 1,
        }
        await wait_caught_up(settings, len(records), [worker])
    finally:
        worker.stop()
    await wait_workers_gone(settings)

    # The SQL sink reading everything again (learner.erased included) writes none of it back.
    sink = await cli(settings, "sink", "sql", "--until-caught-up", "--group", "replayed-sink")
    assert sink.code == 0, sink
    assert sql_rows(settings.database_url, key)["milestones"] == 0
    assert sql_rows(settings.database_url, key)["learner_profiles"] == 0

    # The compacted topics' latest values: tombstones.
    assert (await latest_by_key(settings, settings.topics.profiles))[key.encode()] is None
    changelog = await latest_by_key(settings, changelog_topic(settings.group_id))
    assert changelog[key.encode()] is None
    assert sum(v is not None for v in changelog.values()) > 1
    # learner.erased names the key and the time, nothing else.
    notices = [r async for r in read_to_end(settings.kafka, settings.topics.erased)]
    assert [r.key for r in notices] == [key.encode()]
    notice = orjson.loads(notices[0].value)
    assert set(notice) == {"version", "learner", "erased_at"}
    assert notice["learner"] == key
    assert b"@" not in notices[0].value

    # Profile state: gone from the worker's store, and from a store restored from the changelog.
    assert key.encode() not in stored_keys(tmp_path / "worker" / "profiles")
    fresh = start_worker(settings, tmp_path, "worker-fresh")
    try:
        await wait_caught_up(settings, len(records), [fresh])
    finally:
        fresh.stop()
    restored = stored_keys(tmp_path / "worker-fresh" / "profiles")
    assert len(restored) > 10
    assert key.encode() not in restored
