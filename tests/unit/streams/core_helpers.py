"""Builders shared by the profile-core tests: events, a small catalog, rule sets."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import yaml

from schemas.catalog import Catalog, EmergingPeriod, Ladder, Requirement, Role, Skill
from schemas.events import EventKind, LearningEvent
from schemas.milestones import MilestoneEvent
from streams.core import DEFAULT_RULES_PATH, ProfileState, Rules, apply

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
"""A Monday."""
LEARNER = "lk-test-learner"


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def event(
    sid: str,
    kind: EventKind | str = EventKind.SKILL_ASSESSED,
    days: float = 0.0,
    skills: Iterable[str] = ("python",),
    score: float | None = None,
    *,
    learner: str = LEARNER,
    voids: str | None = None,
    when: datetime | None = None,
) -> LearningEvent:
    return LearningEvent(
        statement_id=sid,
        learner=learner,
        kind=EventKind(kind),
        time=when if when is not None else at(days),
        verb="http://adlnet.gov/expapi/verbs/test",
        skills=tuple(skills),
        score=score,
        voided_statement_id=voids,
    )


def voiding(sid: str, target: str, days: float = 0.0) -> LearningEvent:
    return event(sid, EventKind.VOIDING, days, skills=(), voids=target)


def catalog() -> Catalog:
    skills = [
        Skill(id="python", name="Python", category="technical"),
        Skill(id="sql", name="SQL", category="technical"),
        Skill(
            id="rust",
            name="Rust",
            category="technical",
            emerging=EmergingPeriod(start=date(2025, 1, 1), end=date(2025, 6, 30)),
        ),
        Skill(id="communication", name="Communication", category="soft"),
        Skill(id="teamwork", name="Teamwork", category="soft"),
        Skill(id="empathy", name="Empathy", category="soft"),
        Skill(id="negotiation", name="Negotiation", category="soft"),
        Skill(id="meetups", name="Meetups", category="networking"),
        Skill(id="mentoring", name="Mentoring", category="leadership"),
        Skill(id="finance", name="Finance", category="domain"),
    ]
    ladder = Ladder(
        id="engineering",
        name="Engineering",
        roles=(
            Role(id="junior", name="Junior engineer"),
            Role(
                id="mid",
                name="Engineer",
                requires=(
                    Requirement(skill="python", level=0.4),
                    Requirement(skill="communication", level=0.3),
                ),
            ),
            Role(
                id="senior",
                name="Senior engineer",
                requires=(
                    Requirement(skill="python", level=0.45),
                    Requirement(skill="sql", level=0.4),
                ),
            ),
        ),
    )
    return Catalog([*skills, ladder])


def default_data() -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def only(rule_id: str, **changes: Any) -> Rules:
    """The default knobs with one default rule (its settings changed as given)."""
    data = default_data()
    rule = {**data["rules"][rule_id], **changes}
    data["rules"] = {rule_id: rule}
    return Rules.from_data(data)


def run(
    events: Iterable[LearningEvent],
    rules: Rules | None = None,
    cat: Catalog | None = None,
    state: ProfileState | None = None,
) -> tuple[ProfileState, list[MilestoneEvent]]:
    rules = rules if rules is not None else Rules()
    cat = cat if cat is not None else catalog()
    fired: list[MilestoneEvent] = []
    for e in events:
        state, out = apply(state, e, cat, rules)
        fired.extend(out)
    assert state is not None
    return state, fired


def watched(
    sid: str, video: str, days: float, skills: tuple[str, ...] = ("python",)
) -> LearningEvent:
    """A video completed: kind ``other`` on the video's activity, naming its skills."""
    return event(sid, EventKind.OTHER, days, skills=skills).model_copy(
        update={"activity_id": f"https://videos.example.com/{video}"}
    )


def long_history(n: int) -> list[LearningEvent]:
    kinds = [
        EventKind.SKILL_ASSESSED,
        EventKind.COURSE_COMPLETED,
        EventKind.EVENT_ATTENDED,
        EventKind.OTHER,
        EventKind.COLLABORATION,
    ]
    skills = ["python", "sql", "communication", "meetups"]
    return [
        event(
            f"s{i:05d}",
            kinds[i % 5],
            i * 0.37,
            (skills[i % 4],),
            score=round((i * 7919 % 1000) / 1000, 3) if i % 5 == 0 else None,
        )
        for i in range(n)
    ]
