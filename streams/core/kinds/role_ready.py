"""role_ready: readiness for the next role on a career ladder.

A role is reached when every requirement of it and of every role before it on the
ladder is met (the catalog's ladders): a learner never skips a rung, and roles
reached together fire in ladder order. Triggered when an assessment lifts a skill
across a level some role requires of it.
"""

from __future__ import annotations

from operator import is_
from typing import Any, Final

from schemas.catalog import Catalog, Ladder
from schemas.milestones import MilestoneEvent
from streams.core.milestones import (
    At,
    Late,
    RuleKind,
    Scope,
    cite_newest_of,
    fire,
    id_high,
    milestone_key,
)
from streams.core.rule_config import Name, rule_config

RoleReadyRule = rule_config(
    __name__,
    "RoleReadyRule",
    "role_ready",
    "Every requirement of the next role on a career ladder met (``ladders``: empty = all).",
    ladders=(tuple[Name, ...], ()),
)


_LADDER_LEVELS: Final[list[Any]] = [(), {}]
"""The ladders last seen (the objects themselves) and what they require."""


def ladder_levels(catalog: Catalog) -> dict[str, tuple[float, ...]]:
    """skill -> every level a role of any ladder of ``catalog`` requires of it.

    Kept while the catalog holds the very ladder objects it was worked out from: an
    identity check per ladder, where ``==`` would compare two equal catalogs' ladders
    field by field on every statement (a catalog loaded again is equal, not the same)."""
    ladders = tuple(catalog.ladders.values())
    seen: tuple[Ladder, ...] = _LADDER_LEVELS[0]
    if len(ladders) == len(seen) and all(map(is_, ladders, seen)):
        cached: dict[str, tuple[float, ...]] = _LADDER_LEVELS[1]
        return cached
    levels: dict[str, set[float]] = {}
    for ladder in ladders:
        for role in ladder.roles:
            for r in role.requires:
                levels.setdefault(r.skill, set()).add(r.level)
    compiled = {k: tuple(sorted(v)) for k, v in levels.items()}
    _LADDER_LEVELS[:] = [ladders, compiled]
    return compiled


class RoleReady(RuleKind):
    """Meets every skill level a role on a career ladder requires."""

    name = "role_ready"
    config = RoleReadyRule
    scope = Scope.PROFILE
    order = 0
    on_evidence = True

    def last(self, at: At, out: list[MilestoneEvent]) -> None:
        if self.crossed(at):
            self.evaluate(at, out)

    def crossed(self, at: At) -> bool:
        """Whether the statement lifted a skill across a level a role requires of it."""
        risen = at.risen()
        if not risen:
            return False
        steps = ladder_levels(at.catalog)
        if not steps:
            return False
        names = at.state.skills.names
        for i, before, after in risen:
            for mark in steps.get(names[i], ()):
                if before < mark <= after:
                    return True
        return False

    def late(self, late: Late) -> Any:
        return True if late.scored else None

    def follow(self, interest: Any) -> int:
        return -1

    def prefix(self, at: At, interest: Any, out: list[MilestoneEvent]) -> None:
        if (at.first and at.late is not None and at.late.folded) or self.crossed(at):
            self.evaluate(at, out)

    def evaluate(self, at: At, out: list[MilestoneEvent]) -> None:
        state = at.state
        index = state.index()
        fired = state.fired_set()
        for rule_id, config in self.rules:
            for ladder in at.catalog.ladders.values():
                if config.ladders and ladder.id not in config.ladders:
                    continue
                self._ladder(at, rule_id, ladder, index, fired, out)

    def _ladder(
        self,
        at: At,
        rule_id: str,
        ladder: Ladder,
        index: dict[str, int],
        fired: set[int],
        out: list[MilestoneEvent],
    ) -> None:
        state, q = at.state, at.q
        for role in ladder.roles:
            if not role.requires:
                continue
            figures: dict[str, float] = {}
            for r in role.requires:
                i = index.get(r.skill)
                figures[r.skill] = 0.0 if i is None else at.fig.level(i)
            if any(figures[r.skill] < r.level for r in role.requires):
                return
            qualified = f"{ladder.id}/{role.id}"
            if id_high(state, milestone_key(rule_id, qualified, role.id)) in fired:
                continue
            skills = tuple(sorted(figures))
            evidence = cite_newest_of(state, at.plan, q, skills, scored=True)
            summary: dict[str, float | int | str] = {
                "ladder": ladder.id,
                "role": role.id,
                "requirements": len(role.requires),
            }
            for r in role.requires:
                summary[f"proficiency.{r.skill}"] = figures[r.skill]
                summary[f"required.{r.skill}"] = r.level
            fire(
                state,
                out,
                q,
                by=self,
                rule_id=rule_id,
                skill=qualified,
                level=role.id,
                title=f"Ready for {role.name} ({ladder.name})",
                skills=skills,
                evidence=evidence,
                summary=summary,
            )

    @classmethod
    def explain(cls, config: Any, knobs: Any) -> tuple[str, tuple[str, ...]]:
        ladders = ", ".join(config.ladders) if config.ladders else "every ladder in the catalog"
        return (
            "Meets every skill level a role on a career ladder requires, and those of "
            "every role before it; the requirements are set per role in the skills catalog.",
            (f"one per role; ladders: {ladders}",),
        )


KIND = RoleReady
