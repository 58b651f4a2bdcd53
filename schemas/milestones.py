"""Career milestones, published as CloudEvents 1.0 in structured JSON mode.

A milestone's id is a UUIDv5 of (learner, rule, skill, level): the same
achievement always gets the same id, in a live stream, an offline run or a
replay a year later. Downstream, one record per id is the whole contract; a
subscriber that sees an id twice has seen the same milestone twice.

On Kafka the event follows the CloudEvents Kafka protocol binding in
structured mode: the record value is the whole event as JSON and the record
carries the header ``content-type: application/cloudevents+json;
charset=UTF-8`` (``MILESTONE_KAFKA_HEADERS``), which is how CloudEvents SDKs
tell structured from binary mode. The record key is the learner key.

Schema evolution: ``dataschema`` is the ``$id`` of the exported JSON Schema of
``data`` (``skillstream schemas export``: ``milestone.v1.schema.json``) and names
its major version. Within a major version fields are only added, never renamed,
retyped or removed; anything else is a new major version and a new
``dataschema``. Readers accept what they do not know (``Published``).
"""

from __future__ import annotations

import hashlib
import uuid
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import BeforeValidator, Field

from schemas._base import Published, UtcDatetime

MILESTONE_DATA_VERSION: Final = 1
MILESTONE_SOURCE = "urn:skillstream:profiles"
MILESTONE_DATASCHEMA = "urn:skillstream:schema:milestone:v1"
MILESTONE_TYPE_PREFIX = "skillstream.milestone."
CLOUDEVENTS_CONTENT_TYPE: Final = "application/cloudevents+json; charset=UTF-8"
MILESTONE_KAFKA_HEADERS: Final[tuple[tuple[str, bytes], ...]] = (
    ("content-type", CLOUDEVENTS_CONTENT_TYPE.encode("ascii")),
)
"""The headers every ``career.milestones`` record carries (CloudEvents Kafka binding)."""

_ID_NAMESPACE = uuid.UUID("6b1c1f0e-3f1a-5d5e-9a57-2c6f1b0d9a11")


class MilestoneKind(StrEnum):
    SKILL_LEVEL_REACHED = "skill_level_reached"
    """Specialised expertise: a skill's proficiency reached a level."""
    CONTINUOUS_LEARNER = "continuous_learner"
    """Learning as a continuous journey: active N consecutive weeks."""
    NETWORKER = "networker"
    """Workshops and events attended within a rolling window."""
    SOFT_SKILLS = "soft_skills"
    """Breadth across soft skills."""
    TREND_ADOPTER = "trend_adopter"
    """An emerging industry skill reached a level while it is emerging."""
    PERFORMANCE_BOOST = "performance_boost"
    """Assessed score on a skill improved by a margin within a window."""
    VERSATILE = "versatile"
    """T-shaped: one deep skill plus breadth across categories."""
    ROLE_READY = "role_ready"
    """Every requirement of the next role on a career ladder met."""


def _known_kind(value: object) -> object:
    if isinstance(value, str) and not isinstance(value, MilestoneKind):
        try:
            return MilestoneKind(value)
        except ValueError:
            return value
    return value


Kind = Annotated[
    MilestoneKind | Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")],
    BeforeValidator(_known_kind),
]
"""A milestone's kind: one of ``MilestoneKind`` (the built-in rule kinds, read back as
its members) or the name of a kind a deployment added (``docs/rule-kinds.md``).
Readers should treat a kind they do not know like any other milestone."""


_ID_PREFIX: Final = _ID_NAMESPACE.bytes
_UUID_KEEP: Final = ((1 << 128) - 1) ^ ((0xF000 << 64) | (0xC000 << 48))
_UUID_V5: Final = (0x5000 << 64) | (0x8000 << 48)


def achievement_number(learner: str, rule: str, skill: str | None, level: str) -> int:
    """The id of one achievement (``milestone_id``) as a 128-bit number.

    A UUIDv5 (RFC 4122): the first 16 bytes of the SHA-1 of the namespace and the name,
    with the version (5) and the variant set; worked out here rather than through
    ``uuid.uuid5``, which costs three times as much, once per milestone fired."""
    return name_number(f"{learner}\x1f{rule}\x1f{skill or ''}\x1f{level}")


def name_number(name: str) -> int:
    """The UUIDv5 of ``name`` in the milestones' namespace, as a 128-bit number."""
    digest = hashlib.sha1(_ID_PREFIX + name.encode()).digest()  # noqa: S324 - UUIDv5 is SHA-1
    return (int.from_bytes(digest[:16], "big") & _UUID_KEEP) | _UUID_V5


def uuid_text(value: int) -> str:
    """A 128-bit number as a UUID's canonical text (``str(uuid.UUID(int=value))``)."""
    x = f"{value:032x}"
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def milestone_id(learner: str, rule: str, skill: str | None, level: str) -> str:
    """The deterministic id of one achievement."""
    return uuid_text(achievement_number(learner, rule, skill, level))


class MilestoneData(Published):
    """The milestone itself: what was achieved, by whom, on what evidence."""

    version: Literal[1] = MILESTONE_DATA_VERSION
    kind: Kind
    rule: str = Field(description="The rule id in the rules file that fired.")
    learner: str = Field(description="Pseudonymous learner key.")
    level: str = Field(description="Rule level reached, e.g. 'specialist' or '12-weeks'.")
    skill: str | None = Field(default=None, description="The skill (or role) concerned, if one.")
    skills: tuple[str, ...] = Field(default=(), description="All skills that counted.")
    title: str = Field(description="One line for people: what was achieved.")
    evidence: tuple[str, ...] = Field(description="Statement ids that support the milestone.")
    achieved_at: UtcDatetime = Field(description="Event time of the statement that crossed it.")
    summary: dict[str, float | int | str] = Field(
        default_factory=dict,
        description="The profile figures that crossed the threshold (e.g. proficiency).",
    )


class MilestoneEvent(Published):
    """A CloudEvents 1.0 structured-mode envelope around ``MilestoneData``."""

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str = MILESTONE_SOURCE
    type: str
    subject: str = Field(description="The learner key.")
    time: UtcDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str = MILESTONE_DATASCHEMA
    data: MilestoneData

    @classmethod
    def of(cls, data: MilestoneData) -> MilestoneEvent:
        return cls(
            id=milestone_id(data.learner, data.rule, data.skill, data.level),
            type=MILESTONE_TYPE_PREFIX + data.kind,
            subject=data.learner,
            time=data.achieved_at,
            data=data,
        )


class MilestoneDeliveryFailure(Published):
    """A record on ``career.milestones.dlq``: a sink gave up on one milestone."""

    version: Literal[1] = 1
    sink: str = Field(description="Which sink gave up, e.g. 'webhook:crm'.")
    error: str
    attempts: int = Field(ge=1)
    failed_at: UtcDatetime
    milestone: MilestoneEvent
