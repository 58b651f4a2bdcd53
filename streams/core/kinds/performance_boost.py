"""performance_boost: better assessed performance, a score rose by a margin.

Triggered by an assessment of a skill: its score against the lowest of the skill's
last ``score_history - 1`` scores before it within the rule's window (the
``window_days`` UTC days ending on the trigger's day), kept or folded (the folded
ones live on in ``Skills.tails`` of the state). Evidence: the trigger and the baseline.
In order, a skill's recent scores are cached between statements (``state._hist``).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

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
    fire,
    history,
    level_text,
    plural,
    points,
    reached,
    round4,
    skill_name,
    window_start,
)
from streams.core.rule_config import MarginLevel, rule_config
from streams.core.state import DAY_US, ProfileState

_HALF_UNIT: Final = 0.00005
"""Half the last published place: a difference this far below a margin rounds up to it."""


PerformanceBoostRule = rule_config(
    __name__,
    "PerformanceBoostRule",
    "performance_boost",
    "An assessed score on a skill rose by ``margin`` over the lowest recent one in the window.",
    window_days=(Annotated[int | None, Field(ge=1, le=3_660)], None),
    levels=(tuple[MarginLevel, ...], Field(min_length=1)),
)


class PerformanceBoost(RuleKind):
    """An assessment score beat the lowest of the skill's recent scores by a margin."""

    name = "performance_boost"
    config = PerformanceBoostRule
    threshold = "margin"
    scope = Scope.SKILL
    order = 2
    on_evidence = True

    def __init__(self, rules: list[tuple[str, Any]], knobs: Any) -> None:
        super().__init__(rules, knobs)
        self.levels = [
            (LevelRule(rule_id, rule, "margin"), rule.window_days or knobs.window_days)
            for rule_id, rule in rules
        ]
        self.level_rules = [rule for rule, _ in self.levels]

    def goal(self, state: ProfileState, i: int) -> float:
        return self.open_goal(state, i, self.level_rules, state.skills.names[i])

    def forget(self, state: ProfileState, goals: dict[Any, float], skill: str | None) -> None:
        if skill is not None:
            goals.pop(state.index().get(skill), None)

    def last_skill(self, at: At, i: int, out: list[MilestoneEvent]) -> None:
        """At the newest statement, from the cached score history."""
        state, q = at.state, at.q
        plan = at.plan
        goal = self.goal(state, i)
        held = state._hist
        if held is None or held[0] is not self:
            held = state._hist = (self, {})
        cache: dict[int, list[tuple[int, float, int]]] = held[1]
        if goal == INF:  # every level fired: nothing to keep for this skill
            cache.pop(i, None)
            return
        ev = state.kept.rv[q]
        base = state._folds
        entries = cache.get(i)
        if entries is None:
            entries = [(day, score, k + base) for day, score, k in history(state, plan, i, q)]
        else:
            while entries and entries[0][2] < base:  # folded since
                del entries[0]
        if ev + _HALF_UNIT >= goal:
            low = INF  # loops, not min(): a call with a list or starred arguments costs more
            for entry in entries:
                if entry[1] < low:  # noqa: PLR1730 - a branch is cheaper than min() here
                    low = entry[1]
            tail = state.skills.tails[i]
            if len(entries) < plan.history - 1 and len(tail) > 1:
                for k in range(3, len(tail), 3):
                    if tail[k] < low:  # noqa: PLR1730 - a branch is cheaper than min() here
                        low = tail[k]
            if ev - low + _HALF_UNIT >= goal:
                self.evaluate(at, i, entries, out, base)
        depth = plan.history - 1
        if depth > 0:
            entries.append((state.kept.rt[q] // DAY_US, ev, q + base))
            if len(entries) > depth:
                del entries[0]
        cache[i] = entries

    def late(self, late: Late) -> Any:
        state = late.state
        mask = 0
        for i in bits(late.scored):
            if self.goal(state, i) < INF:
                mask |= 1 << i
        return (mask, {}) if mask else None

    def prefix_skill(self, at: At, interest: Any, i: int, out: list[MilestoneEvent]) -> None:
        mask, since = interest
        if not mask >> i & 1:
            return
        seen = since.get(i, 0)
        if at.own or at.late.folded or seen < at.plan.history - 1:  # type: ignore[union-attr]
            self.evaluate(at, i, history(at.state, at.plan, i, at.q), out)
        if not at.own:
            since[i] = seen + 1

    def evaluate(
        self,
        at: At,
        i: int,
        entries: list[tuple[int, float, int]],
        out: list[MilestoneEvent],
        base: int = 0,
    ) -> None:
        """The trigger's score against the lowest recent score of the skill within each
        rule's window. ``entries``: the assessments before it (``history``), their
        positions counted from ``base``."""
        state, q, plan = at.state, at.q, at.plan
        score = state.kept.rv[q]
        day = state.kept.rt[q] // DAY_US
        skill = state.skills.names[i]
        for rule, window in self.levels:
            found = _baseline(state, plan.history - 1, i, entries, day - window + 1, base)
            if found is None:
                continue
            low, where = found
            gain = score - low
            if gain <= 0.0:
                continue
            gain = round4(gain)
            if gain < rule.first:
                continue
            hits = reached(state, rule, skill, gain)
            if not hits:
                continue
            evidence = [state.id_text(q)]
            if where >= window_start(plan, q):
                evidence.append(state.id_text(where))
            name = skill_name(at.catalog, skill)
            for level, threshold in hits:
                fire(
                    state,
                    out,
                    q,
                    by=self,
                    rule_id=rule.rule_id,
                    skill=skill,
                    level=level,
                    title=f"Improved {name} by {round(gain * 100)} points",
                    skills=(skill,),
                    evidence=evidence,
                    summary={
                        "score": round4(score),
                        "baseline": round4(low),
                        "improvement": gain,
                        "margin": threshold,
                        "window_days": window,
                    },
                )

    @classmethod
    def explain(cls, config: Any, knobs: Any) -> tuple[str, tuple[str, ...]]:
        window = config.window_days or knobs.window_days
        return (
            "An assessment score on a skill beat the lowest of its recent scores "
            f"(within {plural(window, 'day')}) by so many points.",
            tuple(level_text(lvl.name, f"+{points(lvl.margin)} points") for lvl in config.levels),
        )


def _baseline(
    state: ProfileState,
    depth: int,
    i: int,
    entries: list[tuple[int, float, int]],
    cut: int,
    base: int,
) -> tuple[float, int] | None:
    """The lowest score among the last ``depth`` before the trigger on day ``cut`` or
    later (the newest of equal ones), and its kept position (-1: folded)."""
    low = INF
    at = -1
    for day, score, k in reversed(entries):
        if day < cut:
            return (low, at) if at >= 0 or low < INF else None
        if score < low:
            low = score
            at = k - base
    room = depth - len(entries)
    tail = state.skills.tails[i]
    if room > 0 and tail:
        newest = tail[0] - 1
        k = len(tail) - 3
        while k >= 1:
            if newest - tail[k] >= room or tail[k + 1] < cut - state.totals.day0:
                break
            if tail[k + 2] < low:
                low = tail[k + 2]
                at = -1
            k -= 3
    return None if low == INF else (low, at)


KIND = PerformanceBoost
