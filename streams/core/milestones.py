"""Milestone rules, evaluated as of event time.

Take a learner's applied statements ordered by (event time, statement id).
A milestone (rule, skill, level) is achieved when its condition holds at
some *prefix* of that order, evaluated as of the prefix's last event time
(every window relative to it); its ``achieved_at``, evidence and summary are
those of the first such prefix. Each rule is a condition on the prefix and
on its last statement (the *trigger*: skill levels need evidence for the
skill, networker an attendance, continuous learner the first statement of a
week, the rules over several skills a skill crossing one of their marks).

In-order arrivals only add a prefix at the end, so only it is evaluated
(``evaluate_last``). A statement that arrives out of order changes every
prefix from its own on: those are evaluated again, from the kept statements
and exact aggregates, for the rules it can affect (``reevaluate``), and may
fire milestones whose ``achieved_at`` is in the past. Between triggers a
rule's figure cannot newly reach a threshold (decay and moving windows only
lower it), so evaluating triggers only finds the first prefix.

Figures are compared after rounding as the snapshot publishes them
(proficiency and scores to 4 places), so a milestone and the snapshot beside
it never disagree about a threshold. A level fires at most once per
(learner, rule, skill, level); every level reached fires, lowest first.
Voiding never fires a milestone and never retracts one.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from math import exp2
from typing import Any

from schemas.catalog import Catalog, Ladder
from schemas.milestones import (
    _ID_NAMESPACE,  # the namespace of milestone ids
    MILESTONE_DATA_VERSION,
    MILESTONE_DATASCHEMA,
    MILESTONE_SOURCE,
    MILESTONE_TYPE_PREFIX,
    MilestoneData,
    MilestoneEvent,
    MilestoneKind,
    milestone_id,
)
from streams.core.contracts import trusted
from streams.core.rules import LevelRule, Plan, SoftSkillsRule, VersatileRule
from streams.core.state import (
    ATTENDED,
    DAY_US,
    EVIDENCE,
    KEEP_BUCKETS,
    KIND_BITS,
    SCALE,
    SKILL_SHIFT,
    Decay,
    ProfileState,
    from_micros,
)

SEP = "\x1f"
_NAMESPACE = _ID_NAMESPACE.bytes
_HALF_UNIT = 0.00005
"""Half the last published place: a difference this far below a margin rounds up to it."""
_INF = math.inf


def milestone_key(rule_id: str, skill: str | None, level: str) -> str:
    """The (rule, skill, level) an achievement is remembered by (the parts of its id)."""
    return f"{rule_id}{SEP}{skill or ''}{SEP}{level}"


def id_high(state: ProfileState, key: str) -> int:
    """The high 64 bits of the id of the milestone ``key`` (a ``milestone_key``) of the
    state's learner: what the state remembers an achievement by. The id is a UUIDv5
    (``schemas.milestones.milestone_id``): SHA-1 of its namespace and name, version 5."""
    name = f"{state.learner}{SEP}{key}".encode()
    digest = hashlib.sha1(_NAMESPACE + name).digest()  # noqa: S324 - UUIDv5 is SHA-1
    return (int.from_bytes(digest[:8], "big") & ~0xF000) | 0x5000


def round4(x: float) -> float:
    """Round a figure in [0, 1] to 4 places (half up): how every published figure is rounded."""
    return int(x * 10000.0 + 0.5) / 10000.0


# --- proficiency -------------------------------------------------------------------------


def level_of(decay: Decay, flat: list[int], now: int, prior_q: float) -> float:
    """Decayed proficiency S / (E + prior) at ``now`` of a ``[bucket, mass, weight, ...]``
    list, rounded to 4 places. Buckets 8 or more older than the newest weigh less than
    2**-56 of it and are left out, so what is stored of them never matters."""
    n = len(flat)
    if not n:
        return 0.0
    span = decay.span
    half_life = decay.half_life
    if n == 3:
        f = exp2(((flat[0] + 1) * span - now) / half_life)
        return int(flat[1] * f / (flat[2] * f + prior_q) * 10000.0 + 0.5) / 10000.0
    low = flat[n - 3] - KEEP_BUCKETS
    s = e = 0.0
    for k in range(0, n, 3):
        b = flat[k]
        if b > low:
            f = exp2(((b + 1) * span - now) / half_life)
            s += flat[k + 1] * f
            e += flat[k + 2] * f
    return int(s / (e + prior_q) * 10000.0 + 0.5) / 10000.0


def level_without(
    decay: Decay, flat: list[int], now: int, prior_q: float, quant: tuple[int, int, int]
) -> float:
    """``level_of`` without one piece of evidence (the trigger's own)."""
    b, qs, qe = quant
    if len(flat) == 3:
        weight = flat[2] - qe
        if weight <= 0:
            return 0.0
        f = exp2(((b + 1) * decay.span - now) / decay.half_life)
        return int((flat[1] - qs) * f / (weight * f + prior_q) * 10000.0 + 0.5) / 10000.0
    rest = list(flat)
    for k in range(0, len(rest), 3):
        if rest[k] == b:
            rest[k + 1] -= qs
            rest[k + 2] -= qe
            if rest[k + 2] <= 0:
                del rest[k : k + 3]
            break
    return level_of(decay, rest, now, prior_q)


def level_pair(
    decay: Decay, flat: list[int], now: int, prior_q: float, quant: tuple[int, int, int]
) -> tuple[float, float]:
    """(``level_without``, ``level_of``) in one pass: the same sums, so the same figures."""
    n = len(flat)
    b, qs, qe = quant
    span = decay.span
    half_life = decay.half_life
    if n == 3:
        f = exp2(((flat[0] + 1) * span - now) / half_life)
        after = int(flat[1] * f / (flat[2] * f + prior_q) * 10000.0 + 0.5) / 10000.0
        weight = flat[2] - qe
        if weight <= 0:
            return 0.0, after
        return int((flat[1] - qs) * f / (weight * f + prior_q) * 10000.0 + 0.5) / 10000.0, after
    top = flat[n - 3]
    if top == b and flat[n - 1] - qe <= 0:  # the newest bucket goes: the window moves
        return level_without(decay, flat, now, prior_q, quant), level_of(decay, flat, now, prior_q)
    low = top - KEEP_BUCKETS
    s = e = s2 = e2 = 0.0
    for k in range(0, n, 3):
        bucket = flat[k]
        if bucket > low:
            f = exp2(((bucket + 1) * span - now) / half_life)
            mass = flat[k + 1]
            weight = flat[k + 2]
            s += mass * f
            e += weight * f
            if bucket == b:
                mass -= qs
                weight -= qe
            s2 += mass * f
            e2 += weight * f
    return (
        int(s2 / (e2 + prior_q) * 10000.0 + 0.5) / 10000.0,
        int(s / (e + prior_q) * 10000.0 + 0.5) / 10000.0,
    )


def proficiency(
    state: ProfileState, skill: str, now: int | None = None, prior: float = 1.0
) -> float:
    """A skill's proficiency at ``now`` (default: the profile's clock), rounded, in [0, 1]."""
    i = state.index().get(skill)
    if i is None:
        return 0.0
    when = state.newest if now is None else now
    return level_of(state.decay, state.buckets[i], when, prior * SCALE)


# --- figures as of a prefix ----------------------------------------------------------------


class Figures:
    """The profile's figures as of kept statement ``q``, the newest one."""

    __slots__ = ("decay", "now", "prior_q", "q", "state")

    def __init__(self, state: ProfileState, plan: Plan, q: int) -> None:
        self.state = state
        self.decay = state.decay
        self.prior_q = plan.prior_weight * SCALE
        self.q = q
        self.now = state.rt[q]

    def level(self, i: int) -> float:
        return level_of(self.decay, self.state.buckets[i], self.now, self.prior_q)

    def touches(self, i: int) -> int:
        return self.state.touches[i]

    def assessed(self, i: int) -> int:
        return self.state.assessed[i]

    def quant(self, q: int) -> tuple[int, int, int]:
        return self.state.decay.quantize(self.state.rt[q], self.state.rv[q])

    def levels(self, i: int, quant: tuple[int, int, int]) -> tuple[float, float]:
        """(proficiency without the trigger's evidence, proficiency), at the trigger."""
        return level_pair(self.decay, self.state.buckets[i], self.now, self.prior_q, quant)

    def attended(self, cut: int) -> int:
        """Attendances on day ``cut`` or later, up to the trigger."""
        return self.state.attended_since(cut)


class PrefixFigures(Figures):
    """The figures as of any kept statement: the aggregates less the kept statements after it.

    Built as of just before kept statement ``j``; ``advance`` adds the next one."""

    __slots__ = ("_only", "_quants", "_skills_a", "_skills_b", "_skills_t")

    def __init__(self, state: ProfileState, plan: Plan, j: int, *, skills: int) -> None:
        """``skills``: the skills (a mask of bits) whose figures to follow (0: only the
        position moves)."""
        super().__init__(state, plan, j)
        self._quants: dict[int, tuple[int, int, int]] = {}
        self._only = skills << SKILL_SHIFT
        if skills:
            self._skills_b: list[list[int]] | None = [list(flat) for flat in state.buckets]
            self._skills_t: list[int] = list(state.touches)
            self._skills_a: list[int] = list(state.assessed)
            for i in range(j, len(state.rt)):
                self._move(i, -1)
        else:
            self._skills_b = None
        self.q = j - 1

    def _move(self, i: int, sign: int) -> None:
        skills_b = self._skills_b
        if skills_b is None:
            return
        state = self.state
        c = state.rc[i]
        mask = (c & self._only) >> SKILL_SHIFT
        if not mask:
            return
        quant = self.quant(i) if c & EVIDENCE else None
        while mask:
            low = mask & -mask
            k = low.bit_length() - 1
            mask ^= low
            self._skills_t[k] += sign
            if quant is None:
                continue
            self._skills_a[k] += sign
            b, qs, qe = quant
            flat = skills_b[k]
            if sign > 0:
                _view_add(flat, b, qs, qe)
            else:
                _view_add(flat, b, -qs, -qe)

    def advance(self, q: int) -> None:
        self._move(q, 1)
        self.q = q
        self.now = self.state.rt[q]

    def quant(self, q: int) -> tuple[int, int, int]:
        quant = self._quants.get(q)
        if quant is None:
            quant = self._quants[q] = self.state.decay.quantize(self.state.rt[q], self.state.rv[q])
        return quant

    def level(self, i: int) -> float:
        assert self._skills_b is not None
        return level_of(self.decay, self._skills_b[i], self.now, self.prior_q)

    def touches(self, i: int) -> int:
        return self._skills_t[i]

    def assessed(self, i: int) -> int:
        return self._skills_a[i]

    def levels(self, i: int, quant: tuple[int, int, int]) -> tuple[float, float]:
        assert self._skills_b is not None
        return level_pair(self.decay, self._skills_b[i], self.now, self.prior_q, quant)

    def attended(self, cut: int) -> int:
        state = self.state
        count = state.attended_since(cut)
        rt, rc = state.rt, state.rc
        start = cut * DAY_US
        for i in range(self.q + 1, len(rt)):
            if rc[i] & KIND_BITS == ATTENDED and rt[i] >= start:
                count -= 1
        return count


def _view_add(flat: list[int], b: int, qs: int, qe: int) -> None:
    for k in range(0, len(flat), 3):
        if flat[k] == b:
            flat[k + 1] += qs
            flat[k + 2] += qe
            if flat[k + 2] <= 0:
                del flat[k : k + 3]
            return
        if flat[k] > b:
            flat[k:k] = (b, qs, qe)
            return
    flat += (b, qs, qe)


# --- what has fired --------------------------------------------------------------------------


class Goals:
    """The lowest threshold of each rule not reached yet, per skill where rules are per
    skill: until a figure reaches one, its rules have nothing to check. Cached in the
    state (not encoded), built for one plan, worked out as needed and updated as
    milestones fire."""

    __slots__ = (
        "_count",
        "_marks",
        "_soft",
        "_versatile",
        "_weeks",
        "boost",
        "level",
        "plan",
        "state",
        "trend",
    )

    def __init__(self, state: ProfileState, plan: Plan) -> None:
        self.plan = plan
        self.state = state
        self.level: dict[int, float] = {}
        self.trend: dict[int, float] = {}
        self.boost: dict[int, float] = {}
        self._weeks: float | None = None
        self._count: list[float] | None = None
        self._soft: list[bool] | None = None
        self._versatile: list[bool] | None = None
        self._marks: tuple[tuple[float, ...], dict[str, tuple[float, ...]] | None] | None = None

    @property
    def weeks(self) -> float:
        if self._weeks is None:
            rules = self.plan.continuous
            self._weeks = min((_open(self.state, rule, "") for rule in rules), default=_INF)
        return self._weeks

    @property
    def count(self) -> list[float]:
        if self._count is None:
            self._count = [_open(self.state, rule, "") for rule, _ in self.plan.networker]
        return self._count

    @property
    def soft(self) -> list[bool]:
        if self._soft is None:
            self._soft = [_open(self.state, r, "") < _INF for r, _ in self.plan.soft_skills]
        return self._soft

    @property
    def versatile(self) -> list[bool]:
        if self._versatile is None:
            self._versatile = [_open(self.state, r, "") < _INF for r, _ in self.plan.versatile]
        return self._versatile

    def forget(self, state: ProfileState, kind: MilestoneKind, skill: str | None) -> None:
        """A milestone of ``kind`` fired (for ``skill``): work out what is open again."""
        if kind is MilestoneKind.CONTINUOUS_LEARNER:
            self._weeks = None
        elif kind is MilestoneKind.NETWORKER:
            self._count = None
        elif kind is MilestoneKind.SOFT_SKILLS:
            self._soft = None
            self._marks = None
        elif kind is MilestoneKind.VERSATILE:
            self._versatile = None
            self._marks = None
        elif skill is not None and kind is not MilestoneKind.ROLE_READY:
            i = state.index().get(skill)
            if kind is MilestoneKind.SKILL_LEVEL_REACHED:
                self.level.pop(i, None)  # type: ignore[arg-type]
            elif kind is MilestoneKind.TREND_ADOPTER:
                self.trend.pop(i, None)  # type: ignore[arg-type]
            else:
                self.boost.pop(i, None)  # type: ignore[arg-type]

    def marks(
        self, catalog: Catalog
    ) -> tuple[tuple[float, ...], dict[str, tuple[float, ...]] | None]:
        """What a skill must cross for a rule over several skills to be checked: the
        lowest mark of the open soft-skills and versatile rules; the ladders' levels."""
        ladders = _ladder_levels(catalog) if self.plan.role_ready else None
        marks = self._marks
        if marks is None or marks[1] is not ladders:
            found: set[float] = set()
            open_soft = self.soft
            open_wide = self.versatile
            for n, (_, soft) in enumerate(self.plan.soft_skills):
                if open_soft[n]:
                    found.add(soft.min_proficiency)
            for n, (_, wide) in enumerate(self.plan.versatile):
                if open_wide[n]:
                    found.update((wide.breadth_proficiency, wide.deep_proficiency))
            marks = self._marks = (tuple(sorted(found)), ladders or None)
        return marks

    def level_goal(self, state: ProfileState, i: int) -> float:
        goal = self.level.get(i)
        if goal is None:
            goal = self.level[i] = _lowest_open(state, self.plan.skill_level, state.names[i])
        return goal

    def trend_goal(self, state: ProfileState, i: int) -> float:
        goal = self.trend.get(i)
        if goal is None:
            goal = self.trend[i] = _lowest_open(state, self.plan.trend, state.names[i])
        return goal

    def boost_goal(self, state: ProfileState, i: int) -> float:
        goal = self.boost.get(i)
        if goal is None:
            goal = self.boost[i] = min(
                (_open(state, rule, state.names[i]) for rule, _ in self.plan.boost), default=_INF
            )
        return goal


def _goals(state: ProfileState, plan: Plan) -> Goals:
    goals: Goals | None = state._goals
    if goals is None or goals.plan is not plan:
        goals = state._goals = Goals(state, plan)
    return goals


def _open(state: ProfileState, rule: LevelRule, skill: str) -> float:
    """The threshold of the rule's lowest level not fired yet (for ``skill``)."""
    fired = state.fired_set()
    head = rule.prefix + skill
    for (_, threshold), suffix in zip(rule.levels, rule.suffixes, strict=True):
        if id_high(state, head + suffix) not in fired:
            return threshold
    return _INF


def _lowest_open(state: ProfileState, rules: list[LevelRule], skill: str) -> float:
    return min((_open(state, rule, skill) for rule in rules), default=_INF)


def _reached(
    state: ProfileState, rule: LevelRule, skill: str | None, value: float
) -> list[tuple[str, float]]:
    """The levels ``value`` reaches that have not fired yet, lowest first."""
    levels = rule.levels
    n = 0
    while n < len(levels) and value >= levels[n][1]:
        n += 1
    if not n:
        return []
    fired = state.fired_set()
    head = rule.prefix + (skill or "")
    suffixes = rule.suffixes
    return [levels[i] for i in range(n) if id_high(state, head + suffixes[i]) not in fired]


def _fire(
    state: ProfileState,
    out: list[MilestoneEvent],
    q: int,
    *,
    rule_id: str,
    kind: MilestoneKind,
    skill: str | None,
    level: str,
    title: str,
    skills: tuple[str, ...],
    evidence: list[str],
    summary: dict[str, float | int | str],
) -> None:
    """Record and emit one milestone, achieved at kept statement ``q`` (built as
    ``MilestoneEvent.of`` would build it; the unit tests check every kind against it
    and against full validation)."""
    learner = state.learner
    when = from_micros(state.rt[q])
    data = trusted(
        MilestoneData,
        {
            "version": MILESTONE_DATA_VERSION,
            "kind": kind,
            "rule": rule_id,
            "learner": learner,
            "level": level,
            "skill": skill,
            "skills": skills,
            "title": title,
            "evidence": tuple(dict.fromkeys(evidence)),
            "achieved_at": when,
            "summary": summary,
        },
    )
    mid = milestone_id(learner, rule_id, skill, level)
    state.add_fired(mid, int(mid.replace("-", ""), 16))
    goals: Goals | None = state._goals
    if goals is not None:
        goals.forget(state, kind, skill)
    out.append(
        trusted(
            MilestoneEvent,
            {
                "specversion": "1.0",
                "id": mid,
                "source": MILESTONE_SOURCE,
                "type": MILESTONE_TYPE_PREFIX + kind.value,
                "subject": learner,
                "time": when,
                "datacontenttype": "application/json",
                "dataschema": MILESTONE_DATASCHEMA,
                "data": data,
            },
        )
    )


# --- evidence ----------------------------------------------------------------------------------
#
# A milestone achieved at kept statement q cites q, then the newest statements before
# it that make up the figure, among the newest `evidence_window` statements up to q:
# a bound that depends only on the statements up to q, so a late arrival after q
# cannot change what an evaluation at q cites.


def _window_start(plan: Plan, q: int) -> int:
    start = q - plan.evidence_window + 1
    return start if start > 0 else 0


def _cite_skill(state: ProfileState, plan: Plan, q: int, bit: int) -> list[str]:
    """q, then the newest assessments of a skill (``bit``: its bit in the codes)."""
    out = [state.id_text(q)]
    rc, rv = state.rc, state.rv
    limit = plan.max_evidence
    i = q - 1
    start = _window_start(plan, q)
    while i >= start and len(out) < limit:
        if rc[i] & bit and rv[i] >= 0.0:
            out.append(state.id_text(i))
        i -= 1
    return out


def _cite_newest_of(
    state: ProfileState, plan: Plan, q: int, wanted: int, *, scored: bool
) -> list[str]:
    """q, then newest first one statement for each skill still wanted (a mask of bits)."""
    out = [state.id_text(q)]
    rc, rv = state.rc, state.rv
    wanted &= ~rc[q]
    limit = plan.max_evidence
    i = q - 1
    start = _window_start(plan, q)
    while i >= start and wanted and len(out) < limit:
        hit = rc[i] & wanted
        if hit and (not scored or rv[i] >= 0.0):
            wanted &= ~hit
            out.append(state.id_text(i))
        i -= 1
    return out


def _mask_of(state: ProfileState, names: Any) -> int:
    index = state.index()
    mask = 0
    for k in names:
        i = index.get(k)
        if i is not None:
            mask |= 1 << (i + SKILL_SHIFT)
    return mask


def _name(catalog: Catalog, skill: str) -> str:
    known = catalog.skills.get(skill)
    return known.name if known is not None else skill


# --- the rules, at a prefix -------------------------------------------------------------------


def _skill_level(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    fig: Figures,
    q: int,
    i: int,
    p: float,
    out: list[MilestoneEvent],
) -> None:
    skill = state.names[i]
    evidence: list[str] | None = None
    for rule in plan.skill_level:
        reached = _reached(state, rule, skill, p)
        if not reached:
            continue
        if evidence is None:
            evidence = _cite_skill(state, plan, q, 1 << (i + SKILL_SHIFT))
        name = _name(catalog, skill)
        for level, threshold in reached:
            _fire(
                state,
                out,
                q,
                rule_id=rule.rule_id,
                kind=rule.kind,
                skill=skill,
                level=level,
                title=f"Reached {level} level in {name}",
                skills=(skill,),
                evidence=evidence,
                summary={"proficiency": p, "threshold": threshold, "assessments": fig.assessed(i)},
            )


def _trend(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    fig: Figures,
    q: int,
    i: int,
    p: float,
    out: list[MilestoneEvent],
) -> None:
    skill = state.names[i]
    known = catalog.skills.get(skill)
    if known is None or known.emerging is None:
        return
    if not known.emerging.covers(from_micros(state.rt[q]).date()):
        return
    since = str(known.emerging.start)
    evidence: list[str] | None = None
    for rule in plan.trend:
        reached = _reached(state, rule, skill, p)
        if not reached:
            continue
        if evidence is None:
            evidence = _cite_skill(state, plan, q, 1 << (i + SKILL_SHIFT))
        for level, threshold in reached:
            _fire(
                state,
                out,
                q,
                rule_id=rule.rule_id,
                kind=rule.kind,
                skill=skill,
                level=level,
                title=f"Early adopter of {known.name}: reached {level} level while it is emerging",
                skills=(skill,),
                evidence=evidence,
                summary={
                    "proficiency": p,
                    "threshold": threshold,
                    "assessments": fig.assessed(i),
                    "emerging_since": since,
                },
            )


def history(state: ProfileState, plan: Plan, i: int, q: int) -> list[tuple[int, float, int]]:
    """The newest ``score_history - 1`` assessments of skill ``i`` kept before ``q``:
    ``(day, score, position)``, oldest first."""
    depth = plan.history - 1
    out: list[tuple[int, float, int]] = []
    if depth <= 0:
        return out
    bit = 1 << (i + SKILL_SHIFT)
    rt, rc, rv = state.rt, state.rc, state.rv
    k = q - 1
    while k >= 0:
        if rc[k] & bit and rv[k] >= 0.0:
            out.append((rt[k] // DAY_US, rv[k], k))
            if len(out) >= depth:
                break
        k -= 1
    out.reverse()
    return out


def _baseline(
    state: ProfileState,
    plan: Plan,
    i: int,
    entries: list[tuple[int, float, int]],
    cut: int,
    base: int,
) -> tuple[float, int] | None:
    """The lowest score among the last ``score_history - 1`` before the trigger on day
    ``cut`` or later (the newest of equal ones), and its kept position (-1: folded)."""
    low = _INF
    at = -1
    depth = plan.history - 1
    for day, score, k in reversed(entries):
        if day < cut:
            return (low, at) if at >= 0 or low < _INF else None
        if score < low:
            low = score
            at = k - base
    room = depth - len(entries)
    tail = state.tails[i]
    if room > 0 and tail:
        newest = tail[0] - 1
        k = len(tail) - 3
        while k >= 1:
            if newest - tail[k] >= room or tail[k + 1] < cut - state.day0:
                break
            if tail[k + 2] < low:
                low = tail[k + 2]
                at = -1
            k -= 3
    return None if low == _INF else (low, at)


def _boost(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    q: int,
    i: int,
    entries: list[tuple[int, float, int]],
    out: list[MilestoneEvent],
    base: int = 0,
) -> None:
    """The trigger's score against the lowest recent score of the skill within each
    rule's window (the ``window`` UTC days ending on the trigger's day). ``entries``:
    the assessments before it (``history``), their positions counted from ``base``."""
    score = state.rv[q]
    day = state.rt[q] // DAY_US
    skill = state.names[i]
    for rule, window in plan.boost:
        found = _baseline(state, plan, i, entries, day - window + 1, base)
        if found is None:
            continue
        low, at = found
        gain = score - low
        if gain <= 0.0:
            continue
        gain = round4(gain)
        if gain < rule.first:
            continue
        reached = _reached(state, rule, skill, gain)
        if not reached:
            continue
        evidence = [state.id_text(q)]
        if at >= _window_start(plan, q):
            evidence.append(state.id_text(at))
        name = _name(catalog, skill)
        for level, threshold in reached:
            _fire(
                state,
                out,
                q,
                rule_id=rule.rule_id,
                kind=rule.kind,
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


def _run_start(state: ProfileState, week: int) -> int:
    runs = state.runs
    i = bisect_right(runs, week)
    return runs[i - 1] if i % 2 else runs[i - 2]


def _continuous(state: ProfileState, plan: Plan, q: int, out: list[MilestoneEvent]) -> None:
    week = (state.rt[q] // DAY_US + 3) // 7
    first = _run_start(state, week)
    run = week - first + 1
    evidence: list[str] | None = None
    for rule in plan.continuous:
        reached = _reached(state, rule, None, run)
        if not reached:
            continue
        if evidence is None:
            evidence = [state.id_text(q)]
            rt = state.rt
            taken = week
            limit = plan.max_evidence
            k = q - 1
            start = _window_start(plan, q)
            while k >= start and len(evidence) < limit:
                w = (rt[k] // DAY_US + 3) // 7
                if w < first:
                    break
                if w < taken:
                    taken = w
                    evidence.append(state.id_text(k))
                k -= 1
        for level, threshold in reached:
            _fire(
                state,
                out,
                q,
                rule_id=rule.rule_id,
                kind=rule.kind,
                skill=None,
                level=level,
                title=f"Learned {run} weeks in a row",
                skills=(),
                evidence=evidence,
                summary={
                    "weeks": run,
                    "threshold": int(threshold),
                    "first_week": _iso_week(first),
                    "last_week": _iso_week(week),
                },
            )


def _iso_week(week: int) -> str:
    iso = from_micros((week * 7 - 3) * DAY_US).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _networker(
    state: ProfileState,
    plan: Plan,
    fig: Figures,
    q: int,
    n: int,
    out: list[MilestoneEvent],
) -> None:
    """Rule ``n`` of the plan's networker rules at kept statement ``q`` (an attendance)."""
    rule, window = plan.networker[n]
    cut = state.rt[q] // DAY_US - window + 1
    count = fig.attended(cut)
    reached = _reached(state, rule, None, count)
    if not reached:
        return
    evidence = [state.id_text(q)]
    rt, rc = state.rt, state.rc
    start = cut * DAY_US
    limit = plan.max_evidence
    k = q - 1
    first = _window_start(plan, q)
    while k >= first and len(evidence) < limit and rt[k] >= start:
        if rc[k] & KIND_BITS == ATTENDED:
            evidence.append(state.id_text(k))
        k -= 1
    for level, threshold in reached:
        _fire(
            state,
            out,
            q,
            rule_id=rule.rule_id,
            kind=rule.kind,
            skill=None,
            level=level,
            title=f"Attended {count} events in {window} days",
            skills=(),
            evidence=evidence,
            summary={"events_in_window": count, "threshold": int(threshold), "window_days": window},
        )


_LADDER_LEVELS: list[Any] = [(), {}]
"""The ladders last seen (the objects, which pins their ids) and what they require."""


def _ladder_levels(catalog: Catalog) -> dict[str, tuple[float, ...]]:
    """skill -> every level a role of any ladder of ``catalog`` requires of it."""
    ladders = tuple(catalog.ladders.values())
    if ladders == _LADDER_LEVELS[0]:
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


def _role_ready(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    fig: Figures,
    q: int,
    out: list[MilestoneEvent],
) -> None:
    """A role is reached when every requirement of it and of every role before it on
    the ladder is met: a learner never skips a rung, and roles reached together fire
    in ladder order."""
    index = state.index()
    fired = state.fired_set()
    for rule_id, role_rule in plan.role_ready:
        for ladder in catalog.ladders.values():
            if role_rule.ladders and ladder.id not in role_rule.ladders:
                continue
            _ladder(state, plan, fig, q, rule_id, ladder, index, fired, out)


def _ladder(
    state: ProfileState,
    plan: Plan,
    fig: Figures,
    q: int,
    rule_id: str,
    ladder: Ladder,
    index: dict[str, int],
    fired: set[int],
    out: list[MilestoneEvent],
) -> None:
    for role in ladder.roles:
        if not role.requires:
            continue
        figures: dict[str, float] = {}
        for r in role.requires:
            i = index.get(r.skill)
            figures[r.skill] = 0.0 if i is None else fig.level(i)
        if any(figures[r.skill] < r.level for r in role.requires):
            return
        qualified = f"{ladder.id}/{role.id}"
        if id_high(state, milestone_key(rule_id, qualified, role.id)) in fired:
            continue
        skills = tuple(sorted(figures))
        evidence = _cite_newest_of(state, plan, q, _mask_of(state, skills), scored=True)
        summary: dict[str, float | int | str] = {
            "ladder": ladder.id,
            "role": role.id,
            "requirements": len(role.requires),
        }
        for r in role.requires:
            summary[f"proficiency.{r.skill}"] = figures[r.skill]
            summary[f"required.{r.skill}"] = r.level
        _fire(
            state,
            out,
            q,
            rule_id=rule_id,
            kind=MilestoneKind.ROLE_READY,
            skill=qualified,
            level=role.id,
            title=f"Ready for {role.name} ({ladder.name})",
            skills=skills,
            evidence=evidence,
            summary=summary,
        )


def _versatile(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    fig: Figures,
    q: int,
    rule: LevelRule,
    cfg: VersatileRule,
    out: list[MilestoneEvent],
) -> None:
    breadth = cfg.breadth_proficiency
    deep: tuple[float, str] | None = None
    by_category: dict[str, tuple[float, str]] = {}
    names = state.names
    for i in sorted(range(len(names)), key=names.__getitem__):
        p = fig.level(i)
        if p < breadth:
            continue
        k = names[i]
        category = catalog.category(k)
        if category is None:
            continue
        if p >= cfg.deep_proficiency and (deep is None or p > deep[0]):
            deep = (p, k)
        held = by_category.get(category)
        if held is None or p > held[0]:
            by_category[category] = (p, k)
    if deep is None:
        return
    reached = _reached(state, rule, None, len(by_category))
    if not reached:
        return
    others = sorted({k for _, k in by_category.values()} - {deep[1]})
    skills = (deep[1], *others)
    evidence = _cite_newest_of(state, plan, q, _mask_of(state, skills), scored=True)
    for level, threshold in reached:
        _fire(
            state,
            out,
            q,
            rule_id=rule.rule_id,
            kind=rule.kind,
            skill=None,
            level=level,
            title=(
                f"Versatile: deep in {_name(catalog, deep[1])}, skilled across "
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


def _soft_skills(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    fig: Figures,
    q: int,
    rule: LevelRule,
    cfg: SoftSkillsRule,
    out: list[MilestoneEvent],
) -> None:
    exposure = cfg.min_exposure
    held: list[str] = []
    for i, k in enumerate(state.names):
        touches = fig.touches(i)
        if touches <= 0 or catalog.category(k) not in cfg.categories:
            continue
        if (exposure is not None and touches >= exposure) or fig.level(i) >= cfg.min_proficiency:
            held.append(k)
    reached = _reached(state, rule, None, len(held))
    if not reached:
        return
    skills = tuple(sorted(held))
    evidence = _cite_newest_of(state, plan, q, _mask_of(state, skills), scored=False)
    for level, threshold in reached:
        _fire(
            state,
            out,
            q,
            rule_id=rule.rule_id,
            kind=rule.kind,
            skill=None,
            level=level,
            title=f"Developed {len(held)} soft skills",
            skills=skills,
            evidence=evidence,
            summary={"soft_skills": len(held), "threshold": int(threshold)},
        )


def _soft_trigger(
    state: ProfileState,
    catalog: Catalog,
    cfg: SoftSkillsRule,
    fig: Figures,
    idxs: Any,
    crossings: dict[int, tuple[float, float]] | None,
) -> bool:
    """Whether a skill of the trigger became held by a soft-skills rule at it."""
    names = state.names
    for i in idxs:
        if catalog.category(names[i]) not in cfg.categories:
            continue
        if cfg.min_exposure is not None and fig.touches(i) == cfg.min_exposure:
            return True
        crossing = crossings.get(i) if crossings is not None else None
        if crossing is not None and crossing[0] < cfg.min_proficiency <= crossing[1]:
            return True
    return False


def _crosses(crossings: dict[int, tuple[float, float]], marks: Any) -> bool:
    for before, after in crossings.values():
        for mark in marks:
            if before < mark <= after:
                return True
    return False


def _ladder_crossed(
    state: ProfileState, catalog: Catalog, crossings: dict[int, tuple[float, float]]
) -> bool:
    marks = _ladder_levels(catalog)
    names = state.names
    for i, (before, after) in crossings.items():
        for mark in marks.get(names[i], ()):
            if before < mark <= after:
                return True
    return False


def _multi(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    fig: Figures,
    q: int,
    idxs: Any,
    crossings: dict[int, tuple[float, float]] | None,
    out: list[MilestoneEvent],
    *,
    force: bool = False,
) -> None:
    """The rules over several skills, where the trigger moved one of their figures
    (``force``: evaluate them whatever the trigger did)."""
    if plan.role_ready and (force or (crossings and _ladder_crossed(state, catalog, crossings))):
        _role_ready(state, plan, catalog, fig, q, out)
    goals = _goals(state, plan)
    if plan.versatile:
        for n, (rule, wide) in enumerate(plan.versatile):
            if goals.versatile[n] and (
                force
                or (
                    crossings
                    and _crosses(crossings, (wide.breadth_proficiency, wide.deep_proficiency))
                )
            ):
                _versatile(state, plan, catalog, fig, q, rule, wide, out)
    if plan.soft_skills:
        for n, (rule, cfg) in enumerate(plan.soft_skills):
            if goals.soft[n] and (
                force or _soft_trigger(state, catalog, cfg, fig, idxs, crossings)
            ):
                _soft_skills(state, plan, catalog, fig, q, rule, cfg, out)


# --- in order: the newest prefix -------------------------------------------------------


def evaluate_last(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    q: int,
    idxs: list[int],
    quant: tuple[int, int, int] | None,
    week_new: bool,
    out: list[MilestoneEvent],
) -> None:
    """Fire what the newest kept statement ``q`` (just appended) made reachable.

    ``idxs``: its skills; ``quant``: its evidence in fixed point; ``week_new``: it
    made its week active. Cheap checks
    against the lowest open thresholds come first; figures are computed only
    for the rules the statement can move."""
    goals: Goals | None = state._goals
    if goals is None or goals.plan is not plan:
        goals = _goals(state, plan)
    t = state.rt[q]
    c = state.rc[q]
    if week_new and plan.continuous and (t // DAY_US + 3) // 7 - state.runs[-2] + 1 >= goals.weeks:
        _continuous(state, plan, q, out)
    if c & KIND_BITS == ATTENDED and plan.networker:
        day = t // DAY_US
        for n, (_, window) in enumerate(plan.networker):
            goal = goals.count[n]
            if goal < _INF and state.attended_since(day - window + 1) >= goal:
                _networker(state, plan, Figures(state, plan, q), q, n, out)
    if not idxs:
        return
    crossings: dict[int, tuple[float, float]] | None = None
    if quant is not None:
        ev = state.rv[q]
        decay = state.decay
        prior_q = plan.prior_weight * SCALE
        marks, ladders = goals.marks(catalog)
        buckets = state.buckets
        names = state.names
        level_goals = goals.level
        trend_goals = goals.trend
        for i in idxs:
            if not plan.uses_levels:
                if plan.boost:
                    _boost_last(state, plan, catalog, goals, q, i, ev, out)
                continue
            steps = ladders.get(names[i]) if ladders else None
            if marks or steps:
                before, p = level_pair(decay, buckets[i], t, prior_q, quant)
                if p > before and (
                    _between(marks, before, p) or (steps and _between(steps, before, p))
                ):
                    if crossings is None:
                        crossings = {}
                    crossings[i] = (before, p)
            else:
                p = level_of(decay, buckets[i], t, prior_q)
            if plan.skill_level:
                level_goal = level_goals.get(i)
                if level_goal is None:
                    level_goal = goals.level_goal(state, i)
                if p >= level_goal:
                    _skill_level(state, plan, catalog, Figures(state, plan, q), q, i, p, out)
            if plan.trend:
                trend_goal = trend_goals.get(i)
                if trend_goal is None:
                    trend_goal = goals.trend_goal(state, i)
                if p >= trend_goal and _emerging(catalog, names[i]):
                    _trend(state, plan, catalog, Figures(state, plan, q), q, i, p, out)
            if plan.boost:
                _boost_last(state, plan, catalog, goals, q, i, ev, out)
        if not plan.boost:
            state._hist = None
    if plan.multi_skill and (
        crossings is not None or (plan.exposures and exposed(state, plan, idxs))
    ):
        _multi(state, plan, catalog, Figures(state, plan, q), q, idxs, crossings, out)


def _between(marks: tuple[float, ...], before: float, after: float) -> bool:
    """Whether a mark (sorted) lies in (before, after]."""
    k = bisect_right(marks, before)
    return k < len(marks) and marks[k] <= after


def _emerging(catalog: Catalog, skill: str) -> bool:
    known = catalog.skills.get(skill)
    return known is not None and known.emerging is not None


def exposed(state: ProfileState, plan: Plan, idxs: list[int]) -> bool:
    """Whether a skill of the statement just reached a count a soft-skills rule holds at."""
    touches = state.touches
    exposures = plan.exposures
    return any(touches[i] in exposures for i in idxs)


def _boost_last(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    goals: Goals,
    q: int,
    i: int,
    ev: float,
    out: list[MilestoneEvent],
) -> None:
    """Performance boost at the newest statement, from a cached score history."""
    goal = goals.boost.get(i)
    if goal is None:
        goal = goals.boost_goal(state, i)
    held = state._hist
    if held is None or held[0] is not plan:
        held = state._hist = (plan, {})
    cache: dict[int, list[tuple[int, float, int]]] = held[1]
    if goal == _INF:  # every level fired: nothing to keep for this skill
        cache.pop(i, None)
        return
    base = state._folds
    entries = cache.get(i)
    if entries is None:
        entries = [(day, score, k + base) for day, score, k in history(state, plan, i, q)]
    else:
        while entries and entries[0][2] < base:  # folded since
            del entries[0]
    if ev + _HALF_UNIT >= goal:
        low = min([e[1] for e in entries], default=_INF)
        tail = state.tails[i]
        if len(entries) < plan.history - 1 and len(tail) > 1:
            low = min(low, *tail[3::3])
        if ev - low + _HALF_UNIT >= goal:
            _boost(state, plan, catalog, q, i, entries, out, base)
    depth = plan.history - 1
    if depth > 0:
        entries.append((state.rt[q] // DAY_US, ev, q + base))
        if len(entries) > depth:
            del entries[0]
    cache[i] = entries


def reevaluate(
    state: ProfileState,
    plan: Plan,
    catalog: Catalog,
    j: int,
    t: int,
    c: int,
    week_new: bool,
    folded: bool,
    out: list[MilestoneEvent],
) -> None:
    """Evaluate again the prefixes a late statement changed.

    The statement (time ``t``, code ``c``) was inserted at kept position ``j``,
    or, ``folded``, went straight into the aggregates as older than every kept
    statement (then ``j`` is 0 and the rules are evaluated at the kept
    statements after it only). Only rules whose figures it moved and that still
    have a level to reach are evaluated, and each only at prefixes that
    trigger it."""
    rt, rc = state.rt, state.rc
    n = len(rt)
    if j >= n:
        return
    goals = _goals(state, plan)
    names = state.names
    mask = c >> SKILL_SHIFT
    scored = mask if c & EVIDENCE else 0
    levels = trends = boosts = 0
    m = scored
    while m:
        low = m & -m
        m ^= low
        i = low.bit_length() - 1
        if plan.skill_level and goals.level_goal(state, i) < _INF:
            levels |= low
        if plan.trend and goals.trend_goal(state, i) < _INF and _emerging(catalog, names[i]):
            trends |= low
        if plan.boost and goals.boost_goal(state, i) < _INF:
            boosts |= low
    soft = 0
    if any(goals.soft) and mask:
        categories = plan.soft_categories
        m = mask
        while m:
            low = m & -m
            m ^= low
            if catalog.category(names[low.bit_length() - 1]) in categories:
                soft |= low
    wide = bool(scored) and (bool(plan.role_ready) or any(goals.versatile))
    multi = wide or bool(soft)
    weekly = week_new and goals.weeks < _INF
    social = c & KIND_BITS == ATTENDED and any(goal < _INF for goal in goals.count)
    if not (weekly or social or levels or trends or boosts or multi):
        return
    week = (t // DAY_US + 3) // 7
    run_end = week
    if weekly:
        runs = state.runs
        i = bisect_right(runs, week)
        run_end = runs[i] if i % 2 else runs[i - 1]
    day = t // DAY_US
    fig = PrefixFigures(state, plan, j, skills=(-1 if multi else levels | trends))
    follow = (levels | trends) << SKILL_SHIFT if not multi else -1
    horizon = state.horizon
    depth = plan.history - 1
    since: dict[int, int] = {}
    """skill -> assessments of it among the prefixes after the late statement"""
    for q in range(j, n):
        fig.advance(q)
        cq = rc[q]
        tq = rt[q]
        own = q == j and not folded
        if weekly:
            wq = (tq // DAY_US + 3) // 7
            if week <= wq <= run_end and wq != (
                (rt[q - 1] // DAY_US + 3) // 7
                if q > 0
                else (-1 if horizon is None else (horizon[0] // DAY_US + 3) // 7)
            ):
                _continuous(state, plan, q, out)
        if social and cq & KIND_BITS == ATTENDED:
            dq = tq // DAY_US
            for k, (_, window) in enumerate(plan.networker):
                if (own or dq - window + 1 <= day) and goals.count[k] < _INF:
                    _networker(state, plan, fig, q, k, out)
        if not cq & EVIDENCE:
            if soft and cq >> SKILL_SHIFT and _touched_soft(state, plan, catalog, fig, cq):
                _multi(state, plan, catalog, fig, q, _bits(cq >> SKILL_SHIFT), None, out)
            elif folded and q == j and multi:
                _multi(state, plan, catalog, fig, q, [], None, out, force=True)
            continue
        qmask = cq >> SKILL_SHIFT
        crossings: dict[int, tuple[float, float]] | None = None
        if cq & follow or (boosts and qmask & boosts):
            quant = fig.quant(q)
            m = qmask
            while m:
                low = m & -m
                m ^= low
                i = low.bit_length() - 1
                if low & (levels | trends) or multi:
                    before, p = fig.levels(i, quant)
                    if multi and p > before:
                        if crossings is None:
                            crossings = {}
                        crossings[i] = (before, p)
                    if low & levels and p >= goals.level_goal(state, i):
                        _skill_level(state, plan, catalog, fig, q, i, p, out)
                    if low & trends and p >= goals.trend_goal(state, i):
                        _trend(state, plan, catalog, fig, q, i, p, out)
                if low & boosts:
                    seen = since.get(i, 0)
                    if own or folded or seen < depth:
                        _boost(state, plan, catalog, q, i, history(state, plan, i, q), out)
                    if not own:
                        since[i] = seen + 1
        if multi and (
            crossings
            or (soft and _touched_soft(state, plan, catalog, fig, cq))
            or (folded and q == j)
        ):
            _multi(
                state, plan, catalog, fig, q, _bits(qmask), crossings, out, force=folded and q == j
            )


def _touched_soft(state: ProfileState, plan: Plan, catalog: Catalog, fig: Figures, c: int) -> bool:
    """Whether a soft skill of a statement (code ``c``) reached, with it, a number of
    statements a soft-skills rule counts it at."""
    exposures = plan.exposures
    mask = c >> SKILL_SHIFT
    while mask:
        low = mask & -mask
        mask ^= low
        i = low.bit_length() - 1
        if fig.touches(i) in exposures and catalog.category(state.names[i]) in plan.soft_categories:
            return True
    return False


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out
