"""soft_skills: breadth across soft skills.

Counts the distinct skills of the soft categories the learner holds: a skill is held
when its proficiency reaches ``min_proficiency`` or, unless ``min_exposure`` is null,
when at least that many statements touched it (soft skills are often practised rather
than scored). Triggered when a statement makes one of its skills held.
"""

from __future__ import annotations

from typing import Annotated, Any

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
    cite_newest_of,
    fire,
    level_text,
    plural,
    points,
    reached,
)
from streams.core.rule_config import CountLevel, Name, rule_config
from streams.core.state import SKILL_SHIFT

SoftSkillsRule = rule_config(
    __name__,
    "SoftSkillsRule",
    "soft_skills",
    (
        "Breadth: how many distinct skills of the soft categories the learner holds.\n"
        "\n"
        "A skill is held when its proficiency reaches ``min_proficiency`` or, unless\n"
        "``min_exposure`` is null, when at least that many statements touched it\n"
        "(soft skills are often practised rather than scored)."
    ),
    categories=(Annotated[tuple[Name, ...], Field(min_length=1)], ("soft",)),
    min_proficiency=(Annotated[float, Field(gt=0.0, le=1.0)], 0.5),
    min_exposure=(Annotated[int | None, Field(ge=1)], 3),
    levels=(tuple[CountLevel, ...], Field(min_length=1)),
)


class _Held:
    """What makes a skill held under one rule, read once from its configuration: a
    configuration's fields go through pydantic's ``__getattr__`` hook on every read."""

    __slots__ = ("categories", "min_exposure", "min_proficiency")

    def __init__(self, config: Any) -> None:
        self.categories: frozenset[str] = frozenset(config.categories)
        self.min_proficiency: float = config.min_proficiency
        self.min_exposure: int | None = config.min_exposure


class SoftSkills(RuleKind):
    """Holds several different soft skills."""

    name = "soft_skills"
    config = SoftSkillsRule
    threshold = "count"
    scope = Scope.PROFILE
    order = 2
    on_evidence = True

    def __init__(self, rules: list[tuple[str, Any]], knobs: Any) -> None:
        super().__init__(rules, knobs)
        self.levels = [(LevelRule(rule_id, rule, "count"), _Held(rule)) for rule_id, rule in rules]
        self.categories = frozenset(c for _, rule in rules for c in rule.categories)
        self.touch_counts = frozenset(
            rule.min_exposure for _, rule in rules if rule.min_exposure is not None
        )

    def open(self, at: At | Late, n: int) -> bool:
        return self.rule_goal(at.state, n, self.levels[n][0]) < INF

    def triggered(self, at: At, config: _Held) -> bool:
        """Whether a skill of the statement became held by the rule with it."""
        names = at.state.skills.names
        categories = at.catalog.categories
        for i in at.skills:
            if categories.get(names[i]) not in config.categories:
                continue
            if config.min_exposure is not None and at.fig.touches(i) == config.min_exposure:
                return True
            if at.quant is not None:
                before, after = at.pair(i)
                if before < config.min_proficiency <= after:
                    return True
        return False

    def last(self, at: At, out: list[MilestoneEvent]) -> None:
        for n, (rule, config) in enumerate(self.levels):
            if self.open(at, n) and self.triggered(at, config):
                self.evaluate(at, rule, config, out)

    def late(self, late: Late) -> Any:
        categories = late.catalog.categories
        names = late.state.skills.names
        if not any(
            categories.get(names[i]) in self.categories for i in bits(late.c >> SKILL_SHIFT)
        ):
            return None
        if any(self.open(late, n) for n in range(len(self.levels))):
            return True
        return None

    def follow(self, interest: Any) -> int:
        return -1

    def prefix(self, at: At, interest: Any, out: list[MilestoneEvent]) -> None:
        force = at.first and at.late is not None and at.late.folded
        for n, (rule, config) in enumerate(self.levels):
            if self.open(at, n) and (force or self.triggered(at, config)):
                self.evaluate(at, rule, config, out)

    def evaluate(self, at: At, rule: LevelRule, config: _Held, out: list[MilestoneEvent]) -> None:
        state, fig = at.state, at.fig
        exposure = config.min_exposure
        held: list[str] = []
        categories = at.catalog.categories
        for i, k in enumerate(state.skills.names):
            touches = fig.touches(i)
            if touches <= 0 or categories.get(k) not in config.categories:
                continue
            if (exposure is not None and touches >= exposure) or at.level(
                i
            ) >= config.min_proficiency:
                held.append(k)
        hits = reached(state, rule, None, len(held))
        if not hits:
            return
        skills = tuple(sorted(held))
        evidence = cite_newest_of(state, at.plan, at.q, skills, scored=False)
        for level, threshold in hits:
            fire(
                state,
                out,
                at.q,
                by=self,
                rule_id=rule.rule_id,
                skill=None,
                level=level,
                title=f"Developed {len(held)} soft skills",
                skills=skills,
                evidence=evidence,
                summary={"soft_skills": len(held), "threshold": int(threshold)},
            )

    @classmethod
    def explain(cls, config: Any, knobs: Any) -> tuple[str, tuple[str, ...]]:
        categories = " or ".join(config.categories)
        held = f"once its proficiency reaches {points(config.min_proficiency)}"
        if config.min_exposure is not None:
            activities = plural(config.min_exposure, "learning activity", "learning activities")
            held += f" or once it has been practised in {activities}"
        return (
            f"Holds several different {categories} skills; a skill counts {held}.",
            tuple(level_text(lvl.name, plural(lvl.count, "skill")) for lvl in config.levels),
        )


KIND = SoftSkills
