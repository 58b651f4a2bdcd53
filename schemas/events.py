"""The normalized learning event: what the profile stage reads.

One valid xAPI statement becomes zero or more ``LearningEvent`` records on
``learning.events`` (a Group actor credits each member, so one statement may
yield several), keyed by the pseudonymous learner key. The event keeps only
what the profile needs: no e-mail address or name ever reaches it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import Field

from schemas._base import Contract, UtcDatetime

LEARNING_EVENT_SCHEMA_VERSION: Final = 1


class EventKind(StrEnum):
    """What the learner did, as far as a career profile is concerned."""

    COURSE_COMPLETED = "course_completed"
    COURSE_PASSED = "course_passed"
    COURSE_FAILED = "course_failed"
    EVENT_ATTENDED = "event_attended"
    """A workshop, meetup, conference or other event attended."""
    SKILL_ASSESSED = "skill_assessed"
    CERTIFICATION_EARNED = "certification_earned"
    COLLABORATION = "collaboration"
    """Mentoring, being mentored, sharing or collaborating with peers."""
    OTHER = "other"
    """Counted as activity (streaks, continuous learning), nothing more."""
    VOIDING = "voiding"
    """The statement voids an earlier one: its evidence is withdrawn."""


Score = Annotated[float, Field(ge=-1.0, le=1.0)]


class LearningEvent(Contract):
    """One learner's credit from one statement."""

    schema_version: Literal[1] = LEARNING_EVENT_SCHEMA_VERSION
    statement_id: str = Field(description="The xAPI statement id (UUID), lower case.")
    learner: str = Field(description="Pseudonymous learner key derived from the actor's IFI.")
    kind: EventKind
    time: UtcDatetime = Field(description="Event time: the statement's timestamp, else stored.")
    verb: str = Field(description="The verb IRI as sent.")
    activity_id: str | None = None
    activity_type: str | None = None
    skills: tuple[str, ...] = Field(
        default=(), description="Skill ids touched, from the statement and the catalog."
    )
    score: Score | None = Field(default=None, description="Scaled score in [-1, 1].")
    success: bool | None = None
    completion: bool | None = None
    duration: str | None = Field(default=None, description="ISO 8601 duration, as sent.")
    duration_seconds: float | None = Field(default=None, ge=0)
    voided_statement_id: str | None = Field(
        default=None, description="For kind=voiding: the id of the statement withdrawn."
    )
