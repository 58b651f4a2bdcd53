"""Where every stage stands: committed offset, end offset, lag and rates per group and partition.

The groups are the worker's ingest group (``<group_id>-ingest`` on
``xapi.statements``) and profile group (``<group_id>`` on
``learning.events``), always shown, and the sinks' groups
(``<group_id>-sink-sql``, ``<group_id>-sink-webhook``) when they exist.

**Rates.** Kafka keeps no history of positions, so each call remembers its
reading in a small JSON file (``<SKILLSTREAM_DATA_DIR>/status.json`` unless
told otherwise) and the next call divides the difference by the time between
them: ``done/s`` is how fast a group commits (records handled), ``in/s`` how
fast its topic grows. The first call, a reading of another cluster or group
id, and a position that moved backwards (a replay, a reset) give ``None``
("n/a"); a group that had not committed yet counts as having been at 0.
A reading that cannot be written is not an error: the rates of the next call
are then "n/a".
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from skillstream.operations.cluster import Cluster
from skillstream.operations.groups import GroupRole, ingest_group, profile_group, sink_groups
from skillstream.settings import Settings

STATE_VERSION: Final = 1


def default_state_file(settings: Settings) -> Path:
    return settings.data_dir / "status.json"


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    topic: str
    partition: int
    committed: int | None
    end: int
    done_rate: float | None = None
    in_rate: float | None = None

    @property
    def lag(self) -> int:
        return max(self.end - (self.committed or 0), 0)

    @property
    def key(self) -> str:
        return f"{self.topic}[{self.partition}]"


@dataclass(frozen=True, slots=True)
class GroupStatus:
    role: str
    group: str
    state: str
    members: int
    partitions: tuple[PartitionStatus, ...]

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def done_rate(self) -> float | None:
        return _sum(p.done_rate for p in self.partitions)

    @property
    def in_rate(self) -> float | None:
        return _sum(p.in_rate for p in self.partitions)


def _sum(values: Any) -> float | None:
    known = list(values)
    if not known or any(v is None for v in known):
        return None
    return float(sum(known))


@dataclass(frozen=True, slots=True)
class Reading:
    taken_at: float
    """Seconds since the epoch."""
    bootstrap: str
    group_id: str
    groups: tuple[GroupStatus, ...]
    previous_at: float | None = None
    """When the reading the rates compare with was taken (None: rates are n/a)."""

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "version": STATE_VERSION,
                "taken_at": self.taken_at,
                "bootstrap": self.bootstrap,
                "group_id": self.group_id,
                "offsets": {
                    g.group: {p.key: [p.committed, p.end] for p in g.partitions}
                    for g in self.groups
                },
            }
        )

    def report(self) -> dict[str, Any]:
        """The reading as JSON-ready data (``status --json``)."""
        return {
            "taken_at": self.taken_at,
            "previous_at": self.previous_at,
            "groups": [
                {
                    "role": g.role,
                    "group": g.group,
                    "state": g.state,
                    "members": g.members,
                    "lag": g.lag,
                    "done_per_s": g.done_rate,
                    "in_per_s": g.in_rate,
                    "partitions": [
                        {
                            "topic": p.topic,
                            "partition": p.partition,
                            "committed": p.committed,
                            "end": p.end,
                            "lag": p.lag,
                            "done_per_s": p.done_rate,
                            "in_per_s": p.in_rate,
                        }
                        for p in g.partitions
                    ],
                }
                for g in self.groups
            ],
        }


async def _group(cluster: Cluster, role: GroupRole, state: str, members: int) -> GroupStatus:
    partitions: list[PartitionStatus] = []
    for topic in role.topics:
        tps = await cluster.partitions_if_exists(topic)
        if not tps:
            continue
        committed = await cluster.committed(role.group, tps)
        end = await cluster.end_offsets(tps)
        partitions.extend(
            PartitionStatus(tp.topic, tp.partition, committed[tp], end[tp]) for tp in tps
        )
    return GroupStatus(role.role, role.group, state, members, tuple(partitions))


async def read_positions(settings: Settings, clock: Any = time.time) -> Reading:
    """A reading of every group now (rates not filled in)."""
    roles = [ingest_group(settings), profile_group(settings)]
    sinks = sink_groups(settings)
    async with Cluster(settings.kafka) as cluster:
        described = await cluster.describe_groups([r.group for r in roles + sinks])
        roles += [r for r in sinks if described[r.group].exists]
        groups = []
        for role in roles:
            info = described[role.group]
            groups.append(await _group(cluster, role, info.state, len(info.members)))
    return Reading(
        float(clock()), settings.kafka.bootstrap_servers, settings.group_id, tuple(groups)
    )


def load_previous(path: Path) -> dict[str, Any] | None:
    """The reading saved by the last call, or None if there is none that can be read."""
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
        return None
    return doc


def with_rates(reading: Reading, previous: dict[str, Any] | None) -> Reading:
    """``reading`` with rates against ``previous`` (see the module docstring for n/a)."""
    if (
        previous is None
        or previous.get("bootstrap") != reading.bootstrap
        or previous.get("group_id") != reading.group_id
        or not isinstance(previous.get("taken_at"), int | float)
    ):
        return reading
    span = reading.taken_at - float(previous["taken_at"])
    if span <= 0:
        return reading
    offsets = previous.get("offsets") or {}
    groups = []
    for group in reading.groups:
        before = offsets.get(group.group) or {}
        parts = []
        for p in group.partitions:
            done = into = None
            pair = before.get(p.key)
            if isinstance(pair, list) and len(pair) == 2:
                old_committed, old_end = pair
                if old_committed is None:
                    old_committed = 0  # never committed: the group starts at the beginning
                if (
                    isinstance(old_committed, int)
                    and p.committed is not None
                    and p.committed >= old_committed
                ):
                    done = (p.committed - old_committed) / span
                if isinstance(old_end, int) and p.end >= old_end:
                    into = (p.end - old_end) / span
            parts.append(PartitionStatus(p.topic, p.partition, p.committed, p.end, done, into))
        groups.append(
            GroupStatus(group.role, group.group, group.state, group.members, tuple(parts))
        )
    return Reading(
        reading.taken_at,
        reading.bootstrap,
        reading.group_id,
        tuple(groups),
        previous_at=float(previous["taken_at"]),
    )


def save(path: Path, reading: Reading) -> bool:
    """Keep ``reading`` for the next call (atomically); False if it could not be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(reading.to_json())
        temporary.replace(path)
    except OSError:
        return False
    return True


async def status(settings: Settings, state_file: Path | None = None) -> tuple[Reading, bool]:
    """Read every group, compute rates against the last call, keep this reading.

    Returns the reading and whether it could be kept for the next call.
    """
    path = state_file or default_state_file(settings)
    reading = with_rates(await read_positions(settings), load_previous(path))
    return reading, save(path, reading)
