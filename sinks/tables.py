"""The SQL sink's tables, as SQLAlchemy Core metadata.

The schema itself is created by the migrations in ``sinks/migrations``; a
unit test checks that the two agree. Times are stored in UTC (``timestamptz``
on PostgreSQL; UTC text on SQLite, which has no time type) and always read
back timezone-aware.

Each row keeps where it came from (``source_partition``, ``source_offset``,
``published_at`` = the Kafka record time): an erasure removes what was
published before it, and among snapshots with the same ``as_of`` the later
record wins, so replaying a topic leaves every row as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant stored in UTC; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: skillstream stores aware UTC instants")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Json = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData()

milestones = Table(
    "milestones",
    metadata,
    Column("id", String, primary_key=True, comment="Milestone id (UUIDv5 of the achievement)."),
    Column("learner", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("rule", String, nullable=False),
    Column("skill", String, nullable=True),
    Column("level", String, nullable=False),
    Column("title", Text, nullable=False),
    Column("achieved_at", UtcDateTime, nullable=False, comment="Event time."),
    Column("evidence", Json, nullable=False, comment="Statement ids, a JSON array."),
    Column("event", Json, nullable=False, comment="The whole CloudEvent."),
    Column("source_partition", Integer, nullable=False),
    Column("source_offset", BigInteger, nullable=False),
    Column("published_at", UtcDateTime, nullable=False, comment="Kafka record time."),
    Column("received_at", UtcDateTime, nullable=False, comment="When the sink wrote the row."),
    Index("ix_milestones_learner_achieved_at", "learner", "achieved_at"),
    Index("ix_milestones_kind_skill", "kind", "skill"),
)

learner_profiles = Table(
    "learner_profiles",
    metadata,
    Column("learner", String, primary_key=True),
    Column("as_of", UtcDateTime, nullable=False, comment="Newest event time in the profile."),
    Column("first_activity", UtcDateTime, nullable=False),
    Column("statements", Integer, nullable=False),
    Column("courses_completed", Integer, nullable=False),
    Column("events_attended", Integer, nullable=False),
    Column("assessments", Integer, nullable=False),
    Column("certifications", Integer, nullable=False),
    Column("weekly_streak", Integer, nullable=False),
    Column("longest_streak", Integer, nullable=False),
    Column("skills", Integer, nullable=False, comment="Number of skills in the snapshot."),
    Column("milestones", Integer, nullable=False, comment="Number of milestones achieved."),
    Column("snapshot", Json, nullable=False, comment="The whole profile snapshot."),
    Column("source_partition", Integer, nullable=False),
    Column("source_offset", BigInteger, nullable=False),
    Column("published_at", UtcDateTime, nullable=False, comment="Kafka record time."),
    Column("updated_at", UtcDateTime, nullable=False, comment="When the sink wrote the row."),
    Index("ix_learner_profiles_as_of", "as_of"),
)

erased_learners = Table(
    "erased_learners",
    metadata,
    Column("learner", String, primary_key=True),
    Column(
        "erased_at",
        UtcDateTime,
        nullable=False,
        comment="Rows published up to this instant are gone and stay gone on replay.",
    ),
)
