"""Which consumer groups skillstream's processes use, and refusing to act while workers run.

A worker (``skillstream worker``) is in two groups: ``<group_id>-ingest``
on ``xapi.statements`` and ``<group_id>`` on ``learning.events`` (the profile
stage); the faust app that hosts both joins none (``skillstream.worker.WorkerApp``).
The sinks each have ``<group_id>-sink-<name>``. Moving a group's offsets or
deleting the profile changelog under a running worker would corrupt its
state, so ``replay`` first checks that none of the worker groups has a
member.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sinks.base import Feed
from sinks.runner import sink_group
from skillstream.errors import UsageError
from skillstream.operations.cluster import Cluster, GroupInfo
from skillstream.settings import Settings
from skillstream.worker import pipeline_groups

SINK_FEEDS: dict[str, tuple[Feed, ...]] = {
    "sql": (Feed.MILESTONES, Feed.PROFILES, Feed.ERASURES),
    "webhook": (Feed.MILESTONES,),
}
"""What each sink consumes (as ``sinks.sql.SqlSink.feeds`` / ``sinks.webhook.WebhookSink.feeds``)."""


@dataclass(frozen=True, slots=True)
class GroupRole:
    """One consumer group and the topics it commits on, with a name for people."""

    role: str
    group: str
    topics: tuple[str, ...]


def ingest_group(settings: Settings) -> GroupRole:
    group, topic = pipeline_groups(settings)[0]
    return GroupRole("ingest", group, (topic,))


def profile_group(settings: Settings) -> GroupRole:
    group, topic = pipeline_groups(settings)[1]
    return GroupRole("profiles", group, (topic,))


def worker_groups(settings: Settings) -> list[str]:
    return [ingest_group(settings).group, profile_group(settings).group]


def sink_groups(settings: Settings) -> list[GroupRole]:
    return [
        GroupRole(
            f"sink {name}",
            sink_group(settings, name),
            tuple(feed.topic(settings.topics) for feed in feeds),
        )
        for name, feeds in SINK_FEEDS.items()
    ]


class WorkersRunningError(UsageError):
    """Refused: members of the worker groups are active (exit 2)."""


def refusal(active: Iterable[GroupInfo], settings: Settings) -> WorkersRunningError:
    lines = []
    for info in active:
        who = ", ".join(sorted({f"{m.client_id}@{m.host.lstrip('/')}" for m in info.members}))
        members = f"{len(info.members)} member(s): {who}" if info.members else "no member yet"
        lines.append(f"  group {info.name}: state {info.state}, {members}")
    return WorkersRunningError(
        "workers are running; refusing to move offsets under them.\n"
        + "\n".join(lines)
        + "\n  what to do: stop every `skillstream worker` started with "
        f"SKILLSTREAM_GROUP_ID={settings.group_id} (Ctrl-C or SIGTERM; or stop the service / "
        "scale it to zero), then run this again. A worker that was killed stays a member "
        "until its session times out (6 s); `skillstream status` shows the groups."
    )


async def ensure_workers_stopped(cluster: Cluster, settings: Settings) -> None:
    """Raise ``WorkersRunningError`` naming each worker group that has members."""
    described = await cluster.describe_groups(worker_groups(settings))
    active = [info for info in described.values() if info.active]
    if active:
        raise refusal(active, settings)
