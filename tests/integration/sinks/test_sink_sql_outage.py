"""PostgreSQL stops mid-stream and starts again: the SQL sink waits, commits nothing meanwhile,
and ends with every milestone exactly once and nothing dead-lettered.

The test stops a PostgreSQL server, so it runs only where the test database is the
throwaway cluster of infra/postgres/pg.sh (127.0.0.1:15432) — and even there it starts
a private cluster of its own with the same script (another port, another folder), so
tests running beside it on the shared cluster are not disturbed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sink_factories import stream
from sink_kafka import committed, dead_letters, produce
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from sinks import tables
from sinks.database import make_engine, upgrade
from sinks.runner import Progress, SinkRunner
from sinks.sql import SqlSink
from skillstream.settings import Settings

PG_SCRIPT = Path(__file__).resolve().parents[3] / "infra" / "postgres" / "pg.sh"
SHARED = ("127.0.0.1", 15432)


@dataclass
class Cluster:
    url: str
    env: dict[str, str]

    def _pg(self, action: str) -> str:
        done = subprocess.run(
            ["bash", str(PG_SCRIPT), action],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg.sh {action} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def down(self) -> None:
        self._pg("down")

    def up(self) -> None:
        self._pg("up")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    configured = os.environ.get("SKILLSTREAM_TEST_DATABASE_URL")
    if not configured:
        pytest.skip(
            "PostgreSQL not configured: set SKILLSTREAM_TEST_DATABASE_URL to the cluster of "
            "infra/postgres/pg.sh (bash .ci/run does) to run the PostgreSQL outage test"
        )
    url = make_url(configured)
    if (url.host, url.port) != SHARED:
        pytest.skip(
            f"SKILLSTREAM_TEST_DATABASE_URL points at {url.host}:{url.port}, not the throwaway "
            "cluster of infra/postgres/pg.sh on 127.0.0.1:15432; this test stops and starts "
            "PostgreSQL and does that only where pg.sh runs the server"
        )
    home = tempfile.mkdtemp(prefix="skillstream-pg-outage-", dir="/tmp")
    env = {**os.environ, "SKILLSTREAM_PG_HOME": home, "SKILLSTREAM_PG_PORT": str(_free_port())}
    private = Cluster(url="", env=env)
    try:
        private.url = private._pg("up").splitlines()[-1]
        yield private
    finally:
        subprocess.run(["bash", str(PG_SCRIPT), "clean"], env=env, capture_output=True, check=False)


def _ids(url: str) -> tuple[list[str], int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ids = list(conn.scalars(select(tables.milestones.c.id)))
            total = conn.scalar(select(func.count()).select_from(tables.milestones))
        return ids, int(total or 0)
    finally:
        engine.dispose()


async def test_postgres_stopped_and_started_mid_stream_loses_nothing(
    cluster: Cluster, sink_settings: Settings, created_topics: object, bootstrap: str
) -> None:
    upgrade(cluster.url)
    events = stream(learners=5, per_learner=24)
    before, during = events[:50], events[50:]
    topic = sink_settings.topics.milestones
    first_part_written, outage_noticed, all_written = (asyncio.Event() for _ in range(3))
    waiting_messages: list[str] = []

    def on_progress(progress: Progress) -> None:
        if progress.written >= len(before):
            first_part_written.set()
        if progress.waiting:
            waiting_messages.append(progress.waiting)
            outage_noticed.set()
        if progress.written >= len(events):
            all_written.set()

    await produce(bootstrap, topic, before)
    runner = SinkRunner(SqlSink(cluster.url), sink_settings, on_progress=on_progress)
    running = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(180):
            await first_part_written.wait()
            await asyncio.to_thread(cluster.down)
            await produce(bootstrap, topic, during)
            await outage_noticed.wait()
            committed_in_outage = (await committed(bootstrap, runner.group_id, [topic]))[topic]
            await asyncio.to_thread(cluster.up)
            await all_written.wait()
    finally:
        runner.stop()
        progress = await running

    port = make_url(cluster.url).port
    assert f"database postgresql+psycopg://postgres@127.0.0.1:{port}/" in waiting_messages[0]
    assert "unavailable" in waiting_messages[0]
    assert committed_in_outage <= len(before), "nothing written in the outage was committed"
    ids, rows = _ids(cluster.url)
    assert sorted(ids) == sorted(e.id for e in events)
    assert rows == len(events)
    assert progress.retries >= 1
    assert progress.dead_lettered == 0
    assert await dead_letters(bootstrap, sink_settings.topics.milestones_dlq) == []
    assert (await committed(bootstrap, runner.group_id, [topic]))[topic] == len(events)
