"""continuous_learner: learning as a continuous journey, N consecutive active ISO weeks.

Triggered by the first statement of a week; the run is the active weeks ending with
that week (``Totals.runs`` of the state); evidence is the statement and one statement of each
earlier week of the run, newest first.
"""

from __future__ import annotations

from bisect import bisect_right
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
    cite_back,
    fire,
    iso_week,
    level_text,
    plural,
    reached,
)
from streams.core.rule_config import WeeksLevel, rule_config
from streams.core.state import ProfileState, week_of

ContinuousLearnerRule = rule_config(
    __name__,
    "ContinuousLearnerRule",
    "continuous_learner",
    "Active in N consecutive ISO weeks.",
    levels=(tuple[WeeksLevel, ...], Field(min_length=1)),
)


def run_start(state: ProfileState, week: int) -> int:
    """The first week of the run of active weeks holding ``week``."""
    runs = state.totals.runs
    i = bisect_right(runs, week)
    return runs[i - 1] if i % 2 else runs[i - 2]


class ContinuousLearner(RuleKind):
    """Learned something every calendar week (Monday to Sunday) for so many weeks in a row."""

    name = "continuous_learner"
    config = ContinuousLearnerRule
    threshold = "weeks"
    scope = Scope.LEARNER
    order = 0
    on_new_week = True

    def __init__(self, rules: list[tuple[str, Any]], knobs: Any) -> None:
        super().__init__(rules, knobs)
        self.levels = [LevelRule(rule_id, rule, "weeks") for rule_id, rule in rules]

    def goal(self, state: ProfileState) -> float:
        return self.open_goal(state, None, self.levels)

    def last(self, at: At, out: list[MilestoneEvent]) -> None:
        state = at.state
        if at.new_week and week_of(at.t) - state.totals.runs[-2] + 1 >= self.goal(state):
            self.evaluate(at, out)

    def late(self, late: Late) -> Any:
        if not late.new_week or self.goal(late.state) == INF:
            return None
        week = week_of(late.t)
        runs = late.state.totals.runs
        i = bisect_right(runs, week)
        return week, runs[i] if i % 2 else runs[i - 1]

    def prefix(self, at: At, interest: Any, out: list[MilestoneEvent]) -> None:
        week, run_end = interest
        state = at.state
        wq = week_of(at.t)
        if week <= wq <= run_end:
            q = at.q
            if q > 0:
                before = week_of(state.kept.rt[q - 1])
            else:
                horizon = state.folded.horizon
                before = -1 if horizon is None else week_of(horizon[0])
            if wq != before:
                self.evaluate(at, out)

    def evaluate(self, at: At, out: list[MilestoneEvent]) -> None:
        state, q = at.state, at.q
        week = week_of(state.kept.rt[q])
        first = run_start(state, week)
        run = week - first + 1
        evidence: list[str] | None = None
        for rule in self.levels:
            hits = reached(state, rule, None, run)
            if not hits:
                continue
            if evidence is None:
                evidence = _one_per_week(at, week, first)
            for level, threshold in hits:
                fire(
                    state,
                    out,
                    q,
                    by=self,
                    rule_id=rule.rule_id,
                    skill=None,
                    level=level,
                    title=f"Learned {run} weeks in a row",
                    skills=(),
                    evidence=evidence,
                    summary={
                        "weeks": run,
                        "threshold": int(threshold),
                        "first_week": iso_week(first),
                        "last_week": iso_week(week),
                    },
                )

    @classmethod
    def explain(cls, config: Any, knobs: Any) -> tuple[str, tuple[str, ...]]:
        return (
            "Learned something every calendar week (Monday to Sunday) for so many weeks in a row.",
            tuple(level_text(lvl.name, plural(lvl.weeks, "week")) for lvl in config.levels),
        )


def _one_per_week(at: At, week: int, first: int) -> list[str]:
    rt = at.state.kept.rt
    taken = [week]

    def wanted(k: int) -> bool | None:
        w = week_of(rt[k])
        if w < first:
            return None
        if w < taken[0]:
            taken[0] = w
            return True
        return False

    return cite_back(at.state, at.plan, at.q, wanted)


KIND = ContinuousLearner
