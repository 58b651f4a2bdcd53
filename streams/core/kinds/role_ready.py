"""role_ready: readiness for the next role on a career ladder.

A role is reached when every requirement of it and of every role before it on the
ladder is met (the catalog's ladders): a learner never skips a rung, and roles
reached together fire in ladder order. Triggered when an assessment lifts a skill
across a level some role requires of it.
"""

from __future__ import annotations

from typing import Any, Final

from schemas.catalog import Catalog, Ladder, Role
from schemas.milestones import MilestoneEvent
from streams.core.milestones import (
    At,
    Late,
    RuleKind,
    Scope,
    achieved,
    cite_newest_of,
    fire,
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


class _Role:
    """A role as ``_ladder`` reads it: plain attributes, where a contract's go through
    pydantic's ``__getattr__`` hook on every read."""

    __slots__ = ("id", "name", "requires")

    def __init__(self, role: Role) -> None:
        self.id: str = role.id
        self.name: str = role.name
        self.requires: tuple[tuple[str, float], ...] = tuple(
            (r.skill, r.level) for r in role.requires
        )


class _Ladder:
    __slots__ = ("id", "name", "roles")

    def __init__(self, ladder: Ladder) -> None:
        self.id: str = ladder.id
        self.name: str = ladder.name
        self.roles: tuple[_Role, ...] = tuple(_Role(role) for role in ladder.roles)


_LADDERS: Final[list[Any]] = [None, -1, {}, ()]
"""The catalog last seen and its ``ladder_revision``, what its ladders require, and the
same ladders as ``_Ladder``."""


def _seen(catalog: Catalog) -> list[Any]:
    """``_LADDERS``, worked out again when the catalog is another object or its ladders
    changed since (a catalog loaded again is equal, not the same: worked out once more).
    Holds the last catalog seen; a catalog changes only through ``put`` and ``remove``."""
    revision = catalog.ladder_revision  # read first: a change after it is seen next time
    if _LADDERS[0] is catalog and _LADDERS[1] == revision:
        return _LADDERS
    ladders = tuple(catalog.ladders.values())
    levels: dict[str, set[float]] = {}
    for ladder in ladders:
        for role in ladder.roles:
            for r in role.requires:
                levels.setdefault(r.skill, set()).add(r.level)
    compiled = {k: tuple(sorted(v)) for k, v in levels.items()}
    flat = tuple(_Ladder(ladder) for ladder in ladders)
    _LADDERS[:] = [catalog, revision, compiled, flat]
    return _LADDERS


def ladder_levels(catalog: Catalog) -> dict[str, tuple[float, ...]]:
    """skill -> every level a role of any ladder of ``catalog`` requires of it."""
    levels: dict[str, tuple[float, ...]] = _seen(catalog)[2]
    return levels


def ladders_of(catalog: Catalog) -> tuple[_Ladder, ...]:
    """The catalog's ladders, in its order, as ``_Ladder``."""
    flat: tuple[_Ladder, ...] = _seen(catalog)[3]
    return flat


class RoleReady(RuleKind):
    """Meets every skill level a role on a career ladder requires."""

    name = "role_ready"
    config = RoleReadyRule
    scope = Scope.PROFILE
    order = 0
    on_evidence = True

    def __init__(self, rules: list[tuple[str, Any]], knobs: Any) -> None:
        super().__init__(rules, knobs)
        self.only: list[tuple[str, frozenset[str]]] = [
            (rule_id, frozenset(config.ladders)) for rule_id, config in rules
        ]
        """Each rule's ladders (empty: every ladder), read once: a configuration's fields
        go through pydantic's ``__getattr__`` hook on every read."""

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
        ladders = ladders_of(at.catalog)
        for rule_id, only in self.only:
            for ladder in ladders:
                if only and ladder.id not in only:
                    continue
                self._ladder(at, rule_id, ladder, index, fired, out)

    def _ladder(
        self,
        at: At,
        rule_id: str,
        ladder: _Ladder,
        index: dict[str, int],
        fired: set[int],
        out: list[MilestoneEvent],
    ) -> None:
        state, q = at.state, at.q
        for role in ladder.roles:
            requires = role.requires
            if not requires:
                continue
            for skill, level in requires:
                i = index.get(skill)
                if (0.0 if i is None else at.level(i)) < level:
                    return
            qualified = f"{ladder.id}/{role.id}"
            if achieved(state, milestone_key(rule_id, qualified, role.id), fired):
                continue
            figures: dict[str, float] = {}
            for skill, _ in requires:
                i = index.get(skill)
                figures[skill] = 0.0 if i is None else at.level(i)
            skills = tuple(sorted(figures))
            evidence = cite_newest_of(state, at.plan, q, skills, scored=True)
            summary: dict[str, float | int | str] = {
                "ladder": ladder.id,
                "role": role.id,
                "requirements": len(requires),
            }
            for skill, level in requires:
                summary[f"proficiency.{skill}"] = figures[skill]
                summary[f"required.{skill}"] = level
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
