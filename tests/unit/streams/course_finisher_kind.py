"""A rule kind written the way docs/rule-kinds.md says: courses finished, all time.

Not shipped: the tests load it through a rules file's ``kind_modules``, which is how a
deployment adds its own kind without touching skillstream.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from schemas.milestones import MilestoneEvent
from streams.core.milestones import (
    INF,
    At,
    Late,
    LevelRule,
    RuleKind,
    Scope,
    cite_back,
    fire,
    reached,
)
from streams.core.rule_config import CountLevel, RuleConfig
from streams.core.state import COMPLETED, KIND_BITS, N_COURSES, PASSED, ProfileState

COURSES = frozenset({COMPLETED, PASSED})


class CourseFinisherRule(RuleConfig):
    """Finished N courses (completed or passed), all time."""

    kind: Literal["course_finisher"]
    levels: tuple[CountLevel, ...] = Field(min_length=1)


class CourseFinisher(RuleKind):
    """Finished so many courses (completed or passed)."""

    name = "course_finisher"
    config = CourseFinisherRule
    threshold = "count"
    scope = Scope.LEARNER
    on_kinds = COURSES

    def __init__(self, rules: list[tuple[str, Any]], knobs: Any) -> None:
        super().__init__(rules, knobs)
        self.levels = [LevelRule(rule_id, rule, "count") for rule_id, rule in rules]

    def goal(self, state: ProfileState) -> float:
        return self.open_goal(state, None, self.levels)

    def courses(self, at: At) -> int:
        """Courses finished up to the prefix: all of them less the kept ones after it."""
        state = at.state
        later = sum(1 for c in state.kept.rc[at.q + 1 :] if c & KIND_BITS in COURSES)
        return state.totals.counts[N_COURSES] - later

    def last(self, at: At, out: list[MilestoneEvent]) -> None:
        if at.state.totals.counts[N_COURSES] >= self.goal(at.state):
            self.evaluate(at, out)

    def late(self, late: Late) -> Any:
        if late.c & KIND_BITS in COURSES and self.goal(late.state) < INF:
            return True
        return None

    def prefix(self, at: At, interest: Any, out: list[MilestoneEvent]) -> None:
        folded_first = at.first and at.late is not None and at.late.folded
        if at.c & KIND_BITS in COURSES or folded_first:
            self.evaluate(at, out)

    def evaluate(self, at: At, out: list[MilestoneEvent]) -> None:
        state, q = at.state, at.q
        count = self.courses(at)
        rc = state.kept.rc
        for rule in self.levels:
            hits = reached(state, rule, None, count)
            if not hits:
                continue
            evidence = cite_back(state, at.plan, q, lambda k: rc[k] & KIND_BITS in COURSES)
            for level, threshold in hits:
                fire(
                    state,
                    out,
                    q,
                    by=self,
                    rule_id=rule.rule_id,
                    skill=None,
                    level=level,
                    title=f"Finished {count} courses",
                    skills=(),
                    evidence=evidence,
                    summary={"courses": count, "threshold": int(threshold)},
                )


KIND = CourseFinisher
