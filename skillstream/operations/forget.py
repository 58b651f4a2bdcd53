"""Erasing a learner: profile state, the compacted topics and the SQL sink's rows.

``forget`` works on the pseudonymous learner key (``schemas.identity``); an
operator names the learner in any form ``skillstream learner-key`` takes
(``skillstream.learners.FORMS``: an e-mail address, an mbox_sha1sum, an openid,
``HOMEPAGE|NAME``, a JSON Agent) or by the key itself. In this order:

1. **ERASE** — ``streams.profile_stage.erase_record(key)`` is produced to
   ``learning.events`` keyed by the learner, so it lands on the partition
   that owns the learner and is applied in order after every event before
   it. The profile stage deletes the learner's state and writes tombstones
   to ``learner.profiles`` and the profile changelog.
2. **Wait** until the profile group has committed past that record (the
   profile stage commits only after the tombstones are acknowledged), so
   every milestone and snapshot the learner's earlier events produce is
   published before step 3. With no worker running, or past the timeout, the
   erasure is *pending*: it is applied when a worker gets there.
3. **learner.erased** — ``{"version": 1, "learner": key, "erased_at": …}``
   keyed by the learner, with the record time equal to ``erased_at`` and no
   IFI. The SQL sink deletes every row of the learner published up to then
   and remembers the erasure so that a replay of older records cannot bring
   them back.
4. **SQL** — with ``sql`` on, the same deletion directly in the database now
   (``sinks.sql.SqlSink.forget`` with the same time), so queries stop
   returning the learner without waiting for the sink.

What this cannot erase — statements in ``xapi.statements`` and its dead
letters, events in ``learning.events`` and milestones in
``career.milestones`` until their retention, webhook deliveries already made
— is written down in docs/operations.md.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import TopicPartition

from schemas.identity import is_learner_key
from sinks.database import parse_url, safe_url
from skillstream.broker import check_reachable
from skillstream.errors import ConfigError, ServiceUnavailable, UsageError
from skillstream.kafka_io import producer
from skillstream.learners import FORMS, InvalidAgent, learner_for_ifi
from skillstream.operations.cluster import Cluster
from skillstream.operations.groups import profile_group
from skillstream.settings import Settings
from skillstream.topics import create_topics
from streams.profile_stage import erase_record


def learner_key(ifi: str | None, key: str | None, secret: bytes) -> str:
    """The learner key from exactly one of an IFI and a key; ``UsageError`` otherwise.

    The message of a refused IFI never repeats it (it may be an e-mail address).
    """
    if (ifi is None) == (key is None):
        raise UsageError(
            "name the learner once: an identifier (LEARNER_IFI, one of "
            f"{'; '.join(FORMS)}) or --key lrn_…"
        )
    if key is not None:
        if not is_learner_key(key.strip()):
            raise UsageError(
                '--key is not a learner key ("lrn_" and 26 characters a-z, 2-7, as in '
                "learner.profiles and the SQL tables)"
            )
        return key.strip()
    assert ifi is not None
    try:
        return learner_for_ifi(ifi, secret).learner
    except InvalidAgent as exc:
        raise UsageError(
            f"LEARNER_IFI names no learner: {exc}. Accepted: {'; '.join(FORMS)}"
        ) from None


def erased_event(learner: str, at: datetime) -> bytes:
    """The ``learner.erased`` value: the key and the time, nothing that identifies a person."""
    stamp = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return orjson.dumps({"version": 1, "learner": learner, "erased_at": stamp})


def sql_configured(settings: Settings) -> bool:
    """Whether a sink database is configured: set explicitly, or the default SQLite file exists."""
    if "database_url" in settings.model_fields_set or "SKILLSTREAM_DATABASE_URL" in os.environ:
        return True
    url = parse_url(settings.database_url)
    return (
        url.get_backend_name() == "sqlite"
        and bool(url.database)
        and Path(str(url.database)).expanduser().exists()
    )


@dataclass(frozen=True, slots=True)
class SqlOutcome:
    database: str
    rows_deleted: int | None
    """None when the delete was skipped; ``skipped`` says why."""
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class ForgetReport:
    learner: str
    erase_partition: int
    erase_offset: int
    applied: bool
    """The profile stage has applied the ERASE record (its group committed past it)."""
    workers_running: bool
    erased_at: datetime
    erased_topic: str
    sql: SqlOutcome | None


async def _wait_applied(
    settings: Settings,
    tp: TopicPartition,
    offset: int,
    timeout_s: float,
    on_wait: Callable[[float], None] | None,
) -> tuple[bool, bool]:
    """(applied, workers running) once the profile group committed past ``offset``."""
    group = profile_group(settings).group
    started = time.monotonic()
    async with Cluster(settings.kafka.bootstrap_servers) as cluster:
        while True:
            committed = (await cluster.committed(group, [tp]))[tp]
            if committed is not None and committed > offset:
                return True, True
            info = (await cluster.describe_groups([group]))[group]
            elapsed = time.monotonic() - started
            if not info.members or elapsed >= timeout_s:
                return False, bool(info.members)
            if on_wait is not None:
                on_wait(elapsed)
            await asyncio.sleep(0.5)


_KAFKA_DONE = (
    "the erasure itself is published (learner.erased): the SQL sink deletes the rows when "
    "it runs, or run this command again once the database answers"
)


async def _delete_rows(
    settings: Settings, learner: str, at: datetime, explicit: bool
) -> SqlOutcome:
    from sinks.sql import SqlSink

    shown = safe_url(settings.database_url)
    sink = SqlSink(settings.database_url)
    try:
        await sink.start()
        deleted = await asyncio.to_thread(sink.forget, learner, at)
    except ServiceUnavailable as exc:
        if explicit:
            raise ServiceUnavailable(
                exc.service, exc.problem, f"{exc.hint}; {_KAFKA_DONE}"
            ) from exc
        return SqlOutcome(shown, None, skipped=str(exc).splitlines()[0])
    except ConfigError as exc:
        if explicit:
            raise ConfigError(f"{exc}\n  {_KAFKA_DONE}") from exc
        return SqlOutcome(shown, None, skipped=str(exc).splitlines()[0])
    finally:
        await sink.close()
    return SqlOutcome(shown, deleted)


async def forget(
    settings: Settings,
    learner: str,
    *,
    sql: bool | None = None,
    wait_s: float = 60.0,
    on_wait: Callable[[float], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ForgetReport:
    """Erase ``learner`` (a key) as the module docstring describes.

    ``sql``: True deletes the rows directly and fails (exit 3 or 2) if the
    database cannot; None does so when ``sql_configured`` and reports a
    database it cannot use as skipped; False leaves it to the SQL sink.
    """
    topics = settings.topics
    bootstrap = settings.kafka.bootstrap_servers
    await asyncio.to_thread(check_reachable, bootstrap)  # exit 3 before anything is produced
    await create_topics(bootstrap, topics)
    async with producer(bootstrap) as p:
        meta = await (await p.send(topics.events, erase_record(learner), key=learner.encode()))
    tp = TopicPartition(topics.events, meta.partition)
    applied, running = await _wait_applied(settings, tp, meta.offset, wait_s, on_wait)
    at = clock()
    async with producer(bootstrap) as p:
        await (
            await p.send(
                topics.erased,
                erased_event(learner, at),
                key=learner.encode(),
                timestamp_ms=int(at.timestamp() * 1000),
            )
        )
    outcome = None
    if sql or (sql is None and sql_configured(settings)):
        outcome = await _delete_rows(settings, learner, at, explicit=bool(sql))
    return ForgetReport(
        learner, meta.partition, meta.offset, applied, running, at, topics.erased, outcome
    )
