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

The worker that applies the ERASE also removes every older copy of the
learner's state from its own disk before it commits (``StateStore.purge``:
the RocksDB WAL flushed, the key's range compacted, a new MANIFEST), so
*applied* means gone from that worker's files.

What this cannot erase is listed with every report (``ForgetReport.remains``,
built by ``remains`` from the topics' actual retention and compaction
settings): the raw statements and dead letters, events and milestones until
their retention; the older records behind the tombstones of the compacted
topics until the log cleaner gets there; other workers' copies of the
partition; the brokers' disks; webhook subscribers; backups. Also in
docs/operations.md.
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
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from schemas.identity import is_learner_key
from schemas.topology import Topics, changelog_topic
from sinks.database import parse_url, safe_url
from skillstream.errors import ConfigError, ServiceUnavailable, UsageError
from skillstream.kafka_io import producer
from skillstream.learners import FORMS, InvalidAgent, learner_for_ifi
from skillstream.operations.cluster import Cluster
from skillstream.operations.groups import profile_group
from skillstream.settings import Settings
from skillstream.topics import create_topics
from streams.kafka.connection import KafkaConnection
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
class Remains:
    """A place ``forget`` cannot reach: what of the learner stays there, and until when."""

    where: str
    what: str
    until: str


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
    remains: tuple[Remains, ...] = ()


RETENTION_CONFIGS = (
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "segment.ms",
    "segment.bytes",
    "min.cleanable.dirty.ratio",
    "max.compaction.lag.ms",
    "delete.retention.ms",
)
"""The topic settings that decide how long a learner's records stay on the brokers."""


def duration(ms: str | None) -> str:
    """A Kafka duration setting for a reader: ``604800000`` -> ``7 d``; -1 -> ``never``."""
    if ms is None or not ms.lstrip("-").isdigit():
        return "unknown"
    value = int(ms)
    if value < 0:
        return "never"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if value >= size:
            amount = value / size
            return f"{amount:.0f} {unit}" if amount == int(amount) else f"{amount:.1f} {unit}"
    return f"{value} ms"


def size(raw: str | None) -> str:
    if raw is None or not raw.lstrip("-").isdigit():
        return "unknown"
    value = int(raw)
    if value < 0:
        return "unlimited"
    for unit, step in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= step:
            return f"{value / step:.0f} {unit}"
    return f"{value} B"


def _retention(config: dict[str, str]) -> str:
    """Until when a topic with cleanup.policy=delete keeps a record."""
    if not config:
        return "its retention (the topic's settings could not be read)"
    if "delete" not in config.get("cleanup.policy", "delete"):
        return f"no age limit: cleanup.policy = {config.get('cleanup.policy')}"
    retention, segment = config.get("retention.ms", ""), config.get("segment.ms", "")
    by_size = config.get("retention.bytes", "-1") not in ("-1", "")
    if retention.startswith("-"):
        text = "no time limit: retention.ms = -1 keeps them until the topic is deleted"
        if by_size:
            text += f", or past retention.bytes = {size(config.get('retention.bytes'))}"
        return text
    # Kafka deletes a segment whole, once its newest record is older than retention.ms.
    text = (
        f"retention.ms = {duration(retention)} after the newest record of its segment "
        f"(a segment takes records for up to segment.ms = {duration(segment)} or "
        f"segment.bytes = {size(config.get('segment.bytes'))})"
    )
    if retention.isdigit() and segment.isdigit():
        text += f": at most {duration(str(int(retention) + int(segment)))}"
    if by_size:
        text += f", or sooner past retention.bytes = {size(config.get('retention.bytes'))}"
    return text


def _compaction(config: dict[str, str]) -> str:
    """Until when a compacted topic keeps the records behind a tombstone."""
    if not config:
        return (
            "the log cleaner rewrites their segment (the topic's settings could not be read: "
            "see docs/operations.md)"
        )
    lag = config.get("max.compaction.lag.ms")
    roll = f"segment.ms = {duration(config.get('segment.ms'))}"
    bound = ""
    if lag is not None and lag.isdigit() and int(lag) < (1 << 63) - 1:
        roll = f"segment.ms or max.compaction.lag.ms, whichever is shorter: {duration(lag)}"
        bound = f"; max.compaction.lag.ms = {duration(lag)} forces it after that long"
    return (
        "the log cleaner rewrites their segment: never the active one (it closes after "
        f"{roll}, or at segment.bytes = {size(config.get('segment.bytes'))}), and a closed "
        "one only once the share of the log not yet cleaned passes min.cleanable.dirty.ratio "
        f"= {config.get('min.cleanable.dirty.ratio', 'unknown')}{bound}; the tombstone itself "
        f"(the key only) then stays delete.retention.ms = "
        f"{duration(config.get('delete.retention.ms'))}"
        + (
            f"; cleanup.policy = {config['cleanup.policy']} also deletes by age: "
            + _retention(config)
            if "delete" in config.get("cleanup.policy", "")
            else ""
        )
    )


def remains(
    topics: Topics,
    group: str,
    partition: int,
    applied: bool,
    configs: dict[str, dict[str, str]],
) -> tuple[Remains, ...]:
    """Every place the learner's data stays after ``forget``, with the topics' own settings.

    ``configs``: each topic's ``RETENTION_CONFIGS`` as the brokers report them
    (a topic missing: its settings could not be read, and the text says so).
    """
    changelog = changelog_topic(group)
    found: list[Remains] = []
    if not applied:
        found.append(
            Remains(
                f"the worker that owns {topics.events}[{partition}]",
                "the learner's whole profile state, in its local RocksDB files",
                "it applies the ERASE record (then purges its files)",
            )
        )
    found += [
        Remains(
            topics.statements,
            "the raw statements, with the learner's identifier (e-mail address, account)",
            _retention(configs.get(topics.statements, {})),
        ),
        Remains(
            topics.statements_dlq,
            "refused statements, raw (base64), with the identifier",
            _retention(configs.get(topics.statements_dlq, {})),
        ),
        Remains(
            topics.events,
            "the learner's events (key, skills, scores, statement ids)",
            _retention(configs.get(topics.events, {})),
        ),
        Remains(
            topics.milestones,
            "the milestones published for the learner",
            _retention(configs.get(topics.milestones, {})),
        ),
        Remains(
            topics.milestones_dlq,
            "milestones a sink could not deliver",
            _retention(configs.get(topics.milestones_dlq, {})),
        ),
        Remains(
            topics.profiles,
            "older snapshots of the profile, behind the tombstone written now",
            _compaction(configs.get(topics.profiles, {})),
        ),
        Remains(
            changelog,
            "older profile states, behind the tombstone written now",
            _compaction(configs.get(changelog, {})),
        ),
        Remains(
            "other workers' disks",
            f"the profile state, in the local files of any worker that owned partition "
            f"{partition} before (SKILLSTREAM_DATA_DIR/profiles/partition-{partition})",
            "that worker is assigned the partition again (its restore applies the tombstone, "
            "its next batch there purges the files) or its folder is deleted; if it comes back "
            "after the cleaner has dropped the tombstone (delete.retention.ms), it keeps the "
            "state: delete the folder of a worker that left",
        ),
        Remains(
            "the disks themselves",
            "blocks of files deleted by Kafka (segments, on every replica) and by RocksDB: a "
            "deleted file is unlinked, not overwritten",
            "the filesystem reuses the blocks; encrypted volumes make them unreadable",
        ),
        Remains(
            "webhook subscribers",
            "milestones already delivered",
            "their own policy: tell them",
        ),
        Remains(
            "backups and exports",
            "copies of the SQL database, of the topics, of workers' data folders",
            "your backup policy",
        ),
    ]
    return tuple(found)


async def topic_configs(kafka: KafkaConnection, names: list[str]) -> dict[str, dict[str, str]]:
    """``RETENTION_CONFIGS`` of each topic, effective values; {} for what cannot be read."""
    admin = kafka.admin(client="forget", request_timeout_ms=15_000)
    found: dict[str, dict[str, str]] = {}
    try:
        await admin.start()
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    except (KafkaError, OSError):
        return found
    finally:
        await admin.close()
    for response in responses:
        for error, _message, _kind, name, entries in response.resources:
            if error == 0:
                found[name] = {
                    str(entry[0]): str(entry[1])
                    for entry in entries
                    if entry[0] in RETENTION_CONFIGS and entry[1] is not None
                }
    return found


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
    async with Cluster(settings.kafka) as cluster:
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
    kafka = settings.kafka
    await asyncio.to_thread(kafka.check_reachable)  # exit 3 before anything is produced
    await create_topics(kafka, topics)
    async with producer(kafka) as p:
        meta = await (await p.send(topics.events, erase_record(learner), key=learner.encode()))
    tp = TopicPartition(topics.events, meta.partition)
    applied, running = await _wait_applied(settings, tp, meta.offset, wait_s, on_wait)
    at = clock()
    async with producer(kafka) as p:
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
    group = profile_group(settings).group
    names = [*topics.all_names(), changelog_topic(group)]
    configs = await topic_configs(kafka, names)
    return ForgetReport(
        learner,
        meta.partition,
        meta.offset,
        applied,
        running,
        at,
        topics.erased,
        outcome,
        remains(topics, group, meta.partition, applied, configs),
    )
