"""The statements dead-letter topic: what is on it, and sending fixed records through again.

Every record of ``xapi.statements.dlq`` is a ``schemas.deadletter.DeadLetter``:
the original bytes (base64), every validation problem with its code and JSON
path, the xAPI version header the record came with, and where it came from.

A few dead letters come from the profile stage rather than from validation:
a ``learning.events`` record it could not read, or an event it failed on (a bug
of skillstream's); their source is the ``learning.events`` position. A letter
too large for its topic keeps only the first bytes of its original
(``original_truncated``, with the size and SHA-256), and cannot be reprocessed.

**Reprocessing** re-publishes the *original bytes* of selected dead letters
to ``xapi.statements`` (those from ``learning.events`` go back there, keyed by
learner as before), keyed as ``skillstream publish`` keys a statement
(the learner key of its actor; the record's original key when it has no
readable actor), with the ``X-Experience-API-Version`` header the dead letter
recorded (or the one ``--xapi-version`` gives), and with the original record
time, so a statement without ``timestamp``/``stored`` gets the same time as
the first time round. The worker validates them again: what the fix made
valid flows on; what is still invalid comes back to the dead-letter topic,
with its errors, as a new dead letter whose source is the re-published
record.

**The ledger.** What was reprocessed is remembered in the compacted topic
``<dlq topic>.reprocessed`` (one partition), one record per reprocessed dead
letter, keyed ``<partition>:<offset>`` of the dead letter, holding where its
bytes were re-published. It lives in Kafka beside the dead letters, so every
operator machine sees the same history, and it needs no database. A consumer
group committing a position on the dead-letter topic would not do: a
reprocess selects records (``--code``, one record), so what was reprocessed
is not a prefix of the topic. With the ledger:

* a dead letter already reprocessed is never published again;
* a dead letter that is the return of a reprocessed record (its source is a
  position the ledger re-published to) is skipped too, unless ``--retry``
  asks to send it again (after a further fix);
* each ledger record also holds the dead letter's own source position, so
  after the dead-letter topic is deleted and created again, old ledger keys
  do not match the new records.

The statements are published (``acks=all``) before their ledger records, in
windows of ``WINDOW`` records: a crash in between can publish a window twice,
never lose one; duplicates of a valid statement are dropped by the profile
stage (same statement id) and an invalid one is dead-lettered twice.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import Field, ValidationError

from schemas._base import Contract, UtcDatetime
from schemas.deadletter import DeadLetter, SourcePosition
from schemas.topology import Topics
from schemas.xapi.formats import version_major
from skillstream.errors import UsageError
from skillstream.kafka_io import producer, read_to_end
from skillstream.operations.cluster import Cluster
from skillstream.publishing import partition_key
from skillstream.settings import Settings
from skillstream.topics import COMPACTED, TopicPlan, create_topics

VERSION_HEADER: Final = "X-Experience-API-Version"
WINDOW: Final = 500
"""Statements published before their ledger records are written."""


def ledger_topic(topics: Topics) -> str:
    return f"{topics.statements_dlq}.reprocessed"


def ledger_plan(topics: Topics) -> TopicPlan:
    return TopicPlan(ledger_topic(topics), 1, dict(COMPACTED))


class Position(Contract):
    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


class Reprocessed(Contract):
    """One ledger record: a dead letter whose original bytes were published again."""

    version: Literal[1] = 1
    dead_letter: Position
    source: SourcePosition
    """The dead letter's own source, to recognise it (see the module docstring)."""
    origin: Position
    """Where the statement was first seen: the source of the first dead letter in its chain."""
    republished: Position
    attempt: int = Field(ge=1)
    xapi_version_header: str | None
    reprocessed_at: UtcDatetime

    @staticmethod
    def key(partition: int, offset: int) -> bytes:
        return f"{partition}:{offset}".encode()


@dataclass(frozen=True, slots=True)
class Entry:
    """A dead letter as read from the topic, with what the ledger knows about it."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    letter: DeadLetter
    reprocessed: Reprocessed | None = None
    returned_from: Reprocessed | None = None
    """Set when this dead letter is a reprocessed record that failed again."""

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.code for p in self.letter.errors))

    @property
    def first_path(self) -> str:
        return self.letter.errors[0].path

    @property
    def attempt(self) -> int:
        """1 for a statement's first dead letter, 2 after one reprocess came back, …"""
        return 1 if self.returned_from is None else self.returned_from.attempt + 1

    @property
    def origin(self) -> Position:
        if self.returned_from is not None:
            return self.returned_from.origin
        s = self.letter.source
        return Position(topic=s.topic, partition=s.partition, offset=s.offset)

    @property
    def status(self) -> Literal["reprocessed", "returned", "waiting"]:
        if self.reprocessed is not None:
            return "reprocessed"
        return "returned" if self.returned_from is not None else "waiting"

    def position(self, topic: str) -> Position:
        return Position(topic=topic, partition=self.partition, offset=self.offset)


@dataclass
class Contents:
    """Everything on the dead-letter topic, read to its end."""

    topic: str
    partitions: int
    entries: list[Entry]
    unreadable: list[tuple[int, int, str]] = field(default_factory=list)
    """(partition, offset, reason) of records that are not dead letters."""

    def codes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.entries:
            for code in entry.codes:
                counts[code] = counts.get(code, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


async def read_contents(
    settings: Settings, on_progress: Callable[[int, int], None] | None = None
) -> Contents:
    """Read the dead-letter topic and the ledger; ``on_progress(read, total)`` as it goes."""
    topics = settings.topics
    kafka = settings.kafka
    async with Cluster(kafka) as cluster:
        tps = await cluster.partitions_if_exists(topics.statements_dlq)
        if tps is None:
            return Contents(topics.statements_dlq, 0, [])
        begin = await cluster.beginning_offsets(tps)
        end = await cluster.end_offsets(tps)
        has_ledger = await cluster.partitions_if_exists(ledger_topic(topics)) is not None
    total = sum(end[tp] - begin[tp] for tp in tps)
    ledger: dict[bytes, Reprocessed] = {}
    if has_ledger:
        async for record in read_to_end(kafka, ledger_topic(topics)):
            if record.key is None:
                continue
            if record.value is None:
                ledger.pop(record.key, None)
                continue
            try:
                ledger[record.key] = Reprocessed.model_validate_json(record.value)
            except ValidationError:
                continue  # not ours; a ledger record is only ever written by reprocess
    by_target = {
        (r.republished.topic, r.republished.partition, r.republished.offset): r
        for r in ledger.values()
    }
    contents = Contents(topics.statements_dlq, len(tps), [])
    read = 0
    async for record in read_to_end(kafka, topics.statements_dlq):
        read += 1
        if on_progress is not None and (read % 500 == 0 or read == total):
            on_progress(read, total)
        try:
            letter = DeadLetter.model_validate_json(record.value or b"")
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"] if exc.errors() else str(exc)
            contents.unreadable.append((record.partition, record.offset, reason))
            continue
        done = ledger.get(Reprocessed.key(record.partition, record.offset))
        if done is not None and done.source != letter.source:
            done = None  # a ledger record of an earlier topic with the same name
        s = letter.source
        contents.entries.append(
            Entry(
                record.partition,
                record.offset,
                record.timestamp,
                record.key,
                letter,
                reprocessed=done,
                returned_from=by_target.get((s.topic, s.partition, s.offset)),
            )
        )
    if on_progress is not None:
        on_progress(total, total)
    return contents


# --- summary -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeCount:
    code: str
    records: int
    errors: int
    waiting: int


@dataclass(frozen=True, slots=True)
class Summary:
    topic: str
    total: int
    waiting: int
    reprocessed: int
    returned: int
    unreadable: int
    by_code: tuple[CodeCount, ...]
    by_path: tuple[tuple[str, int], ...]
    """(first error path, records), most frequent first."""


def summarize(contents: Contents) -> Summary:
    records: dict[str, int] = {}
    errors: dict[str, int] = {}
    waiting: dict[str, int] = {}
    paths: dict[str, int] = {}
    status = {"waiting": 0, "reprocessed": 0, "returned": 0}
    for entry in contents.entries:
        status[entry.status] += 1
        for problem in entry.letter.errors:
            errors[problem.code] = errors.get(problem.code, 0) + 1
        for code in entry.codes:
            records[code] = records.get(code, 0) + 1
            if entry.status == "waiting":
                waiting[code] = waiting.get(code, 0) + 1
        paths[entry.first_path] = paths.get(entry.first_path, 0) + 1
    by_code = tuple(
        CodeCount(code, n, errors[code], waiting.get(code, 0))
        for code, n in sorted(records.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    by_path = tuple(sorted(paths.items(), key=lambda kv: (-kv[1], kv[0])))
    return Summary(
        contents.topic,
        len(contents.entries),
        status["waiting"],
        status["reprocessed"],
        status["returned"],
        len(contents.unreadable),
        by_code,
        by_path,
    )


# --- selecting -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a command is about; an empty selection means none (``every`` = all)."""

    codes: tuple[str, ...] = ()
    partition: int | None = None
    offset: int | None = None
    every: bool = False

    @property
    def empty(self) -> bool:
        return not (
            self.codes or self.partition is not None or self.offset is not None or self.every
        )


def check_selection(contents: Contents, selection: Selection) -> Selection:
    """The selection with a lone ``--offset`` resolved; ``UsageError`` for what cannot match."""
    topic = contents.topic
    present = contents.codes()
    for code in selection.codes:
        if code not in present:
            if not present:
                raise UsageError(f"--code {code}: {topic} holds no dead letters")
            listed = ", ".join(f"{c} ({n})" for c, n in present.items())
            raise UsageError(
                f"--code {code}: no dead letter on {topic} has that code; codes present: {listed}"
            )
    partition = selection.partition
    if selection.offset is not None and partition is None:
        if contents.partitions != 1:
            raise UsageError(
                f"--offset {selection.offset} needs --partition: {topic} has "
                f"{contents.partitions} partitions (see `skillstream dlq show`)"
            )
        partition = 0
    if partition is not None and not 0 <= partition < max(contents.partitions, 1):
        raise UsageError(
            f"--partition {partition}: {topic} has partitions 0 to {contents.partitions - 1}"
        )
    if selection.offset is not None:
        offsets = [e.offset for e in contents.entries if e.partition == partition]
        if selection.offset not in offsets:
            span = f"offsets {min(offsets)} to {max(offsets)}" if offsets else "no dead letters"
            raise UsageError(
                f"no dead letter at {topic}[{partition}]@{selection.offset} "
                f"(partition {partition} holds {span})"
            )
    return Selection(selection.codes, partition, selection.offset, selection.every)


def select(contents: Contents, selection: Selection) -> list[Entry]:
    out = []
    for entry in contents.entries:
        if selection.codes and not set(selection.codes) & set(entry.codes):
            continue
        if selection.partition is not None and entry.partition != selection.partition:
            continue
        if selection.offset is not None and entry.offset != selection.offset:
            continue
        out.append(entry)
    return out


# --- showing -------------------------------------------------------------------------------


def original_text(raw: bytes) -> tuple[Literal["utf-8", "base64"], str]:
    """The original bytes for people: the text when it is UTF-8, else base64."""
    try:
        return "utf-8", raw.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", base64.b64encode(raw).decode("ascii")


def entry_json(entry: Entry, topic: str) -> dict[str, Any]:
    """One dead letter as a JSON object for ``dlq show --json``."""
    encoding, text = original_text(entry.letter.original())
    return {
        "dead_letter": entry.position(topic).model_dump(),
        "status": entry.status,
        "attempt": entry.attempt,
        "source": entry.letter.source.model_dump(),
        "origin": entry.origin.model_dump(),
        "dead_lettered_at": entry.letter.dead_lettered_at.isoformat(),
        "xapi_version_header": entry.letter.xapi_version_header,
        "errors": [p.model_dump() for p in entry.letter.errors],
        "original_encoding": encoding,
        "original": text,
        "reprocessed_to": (
            None if entry.reprocessed is None else str(entry.reprocessed.republished)
        ),
    }


# --- reprocessing --------------------------------------------------------------------------


@dataclass
class ReprocessReport:
    selected: int = 0
    published: int = 0
    already_reprocessed: int = 0
    returned_skipped: int = 0
    truncated_skipped: int = 0
    to_events: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    sent: list[tuple[Entry, Position]] = field(default_factory=list)
    dry_run: bool = False


def check_version(version: str | None) -> str | None:
    if version is None:
        return None
    value = version.strip()
    if version_major(value) is None:
        raise UsageError(
            f"--xapi-version {version!r}: give an xAPI version skillstream validates, "
            "1.0.x (xAPI 1.0.3) or 2.0.x (xAPI 2.0), e.g. 2.0.0"
        )
    return value


def plan_reprocess(entries: Sequence[Entry], *, retry: bool) -> tuple[list[Entry], ReprocessReport]:
    """Which of the selected dead letters will be published (see the ledger rules above)."""
    report = ReprocessReport(selected=len(entries))
    todo = []
    for entry in entries:
        if entry.reprocessed is not None:
            report.already_reprocessed += 1
        elif entry.letter.original_truncated:
            report.truncated_skipped += 1
        elif entry.returned_from is not None and not retry:
            report.returned_skipped += 1
        else:
            todo.append(entry)
            for code in entry.codes:
                report.by_code[code] = report.by_code.get(code, 0) + 1
    return todo, report


async def reprocess(
    settings: Settings,
    contents: Contents,
    entries: Sequence[Entry],
    *,
    version: str | None = None,
    retry: bool = False,
    dry_run: bool = False,
    on_sent: Callable[[int], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReprocessReport:
    """Publish the original bytes of ``entries`` again and write their ledger records."""
    version = check_version(version)
    todo, report = plan_reprocess(entries, retry=retry)
    report.dry_run = dry_run
    if dry_run or not todo:
        return report
    topics = settings.topics
    kafka = settings.kafka
    await create_topics(kafka, topics, (ledger_plan(topics),))
    secret = settings.learner_secret_bytes
    async with producer(kafka) as p:
        for start in range(0, len(todo), WINDOW):
            window = todo[start : start + WINDOW]
            futures = []
            headers_used: list[str | None] = []
            for entry in window:
                raw = entry.letter.original()
                if entry.letter.source.topic == topics.events:
                    # The profile stage failed on these events: they go back to it, as they were.
                    headers_used.append(None)
                    report.to_events += 1
                    futures.append(
                        await p.send(
                            topics.events,
                            raw,
                            key=entry.key,
                            timestamp_ms=entry.letter.source.timestamp_ms,
                        )
                    )
                    continue
                header = version or entry.letter.xapi_version_header
                headers_used.append(header)
                futures.append(
                    await p.send(
                        topics.statements,
                        raw,
                        key=partition_key(raw, secret) or entry.key,
                        headers=[(VERSION_HEADER, header.encode())] if header else None,
                        timestamp_ms=entry.letter.source.timestamp_ms,
                    )
                )
            metas = await asyncio.gather(*futures)
            at = now()
            ledger = []
            for entry, meta, header in zip(window, metas, headers_used, strict=True):
                target = Position(topic=meta.topic, partition=meta.partition, offset=meta.offset)
                record = Reprocessed(
                    dead_letter=entry.position(contents.topic),
                    source=entry.letter.source,
                    origin=entry.origin,
                    republished=target,
                    attempt=entry.attempt,
                    xapi_version_header=header,
                    reprocessed_at=at,
                )
                ledger.append(
                    await p.send(
                        ledger_topic(topics),
                        record.model_dump_json().encode(),
                        key=Reprocessed.key(entry.partition, entry.offset),
                    )
                )
                report.sent.append((entry, target))
            await asyncio.gather(*ledger)
            report.published += len(window)
            if on_sent is not None:
                on_sent(len(window))
    return report
