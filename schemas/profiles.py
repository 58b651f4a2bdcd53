"""Profile snapshots: the published view of one learner's rolling skill profile.

The profile stage writes a snapshot to the compacted ``learner.profiles`` topic
(keyed by learner) whenever a learner's profile changes; the SQL sink keeps
the newest per learner (by ``as_of``, the newest event time folded in). The
snapshot is derived from the profile state by the pure core and holds no
e-mail address or name. An erased learner's key gets a tombstone (null value).
Figures are rounded (proficiency to 4 places) so the same evidence gives the
same snapshot whatever order it arrived in.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from schemas._base import Published, UtcDatetime

PROFILE_SNAPSHOT_VERSION: Final = 1


class SkillSnapshot(Published):
    skill: str
    category: str | None = Field(description="From the catalog; None if the skill is unknown.")
    proficiency: float = Field(ge=0.0, le=1.0, description="Decayed assessment evidence.")
    assessments: int = Field(ge=0)
    latest_score: float | None = None
    best_score: float | None = None
    courses_completed: int = Field(ge=0)
    events_attended: int = Field(ge=0)
    last_activity: UtcDatetime


class ProfileSnapshot(Published):
    version: Literal[1] = PROFILE_SNAPSHOT_VERSION
    learner: str
    as_of: UtcDatetime = Field(description="The newest event time folded into the profile.")
    first_activity: UtcDatetime
    statements: int = Field(ge=0, description="Statements applied and not voided.")
    courses_completed: int = Field(ge=0)
    events_attended: int = Field(ge=0)
    assessments: int = Field(ge=0)
    certifications: int = Field(ge=0)
    collaborations: int = Field(ge=0)
    weekly_streak: int = Field(ge=0, description="Consecutive ISO weeks active, up to as_of.")
    longest_streak: int = Field(ge=0)
    window_days: int = Field(ge=1, description="Length of the rolling window below.")
    events_in_window: int = Field(ge=0, description="Workshops/events attended in the window.")
    activity_in_window: int = Field(ge=0, description="Statements applied in the window.")
    skills: tuple[SkillSnapshot, ...] = Field(description="Sorted by skill id.")
    milestones: tuple[str, ...] = Field(description="Ids of milestones achieved, sorted.")
