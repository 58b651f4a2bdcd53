"""networker: workshops, conferences and other events attended within a rolling window.

Triggered by an attendance; the count is the attendances on the ``window_days`` UTC
days ending on the trigger's day (``ProfileState.attended_since``); evidence is the
attendances of the window, newest first.
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
    cite_back,
    fire,
    level_text,
    plural,
    reached,
)
from streams.core.rule_config import CountLevel, rule_config
from streams.core.state import ATTENDED, DAY_US, KIND_BITS

NetworkerRule = rule_config(
    __name__,
    "NetworkerRule",
    "networker",
    "Events attended within the rolling window (``window_days``, default the global one).",
    window_days=(Annotated[int | None, Field(ge=1, le=3_660)], None),
    levels=(tuple[CountLevel, ...], Field(min_length=1)),
)


class Networker(RuleKind):
    """Attended workshops, conferences and other events: so many within a window."""

    name = "networker"
    config = NetworkerRule
    threshold = "count"
    scope = Scope.LEARNER
    order = 1
    on_kinds = frozenset({ATTENDED})

    def __init__(self, rules: list[tuple[str, Any]], knobs: Any) -> None:
        super().__init__(rules, knobs)
        self.levels = [
            (LevelRule(rule_id, rule, "count"), rule.window_days or knobs.window_days)
            for rule_id, rule in rules
        ]
        self.windows = tuple(window for _, window in self.levels)

    def goal(self, at: At | Late, n: int) -> float:
        return self.rule_goal(at.state, n, self.levels[n][0])

    def last(self, at: At, out: list[MilestoneEvent]) -> None:
        if at.c & KIND_BITS != ATTENDED:
            return
        day = at.t // DAY_US
        for n, (_, window) in enumerate(self.levels):
            goal = self.goal(at, n)
            if goal < INF and at.state.attended_since(day - window + 1) >= goal:
                self.evaluate(at, n, out)

    def late(self, late: Late) -> Any:
        if late.c & KIND_BITS != ATTENDED:
            return None
        if all(self.goal(late, n) == INF for n in range(len(self.levels))):
            return None
        return late.day

    def prefix(self, at: At, interest: Any, out: list[MilestoneEvent]) -> None:
        if at.c & KIND_BITS != ATTENDED:
            return
        day = interest
        dq = at.t // DAY_US
        for n, (_, window) in enumerate(self.levels):
            if (at.own or dq - window + 1 <= day) and self.goal(at, n) < INF:
                self.evaluate(at, n, out)

    def evaluate(self, at: At, n: int, out: list[MilestoneEvent]) -> None:
        """Rule ``n`` at the prefix (an attendance)."""
        state, q = at.state, at.q
        rule, window = self.levels[n]
        cut = state.kept.rt[q] // DAY_US - window + 1
        count = at.fig.attended(cut)
        hits = reached(state, rule, None, count)
        if not hits:
            return
        rt, rc = state.kept.rt, state.kept.rc
        start = cut * DAY_US

        def wanted(k: int) -> bool | None:
            if rt[k] < start:
                return None
            return rc[k] & KIND_BITS == ATTENDED

        evidence = cite_back(state, at.plan, q, wanted)
        for level, threshold in hits:
            fire(
                state,
                out,
                q,
                by=self,
                rule_id=rule.rule_id,
                skill=None,
                level=level,
                title=f"Attended {count} events in {window} days",
                skills=(),
                evidence=evidence,
                summary={
                    "events_in_window": count,
                    "threshold": int(threshold),
                    "window_days": window,
                },
            )

    @classmethod
    def explain(cls, config: Any, knobs: Any) -> tuple[str, tuple[str, ...]]:
        window = config.window_days or knobs.window_days
        return (
            "Attended workshops, conferences and other events: "
            f"so many within {plural(window, 'day')}.",
            tuple(level_text(lvl.name, plural(lvl.count, "event")) for lvl in config.levels),
        )


KIND = Networker
