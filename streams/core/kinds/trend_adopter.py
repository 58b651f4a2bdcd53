"""trend_adopter: keeping up with emerging industry trends.

A skill the catalog flags as emerging reached a level while the event time is in
its emerging period; otherwise like ``skill_level_reached``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from streams.core.kinds.skill_level_reached import SkillLevel
from streams.core.milestones import At, Late, level_text, points
from streams.core.rule_config import ProficiencyLevel, rule_config
from streams.core.state import from_micros

TrendAdopterRule = rule_config(
    __name__,
    "TrendAdopterRule",
    "trend_adopter",
    "A catalog skill flagged emerging reached a level while the event time is in its period.",
    levels=(tuple[ProficiencyLevel, ...], Field(min_length=1)),
)


class TrendAdopter(SkillLevel):
    """An emerging skill reached a level while it is emerging."""

    name = "trend_adopter"
    config = TrendAdopterRule
    order = 1

    def applies(self, at: At | Late, i: int) -> bool:
        known = at.catalog.skills.get(at.state.skills.names[i])
        return known is not None and known.emerging is not None

    def evaluate(self, at: At, i: int, p: float, out: list[Any]) -> None:
        known = at.catalog.skills.get(at.state.skills.names[i])
        if known is None or known.emerging is None:
            return
        if not known.emerging.covers(from_micros(at.t).date()):
            return
        super().evaluate(at, i, p, out)

    def title(self, at: At, skill: str, level: str) -> str:
        known = at.catalog.skills[skill]
        return f"Early adopter of {known.name}: reached {level} level while it is emerging"

    def summary(self, at: At, i: int, p: float, threshold: float) -> dict[str, Any]:
        known = at.catalog.skills[at.state.skills.names[i]]
        assert known.emerging is not None
        return {
            **super().summary(at, i, p, threshold),
            "emerging_since": str(known.emerging.start),
        }

    @classmethod
    def explain(cls, config: Any, knobs: Any) -> tuple[str, tuple[str, ...]]:
        return (
            "Reached a proficiency level in a skill the catalog marks as emerging, "
            "while it is emerging.",
            tuple(level_text(lvl.name, points(lvl.proficiency)) for lvl in config.levels),
        )


KIND = TrendAdopter
