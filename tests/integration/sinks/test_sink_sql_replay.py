"""Running the SQL sink again over the same topics — a new group, or its group reset — changes
nothing: milestones, newest profiles, tombstones and erasures all come out the same."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from sink_contract import run_until_caught_up
from sink_factories import T0, learner, snapshot, stream
from sink_kafka import Raw, produce
from sqlalchemy import select

from sinks import tables
from sinks.database import make_engine, upgrade
from sinks.runner import reset_group
from sinks.sql import SqlSink
from skillstream.settings import Settings


def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: [
                    dict(r._mapping)
                    for r in conn.execute(select(t).order_by(*t.primary_key.columns))
                ]
                for t in (tables.milestones, tables.learner_profiles, tables.erased_learners)
            }
    finally:
        engine.dispose()


def profile(n: int, days: int, statements: int) -> Raw:
    who = learner(n)
    return who.encode(), snapshot(
        who, T0 + timedelta(days=days), statements
    ).model_dump_json().encode()


async def test_running_the_sql_sink_again_over_the_same_topics_changes_nothing(
    database_url: str, sink_settings: Settings, created_topics: object, bootstrap: str
) -> None:
    upgrade(database_url)
    topics = sink_settings.topics
    events = stream(learners=4, per_learner=6)
    await produce(bootstrap, topics.milestones, [*events, *events[:3]])
    await produce(
        bootstrap,
        topics.profiles,
        [
            profile(0, 1, 1),
            profile(0, 3, 3),
            profile(0, 2, 2),  # stale: published later, older as_of
            profile(1, 1, 1),
            profile(2, 1, 1),
            (learner(2).encode(), None),
            profile(2, 5, 7),  # back after a tombstone
            profile(3, 1, 1),
            (learner(3).encode(), None),
        ],
    )
    await produce(
        bootstrap,
        topics.erased,
        [(learner(1).encode(), orjson.dumps({"learner": learner(1)}))],
    )

    first_run = await run_until_caught_up(SqlSink(database_url), sink_settings)
    first = dump(database_url)

    assert first_run.dead_lettered == 0
    by_learner = {row["learner"]: row for row in first["learner_profiles"]}
    assert set(by_learner) == {learner(0), learner(2)}
    assert by_learner[learner(0)]["statements"] == 3
    assert by_learner[learner(2)]["statements"] == 7
    kept = sorted(e.id for e in events if e.data.learner != learner(1))
    assert sorted(row["id"] for row in first["milestones"]) == kept
    assert [row["learner"] for row in first["erased_learners"]] == [learner(1)]

    await run_until_caught_up(SqlSink(database_url), sink_settings, group=f"{first_run.group}-new")
    assert dump(database_url) == first

    await reset_group(sink_settings, first_run.group, SqlSink.feeds, "earliest")
    replay = await run_until_caught_up(SqlSink(database_url), sink_settings)
    assert replay.consumed == first_run.consumed
    assert dump(database_url) == first
