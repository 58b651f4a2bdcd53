"""Where skillstream's records live: topic names, consumer groups and changelog topics.

One module names them all, so that the worker, the sinks, the operator commands and the
tests agree by construction. Topic names and partition counts are settings
(``SKILLSTREAM_TOPICS__*``); group names derive from ``SKILLSTREAM_GROUP_ID``:

======================================  ============================================
``<group_id>-ingest``                   ingest, on ``xapi.statements``
``<group_id>``                          the profile stage, on ``learning.events``
``<group_id>-profiles-changelog``       the profile stage's compacted changelog topic
``<group_id>-sink-<sink>``              each sink (``sql``, ``webhook``)
``<group_id>-worker``                   the faust app's id (it joins no group)
======================================  ============================================
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_TOPIC = r"^[A-Za-z0-9._-]{1,249}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topics(_Section):
    """Topic names and partition counts. Change names per environment, never per run."""

    statements: str = Field(default="xapi.statements", pattern=_TOPIC)
    statements_dlq: str = Field(default="xapi.statements.dlq", pattern=_TOPIC)
    events: str = Field(default="learning.events", pattern=_TOPIC)
    catalog: str = Field(default="skills.catalog", pattern=_TOPIC)
    milestones: str = Field(default="career.milestones", pattern=_TOPIC)
    profiles: str = Field(default="learner.profiles", pattern=_TOPIC)
    milestones_dlq: str = Field(default="career.milestones.dlq", pattern=_TOPIC)
    erased: str = Field(default="learner.erased", pattern=_TOPIC)
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1)

    def all_names(self) -> tuple[str, ...]:
        return (
            self.statements,
            self.statements_dlq,
            self.events,
            self.catalog,
            self.milestones,
            self.profiles,
            self.milestones_dlq,
            self.erased,
        )

    def compacted(self) -> frozenset[str]:
        return frozenset({self.catalog, self.profiles})

    def prefixed(self, prefix: str) -> Topics:
        """The same layout under a prefix: how tests keep runs apart."""
        names = {
            name: f"{prefix}{getattr(self, name)}"
            for name in (
                "statements",
                "statements_dlq",
                "events",
                "catalog",
                "milestones",
                "profiles",
                "milestones_dlq",
                "erased",
            )
        }
        return self.model_copy(update=names)


def ingest_group(group_id: str) -> str:
    return f"{group_id}-ingest"


def profile_group(group_id: str) -> str:
    return group_id


def changelog_topic(group_id: str) -> str:
    return f"{group_id}-profiles-changelog"


def sink_group(group_id: str, sink: str) -> str:
    return f"{group_id}-sink-{sink}"


def worker_name(group_id: str) -> str:
    return f"{group_id}-worker"


def pipeline_groups(group_id: str, topics: Topics) -> list[tuple[str, str]]:
    """(consumer group, topic) of each stage, in pipeline order: for lag and replay."""
    return [(ingest_group(group_id), topics.statements), (profile_group(group_id), topics.events)]
