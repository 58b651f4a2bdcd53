"""The `skillstream sink` commands as an operator runs them, against the real broker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from sink_factories import stream
from sink_kafka import committed, produce
from sqlalchemy import func, select

from sinks import tables
from sinks.database import make_engine, upgrade
from sinks.runner import SinkRunner, reset_group
from sinks.sql import SqlSink
from skillstream.errors import ServiceUnavailable
from skillstream.settings import Settings

SKILLSTREAM = str(Path(sys.executable).with_name("skillstream"))


def environment(settings: Settings, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLSTREAM_")}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=settings.kafka.bootstrap_servers,
        SKILLSTREAM_TOPICS=json.dumps(settings.topics.model_dump()),
        SKILLSTREAM_GROUP_ID=settings.group_id,
        SKILLSTREAM_DATABASE_URL=database_url,
        SKILLSTREAM_SINKS=settings.sinks.model_dump_json(),
    )
    return env


async def skillstream(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        SKILLSTREAM, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def row_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(tables.milestones)) or 0)
    finally:
        engine.dispose()


async def test_sink_sql_until_caught_up_writes_everything_and_says_so(
    sink_settings: Settings, created_topics: object, bootstrap: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'skillstream.db'}"
    events = stream(learners=3, per_learner=5)
    await produce(bootstrap, sink_settings.topics.milestones, events)
    env = environment(sink_settings, url)

    code, out, err = await skillstream(env, "sink", "sql", "--until-caught-up", "--upgrade")

    assert code == 0, err
    assert "sink sql caught up: consumed 15, written 15, dead-lettered 0" in out
    assert f"(group {sink_settings.group_id}-sink-sql)" in out
    assert row_count(url) == 15

    code, out, err = await skillstream(env, "sink", "reset", "sql")
    assert code == 0, err
    assert f"group {sink_settings.group_id}-sink-sql reset to earliest" in out
    code, out, _ = await skillstream(env, "sink", "sql", "--until-caught-up")
    assert "consumed 15, written 15" in out
    assert row_count(url) == 15


async def test_sigterm_stops_the_sink_cleanly_and_a_restart_finishes_the_job(
    sink_settings: Settings, created_topics: object, bootstrap: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'skillstream.db'}"
    upgrade(url)
    events = stream(learners=4, per_learner=5)
    await produce(bootstrap, sink_settings.topics.milestones, events)
    env = environment(sink_settings, url)
    process = await asyncio.create_subprocess_exec(
        SKILLSTREAM,
        "sink",
        "sql",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    async with asyncio.timeout(60):
        while b"as group" not in (line := await process.stderr.readline()):
            assert line, "the sink exited before it started reading"
        process.send_signal(signal.SIGTERM)
        out, _ = await process.communicate()

    assert process.returncode == 0
    assert "stopped by signal" in out.decode()

    code, _, err = await skillstream(env, "sink", "sql", "--until-caught-up")
    assert code == 0, err
    assert row_count(url) == len(events)
    topic = sink_settings.topics.milestones
    group = f"{sink_settings.group_id}-sink-sql"
    assert (await committed(bootstrap, group, [topic]))[topic] == len(events)


async def test_an_unreachable_database_exits_3_naming_it_without_the_password(
    sink_settings: Settings, created_topics: object
) -> None:
    env = environment(sink_settings, "postgresql://sink:s3cr3t@127.0.0.1:1/skillstream")
    code, _, err = await skillstream(env, "sink", "sql", "--until-caught-up")
    assert code == 3
    assert "database postgresql+psycopg://sink:***@127.0.0.1:1/skillstream unavailable" in err
    assert "s3cr3t" not in err


async def test_missing_topics_are_named_with_the_command_that_creates_them(
    sink_settings: Settings, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'skillstream.db'}"
    upgrade(url)
    env = environment(sink_settings, url)
    code, _, err = await skillstream(env, "sink", "sql", "--until-caught-up")
    assert code == 2
    assert sink_settings.topics.milestones in err
    assert "skillstream topics create" in err


async def test_a_reset_is_refused_while_the_sink_runs(
    sink_settings: Settings, created_topics: object, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'skillstream.db'}"
    upgrade(url)
    started = asyncio.Event()
    runner = SinkRunner(
        SqlSink(url), sink_settings, until_caught_up=False, on_progress=lambda _p: started.set()
    )
    running = asyncio.create_task(runner.run())
    try:
        await produce(
            sink_settings.kafka.bootstrap_servers, sink_settings.topics.milestones, stream(1, 2)
        )
        async with asyncio.timeout(60):
            await started.wait()
        with pytest.raises(ServiceUnavailable, match="refused the reset") as refused:
            await reset_group(sink_settings, runner.group_id, SqlSink.feeds)
        assert "stop every running member" in str(refused.value)
    finally:
        runner.stop()
        await running
