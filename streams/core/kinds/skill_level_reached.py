"""skill_level_reached: specialised expertise, a skill's proficiency reached a level.

Triggered by evidence for the skill; one milestone per skill and level; evidence is
the statement and the newest assessments of the skill before it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from schemas.milestones import MilestoneEvent
from streams.core.milestones import (
    INF,
    At,
    Late,
    LevelRule,
    RuleKind,
    Scope,
    bits,
    cite_skill,
    fire,
    level_text,
    points,
    reached,
    skill_name,
)
from streams.core.rule_config import ProficiencyLevel, rule_config
from streams.core.state import ProfileState

SkillLevelRule = rule_config(
    __name__,
    "SkillLevelRule",
    "skill_level_reached",
    "A skill's proficiency reached a level (practitioner, specialist, expert ...).",
    levels=(tuple[ProficiencyLevel, ...], Field(min_length=1)),
)


class SkillLevel(RuleKind):
    """A skill's proficiency reached a level (one milestone per skill and level)."""

    name = "skill_level_reached"
    config = SkillLevelRule
    threshold = "proficiency"
    scope = Scope.SKILL
    order = 0
    on_evidence = True

    def __init__(self, rules: list[tuple[str, Any]], knobs: Any) -> None:
        super().__init__(rules, knobs)
        self.levels = [LevelRule(rule_id, rule, "proficiency") for rule_id, rule in rules]

    def goal(self, state: ProfileState, i: int) -> float:
        """The lowest level of any rule not reached for skill ``i``."""
        return self.open_goal(state, i, self.levels, state.skills.names[i])

    def forget(self, state: ProfileState, goals: dict[Any, float], skill: str | None) -> None:
        if skill is not None:
            goals.pop(state.index().get(skill), None)

    def applies(self, at: At | Late, i: int) -> bool:
        """Whether skill ``i`` can reach a level of this kind at all (catalog permitting)."""
        return True

    def last_skill(self, at: At, i: int, out: list[MilestoneEvent]) -> None:
        goal = self.goal(at.state, i)
        if goal < INF:
            p = at.level(i)
            if p >= goal and self.applies(at, i):
                self.evaluate(at, i, p, out)

    def late(self, late: Late) -> Any:
        state = late.state
        mask = 0
        for i in bits(late.scored):
            if self.goal(state, i) < INF and self.applies(late, i):
                mask |= 1 << i
        return mask or None

    def follow(self, interest: Any) -> int:
        mask: int = interest
        return mask

    def prefix_skill(self, at: At, interest: Any, i: int, out: list[MilestoneEvent]) -> None:
        if interest >> i & 1:
            p = at.level(i)
            if p >= self.goal(at.state, i):
                self.evaluate(at, i, p, out)

    def title(self, at: At, skill: str, level: str) -> str:
        return f"Reached {level} level in {skill_name(at.catalog, skill)}"

    def summary(self, at: At, i: int, p: float, threshold: float) -> dict[str, Any]:
        return {"proficiency": p, "threshold": threshold, "assessments": at.fig.assessed(i)}

    def evaluate(self, at: At, i: int, p: float, out: list[MilestoneEvent]) -> None:
        state, q = at.state, at.q
        skill = state.skills.names[i]
        evidence: list[str] | None = None
        for rule in self.levels:
            hits = reached(state, rule, skill, p)
            if not hits:
                continue
            if evidence is None:
                evidence = cite_skill(state, at.plan, q, i)
            for level, threshold in hits:
                fire(
                    state,
                    out,
                    q,
                    by=self,
                    rule_id=rule.rule_id,
                    skill=skill,
                    level=level,
                    title=self.title(at, skill, level),
                    skills=(skill,),
                    evidence=evidence,
                    summary=self.summary(at, i, p, threshold),
                )

    @classmethod
    def explain(cls, config: Any, knobs: Any) -> tuple[str, tuple[str, ...]]:
        return (
            "A skill's proficiency reached a level (one milestone per skill and level).",
            tuple(level_text(lvl.name, points(lvl.proficiency)) for lvl in config.levels),
        )


KIND = SkillLevel
