"""The sink contract on SQLite and on real PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest
from sink_contract import SinkContract, SinkHarness
from sqlalchemy import func, select

from sinks import tables
from sinks.base import Sink
from sinks.database import make_engine, upgrade
from sinks.sql import SqlSink


class SqlHarness(SinkHarness):
    name = "sql"

    def __init__(self, url: str) -> None:
        upgrade(url)
        self.url = url

    def sink(self) -> Sink:
        return SqlSink(self.url)

    async def recorded(self) -> list[tuple[str, str]]:
        t = tables.milestones
        engine = make_engine(self.url)
        try:
            with engine.connect() as conn:
                query = select(t.c.learner, t.c.id).order_by(
                    t.c.received_at, t.c.source_partition, t.c.source_offset
                )
                return [(learner, i) for learner, i in conn.execute(query)]
        finally:
            engine.dispose()

    async def copies(self) -> Counter[str]:
        t = tables.milestones
        engine = make_engine(self.url)
        try:
            with engine.connect() as conn:
                query = select(t.c.id, func.count()).group_by(t.c.id)
                return Counter(dict(conn.execute(query).all()))
        finally:
            engine.dispose()


class TestSqliteSink(SinkContract):
    @pytest.fixture
    def harness(self, sqlite_url: str) -> SinkHarness:
        return SqlHarness(sqlite_url)


class TestPostgresSink(SinkContract):
    @pytest.fixture
    def harness(self, postgres_url: str) -> SinkHarness:
        return SqlHarness(postgres_url)
