"""versatile: T-shaped, one skill at ``deep_proficiency`` plus breadth across categories.

Breadth counts the catalog categories holding a skill at ``breadth_proficiency`` or
more (the deep skill's category included). Triggered when an assessment lifts a skill
across either mark.
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
    cite_newest_of,
    fire,
    level_text,
    open_threshold,
    plural,
    points,
    reached,
    skill_name,
)
from streams.core.rule_config import CategoriesLevel, not_below, rule_config

VersatileRule = rule_config(
    __name__,
    "VersatileRule",
    "versatile",
    (
        "T-shaped: one skill at ``deep_proficiency`` plus breadth across categories.\n"
        "\n"
        "Breadth counts the catalog categories holding a skill at\n"
        "``breadth_proficiency`` or more (the deep skill's category included).\n"
    ),
    deep_proficiency=(Annotated[float, Field(gt=0.0, le=1.0)], 0.7),
    breadth_proficiency=(Annotated[float, Field(gt=0.0, le=1.0)], 0.5),
    levels=(tuple[CategoriesLevel, ...], Field(min_length=1)),
    checks={"_deep_not_below_breadth": not_below("deep_proficiency", "breadth_proficiency")},
)


class Versatile(RuleKind):
    """One deep skill plus skills across several catalog categories."""

    name = "versatile"
    config = VersatileRule
    threshold = "categories"
    scope = Scope.PROFILE
    order = 1
    on_evidence = True

    def __init__(self, rules: list[tuple[str, Any]], knobs: Any) -> None:
        super().__init__(rules, knobs)
        self.levels = [(LevelRule(rule_id, rule, "categories"), rule) for rule_id, rule in rules]
        self.marks: list[tuple[float, float]] = [
            (float(rule.breadth_proficiency), float(rule.deep_proficiency)) for _, rule in rules
        ]
        """Each rule's two proficiencies, read once: a configuration's fields go through
        pydantic's ``__getattr__`` hook on every read."""

    def open(self, at: At | Late, n: int) -> bool:
        return self.rule_goal(at.state, n, self.levels[n][0]) < INF

    def last(self, at: At, out: list[MilestoneEvent]) -> None:
        if at.quant is None:
            return
        for n, (rule, config) in enumerate(self.levels):
            if self.open(at, n) and at.crossed(self.marks[n]):
                self.evaluate(at, rule, config, out)

    def late(self, late: Late) -> Any:
        if late.scored and any(self.open(late, n) for n in range(len(self.levels))):
            return True
        return None

    def follow(self, interest: Any) -> int:
        return -1

    def prefix(self, at: At, interest: Any, out: list[MilestoneEvent]) -> None:
        force = at.first and at.late is not None and at.late.folded
        for n, (rule, config) in enumerate(self.levels):
            if self.open(at, n) and (force or at.crossed(self.marks[n])):
                self.evaluate(at, rule, config, out)

    def evaluate(self, at: At, rule: LevelRule, config: Any, out: list[MilestoneEvent]) -> None:
        state, catalog = at.state, at.catalog
        categories = catalog.categories
        breadth: float = config.breadth_proficiency
        deep_proficiency: float = config.deep_proficiency
        if not self.may_reach(at, rule, breadth, deep_proficiency):
            return
        names = state.skills.names
        deep: tuple[float, str] | None = None
        by_category: dict[str, tuple[float, str]] = {}
        for i in sorted(range(len(names)), key=names.__getitem__):
            p = at.level(i)
            if p < breadth:
                continue
            k = names[i]
            category = categories.get(k)
            if category is None:
                continue
            if p >= deep_proficiency and (deep is None or p > deep[0]):
                deep = (p, k)
            held = by_category.get(category)
            if held is None or p > held[0]:
                by_category[category] = (p, k)
        if deep is None:
            return
        hits = reached(state, rule, None, len(by_category))
        if not hits:
            return
        others = sorted({k for _, k in by_category.values()} - {deep[1]})
        skills = (deep[1], *others)
        evidence = cite_newest_of(state, at.plan, at.q, skills, scored=True)
        for level, threshold in hits:
            fire(
                state,
                out,
                at.q,
                by=self,
                rule_id=rule.rule_id,
                skill=None,
                level=level,
                title=(
                    f"Versatile: deep in {skill_name(catalog, deep[1])}, skilled across "
                    f"{len(by_category)} categories"
                ),
                skills=skills,
                evidence=evidence,
                summary={
                    "deep_skill": deep[1],
                    "deep_proficiency": deep[0],
                    "categories": len(by_category),
                    "threshold": int(threshold),
                },
            )

    def may_reach(self, at: At, rule: LevelRule, breadth: float, deep_proficiency: float) -> bool:
        """Whether the profile holds a deep skill and skills in as many categories as the
        rule's lowest open level asks: what ``evaluate`` then works out in the skills' name
        order (to name them), which neither the count nor the deep skill depend on."""
        categories = at.catalog.categories
        names = at.state.skills.names
        deep = False
        held: set[str] = set()
        for i in range(len(names)):
            p = at.level(i)
            if p < breadth:
                continue
            category = categories.get(names[i])
            if category is None:
                continue
            if p >= deep_proficiency:
                deep = True
            held.add(category)
        return deep and len(held) >= open_threshold(at.state, rule, "")

    @classmethod
    def explain(cls, config: Any, knobs: Any) -> tuple[str, tuple[str, ...]]:
        return (
            f"T-shaped: one skill at {points(config.deep_proficiency)} or more, and skills at "
            f"{points(config.breadth_proficiency)} or more in so many different skill "
            "categories (the deep skill's included).",
            tuple(
                level_text(lvl.name, plural(lvl.categories, "category", "categories"))
                for lvl in config.levels
            ),
        )


KIND = Versatile
