"""Replaying input: rewinding the ingest stage, rebuilding profile state, following the result.

Two kinds of replay, both refused while any worker group has a member
(``groups.ensure_workers_stopped``):

**From a time** (``replay --from``). Only the ingest group
(``<group_id>-ingest``) moves: on every partition of ``xapi.statements`` its
committed offset becomes the first offset whose record time is at or after
the time (``earliest``: the beginning). When workers start, ingest reads
those statements again and produces their events again; the profile stage
recognises statement ids it has already applied and skips them, so nothing
already applied changes and no milestone is emitted twice. What was never
applied — lost in an outage, dead-lettered by a bug since fixed, skipped by
an old ingest — is applied now. The profile stage remembers each learner's
newest statements plus a bounded number of further ids
(``evidence_cap`` + ``dedupe_memory`` in the rules file); a learner with more
statements than that in the replayed span would have the oldest applied
twice, so a replay of a long span is a ``--rebuild``.

**Rebuild** (``replay --rebuild``). Profile state is recomputed from the
input: the profile changelog ``<group_id>-profiles-changelog`` is deleted
and created again empty (compacted, as many partitions as
``learning.events``), the profile group moves to the end of
``learning.events`` (everything ingest produced so far is produced again)
and the ingest group to the beginning of ``xapi.statements``. Each worker's
local RocksDB state belongs to the old changelog: on start the worker sees
the new changelog's epoch, wipes it and starts empty (or ``--local-state``
deletes it now). With changed rules, every milestone is evaluated again:
milestones with ids already published are published again with the same
ids (sinks keep one record per id), new ones appear.

The order of a rebuild's steps is chosen so that an interrupted rebuild is
harmless and can simply be run again: offsets first (a worker started after
that alone replays, deduplicating), the changelog after.

``follow`` reports the progress of a replay per partition until both stages
have caught up with what was there when it started.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aiokafka import TopicPartition

from schemas.topology import changelog_topic
from skillstream.errors import SkillstreamError, UsageError
from skillstream.operations.cluster import Cluster
from skillstream.operations.groups import (
    ensure_workers_stopped,
    ingest_group,
    profile_group,
    worker_groups,
)
from skillstream.operations.local_state import (
    delete_profiles,
    pool_process_folders,
    profiles_folder,
)
from skillstream.operations.when import Start
from skillstream.settings import Settings
from skillstream.topics import TopicPlan, changelog_plan


@dataclass(frozen=True, slots=True)
class OffsetMove:
    """One partition of one group: where it is committed now and where the replay puts it."""

    role: str
    group: str
    topic: str
    partition: int
    current: int | None
    target: int
    end: int

    @property
    def to_read(self) -> int:
        """Records the group will read from the new position up to today's end."""
        return max(self.end - self.target, 0)


@dataclass(frozen=True, slots=True)
class LocalState:
    given: Path
    profiles: Path | None
    """The ``profiles`` folder that will be deleted; None when there is nothing to delete."""


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    mode: Literal["from", "rebuild"]
    start: Start
    moves: tuple[OffsetMove, ...]
    changelog: TopicPlan | None = None
    changelog_partitions_now: int | None = None
    local_state: tuple[LocalState, ...] = ()
    erasures: int = 0
    """Records on ``learner.erased``: learners whose statements a replay reads again."""

    def targets(self, role: str) -> dict[TopicPartition, int]:
        return {
            TopicPartition(m.topic, m.partition): m.target for m in self.moves if m.role == role
        }


async def _moves(
    cluster: Cluster,
    role: str,
    group: str,
    topic: str,
    targets: Callable[[list[TopicPartition]], Awaitable[dict[TopicPartition, int]]],
) -> list[OffsetMove]:
    tps = await cluster.partitions(topic)
    wanted = await targets(tps)
    current = await cluster.committed(group, tps)
    end = await cluster.end_offsets(tps)
    return [
        OffsetMove(role, group, topic, tp.partition, current[tp], int(wanted[tp]), end[tp])
        for tp in tps
    ]


async def _erasures(cluster: Cluster, settings: Settings) -> int:
    tps = await cluster.partitions_if_exists(settings.topics.erased)
    if not tps:
        return 0
    begin = await cluster.beginning_offsets(tps)
    end = await cluster.end_offsets(tps)
    return sum(end[tp] - begin[tp] for tp in tps)


async def plan_from(settings: Settings, start: Start) -> ReplayPlan:
    """The moves of a replay from ``start``; refuses while workers run."""
    ingest = ingest_group(settings)
    async with Cluster(settings.kafka) as cluster:
        await ensure_workers_stopped(cluster, settings)

        async def targets(tps: list[TopicPartition]) -> dict[TopicPartition, int]:
            if start.earliest:
                return await cluster.beginning_offsets(tps)
            return await cluster.offsets_at(tps, start.timestamp_ms)

        moves = await _moves(cluster, ingest.role, ingest.group, ingest.topics[0], targets)
        erasures = await _erasures(cluster, settings)
    return ReplayPlan("from", start, tuple(moves), erasures=erasures)


def resolve_local_state(paths: Sequence[Path]) -> tuple[LocalState, ...]:
    """Check each ``--local-state`` folder now, before anything is changed.

    A worker's data folder also holds the state of its pool's other processes
    (``process-<i>``, see ``skillstream.worker_pool``): each is checked and
    deleted the same way.
    """
    out = []
    for given in paths:
        for path in (given, *pool_process_folders(given)):
            try:
                out.append(LocalState(path, profiles_folder(path)))
            except ValueError as exc:
                raise UsageError(str(exc)) from None
    return tuple(out)


async def plan_rebuild(settings: Settings, local_state: Sequence[Path] = ()) -> ReplayPlan:
    """The steps of a rebuild; refuses while workers run."""
    states = resolve_local_state(local_state)
    ingest, profiles = ingest_group(settings), profile_group(settings)
    async with Cluster(settings.kafka) as cluster:
        await ensure_workers_stopped(cluster, settings)
        profile_moves = await _moves(
            cluster, profiles.role, profiles.group, profiles.topics[0], cluster.end_offsets
        )
        ingest_moves = await _moves(
            cluster, ingest.role, ingest.group, ingest.topics[0], cluster.beginning_offsets
        )
        name = changelog_topic(settings.group_id)
        existing = await cluster.partitions_if_exists(name)
        erasures = await _erasures(cluster, settings)
    plan = dataclasses.replace(changelog_plan(name, settings.topics), partitions=len(profile_moves))
    return ReplayPlan(
        "rebuild",
        Start(None),
        (*ingest_moves, *profile_moves),
        changelog=plan,
        changelog_partitions_now=None if existing is None else len(existing),
        local_state=states,
        erasures=erasures,
    )


async def execute(
    settings: Settings, plan: ReplayPlan, on_step: Callable[[str], None] | None = None
) -> None:
    """Carry out a plan (see the module docstring for the order of a rebuild's steps)."""

    def step(text: str) -> None:
        if on_step is not None:
            on_step(text)

    async with Cluster(settings.kafka) as cluster:
        await ensure_workers_stopped(cluster, settings)
        if plan.mode == "rebuild":
            profiles = profile_group(settings)
            step(f"moving group {profiles.group} to the end of {profiles.topics[0]}")
            await cluster.commit_stopped_group(profiles.group, plan.targets(profiles.role))
        ingest = ingest_group(settings)
        step(f"moving group {ingest.group} on {ingest.topics[0]} to {plan.start.describe()}")
        await cluster.commit_stopped_group(ingest.group, plan.targets(ingest.role))
        if plan.changelog is not None:
            await ensure_workers_stopped(cluster, settings)
            step(f"deleting the profile changelog {plan.changelog.name}")
            await cluster.delete_topic(plan.changelog.name)
            step(
                f"creating {plan.changelog.name} again: {plan.changelog.partitions} "
                "partitions, compacted"
            )
            await cluster.create_topic(plan.changelog, settings.topics.replication_factor)
    for state in plan.local_state:
        if state.profiles is not None:
            step(f"deleting local profile state {state.profiles}")
            delete_profiles(state.given)


# --- following a replay --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartitionProgress:
    role: str
    group: str
    topic: str
    partition: int
    start: int
    """The committed offset when following began."""
    position: int
    """The committed offset now."""
    goal: int
    """Where this partition is done: the end offset the replay has to reach."""

    @property
    def remaining(self) -> int:
        return max(self.goal - self.position, 0)


@dataclass(frozen=True, slots=True)
class FollowUpdate:
    partitions: tuple[PartitionProgress, ...]
    members: dict[str, int]
    """Members per worker group: 0 everywhere means no worker is running."""
    elapsed_s: float
    caught_up: bool

    @property
    def workers_running(self) -> bool:
        return any(self.members.values())

    def remaining(self, role: str | None = None) -> int:
        return sum(p.remaining for p in self.partitions if role is None or p.role == role)


class NotCaughtUpError(SkillstreamError):
    """``--timeout`` passed before the replay caught up (exit 1)."""


@dataclass
class _Follow:
    ingest_goal: dict[TopicPartition, int]
    profile_goal: dict[TopicPartition, int] | None = None
    starts: dict[TopicPartition, int] = field(default_factory=dict)


async def follow(
    settings: Settings,
    *,
    ingest_goal: dict[TopicPartition, int] | None = None,
    on_update: Callable[[FollowUpdate], None] | None = None,
    poll_s: float = 1.0,
    timeout_s: float | None = None,
) -> FollowUpdate:
    """Report progress until ingest reached ``ingest_goal`` and profiles what ingest produced.

    ``ingest_goal`` defaults to the end offsets of ``xapi.statements`` now.
    The profile stage's goal is fixed at the moment ingest reaches its goal
    (the end of ``learning.events`` then: ingest commits only after its
    events are acknowledged), so live traffic arriving meanwhile does not
    keep the replay from finishing.
    """
    ingest, profiles = ingest_group(settings), profile_group(settings)
    started = time.monotonic()
    async with Cluster(settings.kafka) as cluster:
        statements = await cluster.partitions(ingest.topics[0])
        events = await cluster.partitions(profiles.topics[0])
        state = _Follow(ingest_goal or await cluster.end_offsets(statements))
        while True:
            described = await cluster.describe_groups(worker_groups(settings))
            members = {name: len(info.members) for name, info in described.items()}
            ingest_at = await cluster.committed(ingest.group, statements)
            events_end = await cluster.end_offsets(events)
            profile_at = await cluster.committed(profiles.group, events)
            ingest_done = all((ingest_at[tp] or 0) >= state.ingest_goal[tp] for tp in statements)
            if ingest_done and state.profile_goal is None:
                state.profile_goal = events_end
            rows = []
            for role, group, tps, at, goal in (
                (ingest.role, ingest.group, statements, ingest_at, state.ingest_goal),
                (
                    profiles.role,
                    profiles.group,
                    events,
                    profile_at,
                    state.profile_goal or events_end,
                ),
            ):
                for tp in tps:
                    position = at[tp] or 0
                    begin = state.starts.setdefault(tp, position)
                    rows.append(
                        PartitionProgress(
                            role, group, tp.topic, tp.partition, begin, position, goal[tp]
                        )
                    )
            caught_up = ingest_done and all(
                (profile_at[tp] or 0) >= (state.profile_goal or events_end)[tp] for tp in events
            )
            update = FollowUpdate(tuple(rows), members, time.monotonic() - started, caught_up)
            if on_update is not None:
                on_update(update)
            if caught_up:
                return update
            if timeout_s is not None and update.elapsed_s >= timeout_s:
                waiting = "" if update.workers_running else " (no worker is running)"
                raise NotCaughtUpError(
                    f"the replay had not caught up after {timeout_s:.0f}s{waiting}: "
                    f"{update.remaining(ingest.role):,} statements left for ingest, "
                    f"{update.remaining(profiles.role):,} events left for the profile stage. "
                    "It goes on in the workers; `skillstream replay --wait` follows it again."
                )
            await asyncio.sleep(poll_s)
