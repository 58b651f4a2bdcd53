"""The SQL sink without Kafka: idempotent upserts, newest snapshot wins, tombstones, erasure.

Each test runs on SQLite and on real PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sink_factories import PUBLISHED_MS, T0, e_record, m_record, milestone, p_record, snapshot
from sqlalchemy import select

from schemas.milestones import MilestoneDeliveryFailure
from sinks import tables
from sinks.database import make_engine, upgrade
from sinks.deadletters import read_dead_letter
from sinks.sql import SqlSink
from skillstream.errors import ConfigError, ServiceUnavailable

HOUR_MS = 3_600_000


@pytest.fixture
async def sink(database_url: str) -> Any:
    upgrade(database_url)
    sink = SqlSink(database_url)
    await sink.start()
    yield sink
    await sink.close()


def rows(sink: SqlSink, table: Any) -> list[dict[str, Any]]:
    with sink.engine.connect() as conn:
        key = next(iter(table.primary_key.columns))
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(key))]


async def test_a_milestone_is_one_row_with_its_query_columns_and_whole_event(sink: SqlSink) -> None:
    event = milestone("lrn_a", skill="python", level="expert")

    result = await sink.write([m_record(event, 41)])

    assert result.written == 1
    assert result.dead_letters == []
    [row] = rows(sink, tables.milestones)
    assert row["id"] == event.id
    assert (row["learner"], row["kind"], row["rule"], row["skill"], row["level"]) == (
        "lrn_a",
        "skill_level_reached",
        "skill_level_reached-rule",
        "python",
        "expert",
    )
    assert row["achieved_at"] == T0
    assert row["achieved_at"].tzinfo is not None
    assert row["evidence"] == ["stmt-1", "stmt-2"]
    assert row["event"] == event.model_dump(mode="json")
    assert (row["source_partition"], row["source_offset"]) == (0, 41)
    assert row["published_at"].timestamp() * 1000 == PUBLISHED_MS


async def test_the_same_milestone_written_again_changes_nothing(sink: SqlSink) -> None:
    a, b = milestone("lrn_a"), milestone("lrn_b")
    await sink.write([m_record(a, 1), m_record(b, 2), m_record(a, 3)])
    first = rows(sink, tables.milestones)

    await sink.write([m_record(a, 1), m_record(b, 2)])
    await sink.write([m_record(b, 7)])

    assert rows(sink, tables.milestones) == first
    assert [r["id"] for r in first] == sorted([a.id, b.id])


async def test_an_older_snapshot_never_overwrites_a_newer_one(sink: SqlSink) -> None:
    newer, older = (
        snapshot("lrn_a", T0 + timedelta(days=2), 9),
        snapshot("lrn_a", T0 + timedelta(days=1), 5),
    )

    await sink.write([p_record("lrn_a", newer, 10)])
    await sink.write([p_record("lrn_a", older, 11)])

    [row] = rows(sink, tables.learner_profiles)
    assert row["as_of"] == newer.as_of
    assert row["statements"] == 9
    assert row["snapshot"] == newer.model_dump(mode="json")


async def test_within_a_batch_the_newest_snapshot_wins_too(sink: SqlSink) -> None:
    newer, older = (
        snapshot("lrn_a", T0 + timedelta(days=2), 9),
        snapshot("lrn_a", T0 + timedelta(days=1), 5),
    )
    await sink.write([p_record("lrn_a", newer, 10), p_record("lrn_a", older, 11)])
    [row] = rows(sink, tables.learner_profiles)
    assert row["statements"] == 9


async def test_a_newer_snapshot_replaces_the_row_and_keeps_query_columns_in_step(
    sink: SqlSink,
) -> None:
    await sink.write([p_record("lrn_a", snapshot("lrn_a", T0, 3), 1)])
    await sink.write([p_record("lrn_a", snapshot("lrn_a", T0 + timedelta(hours=1), 4), 2)])
    [row] = rows(sink, tables.learner_profiles)
    assert (row["as_of"], row["statements"], row["skills"], row["source_offset"]) == (
        T0 + timedelta(hours=1),
        4,
        1,
        2,
    )


async def test_of_two_snapshots_with_the_same_as_of_the_later_record_wins(sink: SqlSink) -> None:
    earlier, later = snapshot("lrn_a", T0, 3), snapshot("lrn_a", T0, 2)  # e.g. after a voiding
    await sink.write([p_record("lrn_a", earlier, 5)])
    await sink.write([p_record("lrn_a", later, 9)])
    assert rows(sink, tables.learner_profiles)[0]["statements"] == 2

    before = rows(sink, tables.learner_profiles)
    await sink.write([p_record("lrn_a", earlier, 5)])  # a replay of the earlier record
    assert rows(sink, tables.learner_profiles) == before


async def test_a_tombstone_deletes_the_profile_and_a_later_snapshot_brings_it_back(
    sink: SqlSink,
) -> None:
    await sink.write(
        [p_record("lrn_a", snapshot("lrn_a", T0), 1), p_record("lrn_b", snapshot("lrn_b", T0), 2)]
    )
    await sink.write([p_record("lrn_a", None, 3)])
    assert [r["learner"] for r in rows(sink, tables.learner_profiles)] == ["lrn_b"]

    await sink.write([p_record("lrn_a", snapshot("lrn_a", T0 - timedelta(days=9), 1), 4)])
    back = rows(sink, tables.learner_profiles)
    assert [r["learner"] for r in back] == ["lrn_a", "lrn_b"]

    await sink.write([p_record("lrn_a", None, 3)])  # the old tombstone, replayed
    assert rows(sink, tables.learner_profiles) == back


@pytest.mark.parametrize(
    ("order", "survives"),
    [(["snapshot", "tombstone"], False), (["tombstone", "snapshot"], True)],
)
async def test_a_tombstone_and_a_snapshot_in_one_batch_apply_in_order(
    sink: SqlSink, order: list[str], survives: bool
) -> None:
    batch = [
        p_record("lrn_a", snapshot("lrn_a", T0) if kind == "snapshot" else None, offset)
        for offset, kind in enumerate(order)
    ]
    await sink.write(batch)
    assert bool(rows(sink, tables.learner_profiles)) is survives


async def test_an_erasure_deletes_what_was_published_before_it_for_good(sink: SqlSink) -> None:
    kept = milestone("lrn_b")
    erased = [milestone("lrn_a", level="one"), milestone("lrn_a", level="two")]
    await sink.write(
        [
            m_record(erased[0], 1),
            m_record(erased[1], 2),
            m_record(kept, 3),
            p_record("lrn_a", snapshot("lrn_a", T0), 4),
            p_record("lrn_b", snapshot("lrn_b", T0), 5),
        ]
    )

    await sink.write([e_record("lrn_a", 0, PUBLISHED_MS + HOUR_MS)])

    assert [r["id"] for r in rows(sink, tables.milestones)] == [kept.id]
    assert [r["learner"] for r in rows(sink, tables.learner_profiles)] == ["lrn_b"]
    [mark] = rows(sink, tables.erased_learners)
    assert mark["learner"] == "lrn_a"

    # A replay of what came before the erasure does not bring the learner back ...
    await sink.write([m_record(erased[0], 1), p_record("lrn_a", snapshot("lrn_a", T0), 4)])
    assert [r["id"] for r in rows(sink, tables.milestones)] == [kept.id]
    assert len(rows(sink, tables.learner_profiles)) == 1

    # ... but a learner who comes back later is written as anyone else.
    again = milestone("lrn_a", level="three")
    await sink.write([m_record(again, 9, published_ms=PUBLISHED_MS + 2 * HOUR_MS)])
    assert {r["id"] for r in rows(sink, tables.milestones)} == {kept.id, again.id}


async def test_an_erasure_in_the_same_batch_as_newer_records_keeps_the_newer(sink: SqlSink) -> None:
    before, after = milestone("lrn_a", level="one"), milestone("lrn_a", level="two")
    await sink.write(
        [
            m_record(before, 1, published_ms=PUBLISHED_MS),
            e_record("lrn_a", 0, PUBLISHED_MS + HOUR_MS),
            m_record(after, 2, published_ms=PUBLISHED_MS + 2 * HOUR_MS),
        ]
    )
    assert [r["id"] for r in rows(sink, tables.milestones)] == [after.id]


async def test_forget_erases_a_learner_now(sink: SqlSink) -> None:
    await sink.write([m_record(milestone("lrn_a"), 1), p_record("lrn_a", snapshot("lrn_a", T0), 2)])

    deleted = sink.forget("lrn_a")

    assert deleted == 2
    assert rows(sink, tables.milestones) == []
    assert rows(sink, tables.learner_profiles) == []
    assert rows(sink, tables.erased_learners)[0]["erased_at"] > T0


async def test_a_record_the_database_refuses_is_dead_lettered_and_the_rest_written(
    sink: SqlSink, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite stores NUL characters; only PostgreSQL refuses them")
    good = milestone("lrn_a")
    bad = milestone("lrn_b")
    bad = bad.model_copy(update={"data": bad.data.model_copy(update={"title": "nul\x00here"})})

    result = await sink.write([m_record(good, 1), m_record(bad, 2)])

    assert result.written == 1
    [letter] = result.dead_letters
    failure = read_dead_letter(letter.value)
    assert isinstance(failure, MilestoneDeliveryFailure)
    assert failure.milestone.id == bad.id
    assert failure.sink == "sql"
    assert "refused the record" in failure.error
    assert [r["id"] for r in rows(sink, tables.milestones)] == [good.id]


# --- schema and connections -------------------------------------------------------------------


def test_the_migrations_create_exactly_the_tables_the_sink_writes(database_url: str) -> None:
    assert upgrade(database_url) == (None, "0001")
    assert upgrade(database_url) == ("0001", "0001")
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = [
                d
                for d in compare_metadata(context, tables.metadata)
                if not (d[0] == "remove_table" and d[1].name == "skillstream_schema_version")
            ]
    finally:
        engine.dispose()
    assert diff == []


async def test_a_database_without_the_schema_is_refused_with_the_fix(database_url: str) -> None:
    sink = SqlSink(database_url)
    with pytest.raises(ConfigError, match="skillstream db upgrade"):
        await sink.start()
    await sink.close()


async def test_an_unreachable_database_is_named_without_its_password() -> None:
    sink = SqlSink("postgresql://skillstream:hunter2@127.0.0.1:1/skillstream")
    with pytest.raises(ServiceUnavailable) as caught:
        await sink.start()
    message = str(caught.value)
    assert "postgresql+psycopg://skillstream:***@127.0.0.1:1/skillstream" in message
    assert "hunter2" not in message
    assert caught.value.exit_code == 3


def test_times_come_back_as_aware_utc(database_url: str) -> None:
    upgrade(database_url)
    sink = SqlSink(database_url)
    sink.write_sync([m_record(milestone(at=T0.astimezone(UTC)), 1)])
    [row] = rows(sink, tables.milestones)
    assert row["achieved_at"].utcoffset() == timedelta(0)
    assert row["received_at"].tzinfo is not None
