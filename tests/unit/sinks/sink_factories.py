"""Milestones, snapshots and sink records for the sink tests (unit and integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.milestones import MilestoneData, MilestoneEvent, MilestoneKind
from schemas.profiles import ProfileSnapshot, SkillSnapshot
from sinks.base import ErasureRecord, MilestoneRecord, ProfileRecord, Source

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PUBLISHED_MS = int(datetime(2026, 3, 10, tzinfo=UTC).timestamp() * 1000)


def learner(n: int) -> str:
    return f"lrn_{n:026d}"


def milestone(
    who: str = "lrn_a",
    *,
    level: str = "expert",
    skill: str | None = "python",
    kind: MilestoneKind = MilestoneKind.SKILL_LEVEL_REACHED,
    at: datetime = T0,
    evidence: tuple[str, ...] = ("stmt-1", "stmt-2"),
) -> MilestoneEvent:
    return MilestoneEvent.of(
        MilestoneData(
            kind=kind,
            rule=f"{kind.value}-rule",
            learner=who,
            level=level,
            skill=skill,
            skills=(skill,) if skill else (),
            title=f"{who} reached {level}",
            evidence=evidence,
            achieved_at=at,
            summary={"proficiency": 0.91},
        )
    )


def stream(learners: int, per_learner: int) -> list[MilestoneEvent]:
    """Milestones interleaved across learners (learner 0's first, learner 1's first, …)."""
    return [
        milestone(learner(who), level=f"step-{step:03d}", at=T0 + timedelta(days=step))
        for step in range(per_learner)
        for who in range(learners)
    ]


def snapshot(who: str, as_of: datetime, statements: int = 3) -> ProfileSnapshot:
    return ProfileSnapshot(
        learner=who,
        as_of=as_of,
        first_activity=T0,
        statements=statements,
        courses_completed=1,
        events_attended=0,
        assessments=1,
        certifications=0,
        collaborations=0,
        weekly_streak=1,
        longest_streak=2,
        window_days=30,
        events_in_window=0,
        activity_in_window=statements,
        skills=(
            SkillSnapshot(
                skill="python",
                category="technical",
                proficiency=0.5,
                assessments=1,
                latest_score=0.5,
                best_score=0.5,
                courses_completed=1,
                events_attended=0,
                last_activity=as_of,
            ),
        ),
        milestones=(),
    )


def source(
    offset: int, *, topic: str = "t", partition: int = 0, published_ms: int = PUBLISHED_MS
) -> Source:
    return Source(topic, partition, offset, published_ms, None, None)


def m_record(
    event: MilestoneEvent, offset: int, published_ms: int = PUBLISHED_MS
) -> MilestoneRecord:
    return MilestoneRecord(
        event, source(offset, topic="career.milestones", published_ms=published_ms)
    )


def p_record(
    who: str, snap: ProfileSnapshot | None, offset: int, published_ms: int = PUBLISHED_MS
) -> ProfileRecord:
    return ProfileRecord(
        who, snap, source(offset, topic="learner.profiles", published_ms=published_ms)
    )


def e_record(who: str, offset: int, published_ms: int) -> ErasureRecord:
    return ErasureRecord(who, source(offset, topic="learner.erased", published_ms=published_ms))
