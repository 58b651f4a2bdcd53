"""The SQL sink: milestones and the newest profile per learner, in SQLite or PostgreSQL.

Consumes ``career.milestones``, ``learner.profiles`` and ``learner.erased``.
One transaction per batch, rows written with executemany; every write is an
idempotent upsert (``INSERT .. ON CONFLICT`` in each dialect), so a batch
written twice — a redelivery, a replay from offset 0 in a new consumer
group — leaves every table exactly as one write did.

* ``milestones``: one row per milestone id; a second record with the same id
  changes nothing (first write wins, ``received_at`` included).
* ``learner_profiles``: one row per learner, the snapshot with the newest
  ``as_of``; an older snapshot never overwrites a newer one, and of two with
  the same ``as_of`` the later record (higher offset) wins. A tombstone (null
  value) deletes the learner's row — only a row from an earlier record, so a
  replayed tombstone cannot delete what came after it.
* ``learner.erased`` (value ``{"learner": key, ...}``) and ``forget(learner)``
  delete every milestone and profile row of the learner published up to the
  erasure, and remember the erasure time in ``erased_learners`` so that a
  replay of older records does not bring the learner back. Records published
  after the erasure (the learner came back) are written as usual. The table
  keeps only the pseudonymous key and a time.

A record the database refuses (a NUL character PostgreSQL cannot store, say)
does not stop the stream: the batch is written again record by record and
the refused ones become dead letters. A database that cannot be reached
raises ``ServiceUnavailable`` naming it (password hidden), and the runner
retries the batch until it can.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, not_, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, StatementError

from sinks import tables
from sinks.base import (
    DeadLetter,
    ErasureRecord,
    Feed,
    MilestoneRecord,
    ProfileRecord,
    Sink,
    SinkRecord,
    WriteResult,
)
from sinks.database import (
    check_schema,
    is_unavailable,
    make_engine,
    parse_url,
    safe_url,
    unavailable,
)
from sinks.deadletters import delivery_failure, unreadable

_IN_CHUNK = 500


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class _Plan:
    """A batch reduced to the statements that give the same result as applying it in order."""

    erasures: dict[str, datetime]
    tombstones: dict[str, tuple[int, int]]
    milestones: list[MilestoneRecord]
    profiles: dict[str, ProfileRecord]


def _plan(batch: Sequence[SinkRecord]) -> _Plan:
    erasures: dict[str, datetime] = {}
    tombstones: dict[str, tuple[int, int]] = {}
    milestones: dict[str, MilestoneRecord] = {}
    snapshots: dict[str, ProfileRecord] = {}
    for record in batch:
        if isinstance(record, ErasureRecord):
            at = record.source.published_at
            if record.learner not in erasures or erasures[record.learner] < at:
                erasures[record.learner] = at
        elif isinstance(record, MilestoneRecord):
            milestones.setdefault(record.event.id, record)
        elif record.snapshot is None:
            tombstones[record.learner] = (record.source.partition, record.source.offset)
            snapshots.pop(record.learner, None)
        else:
            held = snapshots.get(record.learner)
            if held is None or _newer(record, held):
                snapshots[record.learner] = record
    return _Plan(erasures, tombstones, list(milestones.values()), snapshots)


def _newer(candidate: ProfileRecord, held: ProfileRecord) -> bool:
    assert candidate.snapshot is not None
    assert held.snapshot is not None
    return (candidate.snapshot.as_of, candidate.source.offset) >= (
        held.snapshot.as_of,
        held.source.offset,
    )


class SqlSink(Sink):
    """Milestones, profiles and erasures into SQLite or PostgreSQL (see the module docstring)."""

    name = "sql"
    feeds = frozenset({Feed.MILESTONES, Feed.PROFILES, Feed.ERASURES})

    def __init__(self, database_url: str, *, check: bool = True) -> None:
        self._url = parse_url(database_url)
        self._check = check
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self._url.render_as_string(hide_password=False))
        return self._engine

    def describe(self) -> str:
        return safe_url(self._url)

    async def start(self) -> None:
        await asyncio.to_thread(self._start)

    def _start(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise unavailable(self._url, exc) from exc
        if self._check:
            check_schema(self.engine)

    async def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    async def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        return await asyncio.to_thread(self.write_sync, batch)

    def write_sync(self, batch: Sequence[SinkRecord]) -> WriteResult:
        """Write a batch in one transaction; on a refused row, record by record."""
        if not batch:
            return WriteResult()
        now = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                self._apply(conn, _plan(batch), now)
            return WriteResult(written=len(batch))
        except DBAPIError as exc:
            if is_unavailable(exc):
                raise unavailable(self._url, exc) from exc
            if len(batch) == 1:
                return WriteResult(dead_letters=[self._refused(batch[0], exc, now)])
        except StatementError as exc:
            if len(batch) == 1:
                return WriteResult(dead_letters=[self._refused(batch[0], exc, now)])
        result = WriteResult()
        for record in batch:
            single = self.write_sync([record])
            result.written += single.written
            result.dead_letters.extend(single.dead_letters)
        return result

    def _refused(self, record: SinkRecord, exc: Exception, now: datetime) -> DeadLetter:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        error = f"database {safe_url(self._url)} refused the record: {reason}"
        if isinstance(record, MilestoneRecord):
            return delivery_failure(self.name, record, error, attempts=1, now=now)
        return unreadable(self.name, record.source, error, now)

    def forget(self, learner: str, at: datetime | None = None) -> int:
        """Erase a learner now: delete their rows, remember the erasure; return rows deleted."""
        when = at or datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                return self._erase(conn, {learner: when})
        except DBAPIError as exc:
            if is_unavailable(exc):
                raise unavailable(self._url, exc) from exc
            raise

    # --- one transaction -----------------------------------------------------------------

    def _apply(self, conn: Connection, plan: _Plan, now: datetime) -> None:
        if plan.erasures:
            self._erase(conn, plan.erasures)
        learners = {r.learner for r in plan.milestones} | set(plan.profiles)
        erased = self._erased(conn, sorted(learners))
        self._delete_tombstoned(conn, plan.tombstones)
        self._insert_milestones(
            conn, [r for r in plan.milestones if not _suppressed(r, erased)], now
        )
        self._upsert_profiles(
            conn, [r for r in plan.profiles.values() if not _suppressed(r, erased)], now
        )

    def _insert(self, conn: Connection) -> Any:
        return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert

    def _erase(self, conn: Connection, erasures: dict[str, datetime]) -> int:
        t = tables.erased_learners
        stmt = self._insert(conn)(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.learner],
            set_={"erased_at": stmt.excluded.erased_at},
            where=t.c.erased_at < stmt.excluded.erased_at,
        )
        conn.execute(stmt, [{"learner": k, "erased_at": v} for k, v in erasures.items()])
        deleted = 0
        for table in (tables.milestones, tables.learner_profiles):
            for learner, at in erasures.items():
                result = conn.execute(
                    delete(table).where(table.c.learner == learner, table.c.published_at <= at)
                )
                deleted += result.rowcount or 0
        return deleted

    def _erased(self, conn: Connection, learners: Sequence[str]) -> dict[str, datetime]:
        t = tables.erased_learners
        found: dict[str, datetime] = {}
        for chunk in _chunks(learners):
            query = select(t.c.learner, t.c.erased_at).where(t.c.learner.in_(chunk))
            found.update((learner, at) for learner, at in conn.execute(query))
        return found

    def _delete_tombstoned(self, conn: Connection, tombstones: dict[str, tuple[int, int]]) -> None:
        """Delete a tombstoned learner's row unless it came from a later record of the partition."""
        if not tombstones:
            return
        t = tables.learner_profiles
        later = and_(
            t.c.source_partition == bindparam("partition"),
            t.c.source_offset >= bindparam("offset"),
        )
        conn.execute(
            delete(t).where(t.c.learner == bindparam("target"), not_(later)),
            [
                {"target": learner, "partition": partition, "offset": offset}
                for learner, (partition, offset) in tombstones.items()
            ],
        )

    def _insert_milestones(
        self, conn: Connection, records: Sequence[MilestoneRecord], now: datetime
    ) -> None:
        if not records:
            return
        t = tables.milestones
        stmt = self._insert(conn)(t).on_conflict_do_nothing(index_elements=[t.c.id])
        conn.execute(stmt, [_milestone_row(r, now) for r in records])

    def _upsert_profiles(
        self, conn: Connection, records: Sequence[ProfileRecord], now: datetime
    ) -> None:
        if not records:
            return
        t = tables.learner_profiles
        stmt = self._insert(conn)(t)
        excluded = stmt.excluded
        newer = or_(
            t.c.as_of < excluded.as_of,
            and_(t.c.as_of == excluded.as_of, t.c.source_offset < excluded.source_offset),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.learner],
            set_={c.name: excluded[c.name] for c in t.columns if c.name != "learner"},
            where=newer,
        )
        conn.execute(stmt, [_profile_row(r, now) for r in records])


def _suppressed(record: MilestoneRecord | ProfileRecord, erased: dict[str, datetime]) -> bool:
    at = erased.get(record.learner)
    return at is not None and record.source.published_at <= at


def _milestone_row(record: MilestoneRecord, now: datetime) -> dict[str, Any]:
    event = record.event
    data = event.data
    return {
        "id": event.id,
        "learner": data.learner,
        "kind": str(data.kind),
        "rule": data.rule,
        "skill": data.skill,
        "level": data.level,
        "title": data.title,
        "achieved_at": data.achieved_at,
        "evidence": list(data.evidence),
        "event": event.model_dump(mode="json"),
        "source_partition": record.source.partition,
        "source_offset": record.source.offset,
        "published_at": record.source.published_at,
        "received_at": now,
    }


def _profile_row(record: ProfileRecord, now: datetime) -> dict[str, Any]:
    snapshot = record.snapshot
    assert snapshot is not None
    return {
        "learner": record.learner,
        "as_of": snapshot.as_of,
        "first_activity": snapshot.first_activity,
        "statements": snapshot.statements,
        "courses_completed": snapshot.courses_completed,
        "events_attended": snapshot.events_attended,
        "assessments": snapshot.assessments,
        "certifications": snapshot.certifications,
        "weekly_streak": snapshot.weekly_streak,
        "longest_streak": snapshot.longest_streak,
        "skills": len(snapshot.skills),
        "milestones": len(snapshot.milestones),
        "snapshot": snapshot.model_dump(mode="json"),
        "source_partition": record.source.partition,
        "source_offset": record.source.offset,
        "published_at": record.source.published_at,
        "updated_at": now,
    }
