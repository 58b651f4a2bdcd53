"""Learner queries, answered from the SQL sink's database.

The SQL sink (``sinks/sql.py``) already keeps the newest profile snapshot per
learner and one row per milestone, idempotently and with erasures applied, so
it is the query store: the front door only reads its tables ``learner_profiles``
and ``milestones``. What it answers lags the stream by the sink's batch
interval (``SKILLSTREAM_SINKS__BATCH_WAIT_MS``, 500 ms by default) plus the
worker's own delay, and is empty for a learner until the sink has run.

SQLAlchemy is synchronous, so each query runs in a worker thread; the engine
is the sink's (``sinks.database.make_engine``: connection pool, SQLite WAL so
these reads never block the sink's writes, a connect timeout on PostgreSQL).
A database that cannot be reached, or that has no skillstream tables yet,
raises ``ServiceUnavailable`` naming it with the password hidden; the app
turns that into 503.

Queries take the pseudonymous key (``lrn_…``); the app turns an xAPI ``agent``
parameter into it first (``skillstream.learners``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from sinks import tables
from sinks.database import make_engine, safe_url, scrub
from skillstream.errors import ServiceUnavailable

_UNDEFINED_TABLE: Final = "42P01"
"""PostgreSQL's SQLSTATE for a missing table."""


class LearnerStore:
    """Reads of the SQL sink's tables; the engine is created on first use."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._engine: Engine | None = None

    def describe(self) -> str:
        return safe_url(self._url)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self._url)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _unavailable(self, exc: DBAPIError) -> ServiceUnavailable:
        orig = exc.orig
        first = (str(orig or exc).strip().splitlines() or [type(exc).__name__])[0]
        first = scrub(first, self._url)
        if "no such table" in first or getattr(orig, "sqlstate", None) == _UNDEFINED_TABLE:
            return ServiceUnavailable(
                f"database {self.describe()}",
                f"it has no skillstream tables yet ({first})",
                "run `skillstream db upgrade`, then the SQL sink (`skillstream sink sql`)",
            )
        return ServiceUnavailable(
            f"database {self.describe()}",
            first,
            "is the database running and reachable? SKILLSTREAM_DATABASE_URL chooses it",
        )

    def profile_sync(self, learner: str) -> dict[str, Any] | None:
        """The learner's newest profile snapshot (JSON object), or None if unknown."""
        t = tables.learner_profiles
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(t.c.snapshot).where(t.c.learner == learner)).first()
        except DBAPIError as exc:
            raise self._unavailable(exc) from exc
        return None if row is None else dict(row[0])

    def milestones_sync(self, learner: str) -> list[dict[str, Any]]:
        """The learner's milestones (CloudEvents), oldest achievement first, ties by id."""
        t = tables.milestones
        query = select(t.c.event).where(t.c.learner == learner).order_by(t.c.achieved_at, t.c.id)
        try:
            with self.engine.connect() as conn:
                return [dict(row[0]) for row in conn.execute(query)]
        except DBAPIError as exc:
            raise self._unavailable(exc) from exc

    def check_sync(self) -> str:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                conn.execute(select(tables.learner_profiles.c.learner).limit(1))
        except DBAPIError as exc:
            raise self._unavailable(exc) from exc
        return f"{self.describe()} answers"

    async def profile(self, learner: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.profile_sync, learner)

    async def milestones(self, learner: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.milestones_sync, learner)

    async def check(self, timeout_s: float) -> str:
        """Whether the database answers within ``timeout_s``; raises ``ServiceUnavailable``."""
        try:
            async with asyncio.timeout(timeout_s):
                return await asyncio.to_thread(self.check_sync)
        except TimeoutError as exc:
            raise ServiceUnavailable(
                f"database {self.describe()}", f"no answer within {timeout_s:g}s"
            ) from exc
