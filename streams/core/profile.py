"""The profile reducer: fold one learning event into a learner's profile state.

``apply`` is the hot path of the pipeline. It is incremental for every
arrival order: a statement newer than all kept ones is appended, an older one
is inserted (or folded straight into the aggregates when it is older than
everything kept), and the aggregates it touches are updated by exact integer
arithmetic, so no arrival order ever needs a recompute from the records. Only
voiding looks back at the kept records, to rebuild the few per-skill maxima
the withdrawn statement may have held.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Any

from schemas.catalog import Catalog
from schemas.events import EventKind, LearningEvent
from schemas.milestones import MilestoneEvent
from streams.core.milestones import evaluate
from streams.core.rules import Plan, Rules
from streams.core.state import (
    ATTENDED,
    CERTIFIED,
    COLLABORATED,
    COMPLETED,
    DAY_US,
    KEEP_BUCKETS,
    KIND_CODE,
    N_ASSESSMENTS,
    N_CERTIFICATIONS,
    N_COLLABORATIONS,
    N_COURSES,
    N_EVENTS,
    N_STATEMENTS,
    PASSED,
    R_ID,
    R_SCORE,
    R_SKILLS,
    R_TIME,
    Base,
    ProfileState,
    Record,
    SkillAgg,
)

_VOIDING = EventKind.VOIDING


def apply(
    state: ProfileState | None,
    event: LearningEvent,
    catalog: Catalog,
    rules: Rules,
) -> tuple[ProfileState, list[MilestoneEvent]]:
    """Fold ``event`` into ``state`` (``None``: the learner's first event).

    Returns the state and the milestones this event made the learner achieve,
    each at most once per (learner, rule, skill, level). The state passed in
    is mutated and returned (no copy is made, for speed): a caller that needs
    the old state must keep ``encode_state(state)`` first.

    - A statement id already applied (kept, or among the ``dedupe_memory``
      remembered ids) changes nothing.
    - A voiding event withdraws the voided statement if it is still kept, or
      makes the statement be ignored when it arrives later; it never fires
      and never retracts a milestone.
    - Raises ``ValueError`` when ``state`` belongs to another learner.
    """
    plan = rules.plan
    if state is None:
        state = ProfileState(event.learner, plan.half_life_days)
    elif state.learner != event.learner:
        raise ValueError(
            f"event for learner {event.learner!r} applied to the profile of {state.learner!r}"
        )
    sid = event.statement_id
    if sid in state.rids or sid in state.seen:
        return state, []
    kind = event.kind
    if kind is _VOIDING:
        _void(state, sid, event.voided_statement_id, plan)
        return state, []

    t = round(event.time.timestamp() * 1e6)
    code = KIND_CODE[kind]
    skills = event.skills
    ev: float | None = None
    quant: tuple[int, int, int] | None = None
    if skills:
        if len(skills) > 1 and len(set(skills)) != len(skills):
            skills = tuple(dict.fromkeys(skills))
        score = event.score
        if score is not None:
            ev = score if score > 0.0 else 0.0
        elif code == CERTIFIED:
            ev = plan.certification_score
        elif code == PASSED:
            ev = plan.course_passed_score
        if ev is not None:
            quant = state.decay.quantize(t, ev)
    rec: Record = [t, sid, code, skills, ev]

    records = state.records
    base = state.base
    if records:
        last = records[-1]
        in_order = t > last[0] or (t == last[0] and sid > last[1])
    elif base is not None:
        in_order = t > base.horizon_t or (t == base.horizon_t and sid > base.horizon_id)
    else:
        in_order = True
    if in_order:
        records.append(rec)
        state.rids[sid] = t
    elif base is not None and (
        t < base.horizon_t or (t == base.horizon_t and sid < base.horizon_id)
    ):
        _remember(state, sid, plan.dedupe)
        _fold_into_base(state, base, (rec,), plan)
    else:
        insort(records, rec)
        state.rids[sid] = t
    run = _add(state, rec, quant, plan)
    if len(records) > plan.cap:
        _fold(state, plan)

    if (
        (quant is not None and plan.on_evidence)
        or (run and plan.continuous)
        or (code == ATTENDED and plan.networker)
        or (plan.exposures and _exposure_reached(state, skills, plan.exposures))
    ):
        out: list[MilestoneEvent] = []
        evaluate(state, plan, catalog, rec, event.time, run, in_order, quant, out)
        return state, out
    return state, []


def _exposure_reached(state: ProfileState, skills: Any, exposures: frozenset[int]) -> bool:
    """Whether a skill of the statement just reached an exposure a rule counts."""
    aggs = state.skills
    return any(aggs[k].touches in exposures for k in skills)


def _add(state: ProfileState, rec: Record, quant: tuple[int, int, int] | None, plan: Plan) -> int:
    """Add one statement to the aggregates; return the length of its week's run
    when the statement made its week active (0 when the week already was).

    ``quant`` is the statement's evidence in fixed point (``Decay.quantize``).
    A skill keeps only the decay buckets less than ``KEEP_BUCKETS`` buckets
    (64 half-lives) older than its newest one: older evidence weighs < 2**-56.
    """
    t, _, code, skills, ev = rec
    counts = state.counts
    counts[N_STATEMENTS] += 1
    course = code in (COMPLETED, PASSED)
    attended = code == ATTENDED
    if course:
        counts[N_COURSES] += 1
    elif attended:
        counts[N_EVENTS] += 1
        day = t // DAY_US
        base = state.base
        if base is None or day > base.horizon_t // DAY_US - plan.window_max_days:
            _bump(state.attended, day, 1)
    elif code == CERTIFIED:
        counts[N_CERTIFICATIONS] += 1
    elif code == COLLABORATED:
        counts[N_COLLABORATIONS] += 1

    if skills:
        aggs = state.skills
        bucket = qs = qe = 0
        entry: list[Any] = []
        if quant is not None:
            counts[N_ASSESSMENTS] += 1
            bucket, qs, qe = quant
            entry = [t, ev]
        for k in skills:
            agg = aggs.get(k)
            if agg is None:
                agg = aggs[k] = SkillAgg()
            agg.touches += 1
            if t > agg.last:  # noqa: PLR1730 - a branch is cheaper than max() here
                agg.last = t
            if course:
                agg.courses += 1
            elif attended:
                agg.events += 1
            if quant is None:
                continue
            agg.assessed += 1
            buckets = agg.buckets
            bk = buckets.get(bucket)
            if bk is not None:
                bk[0] += qs
                bk[1] += qe
            elif not buckets or bucket > max(buckets) - KEEP_BUCKETS:
                buckets[bucket] = [qs, qe]
                for old in [b for b in buckets if b <= bucket - KEEP_BUCKETS]:
                    del buckets[old]
            best = agg.best
            if best is None or ev > best:
                agg.best = ev
            recent = agg.recent
            if not recent or entry >= recent[-1]:
                recent.append(entry)
            else:
                insort(recent, entry)
            if len(recent) > plan.history:
                del recent[0]

    weeks = state.weeks
    week = (t // DAY_US + 3) // 7
    if weeks:
        top = weeks[-1]
        if top[0] == week:
            top[1] += 1
            return 0
        if week > top[0]:
            streak = state.streak = state.streak + 1 if week == top[0] + 1 else 1
            weeks.append([week, 1])
            state.longest = max(state.longest, streak)
            return streak
        i = bisect_left(weeks, [week])
        if weeks[i][0] == week:
            weeks[i][1] += 1
            return 0
        weeks.insert(i, [week, 1])
        lo = hi = i
        while lo > 0 and weeks[lo - 1][0] == weeks[lo][0] - 1:
            lo -= 1
        while hi + 1 < len(weeks) and weeks[hi + 1][0] == weeks[hi][0] + 1:
            hi += 1
        run = hi - lo + 1
        if hi == len(weeks) - 1:
            state.streak = run
        state.longest = max(state.longest, run)
        return run
    weeks.append([week, 1])
    state.streak = state.longest = 1
    return 1


def _bump(pairs: list[list[int]], key: int, by: int) -> None:
    """Add ``by`` to the count of ``key`` in a sorted ``[key, count]`` list (0 removes it)."""
    if pairs and pairs[-1][0] == key:
        i = len(pairs) - 1
    elif not pairs or key > pairs[-1][0]:
        if by > 0:
            pairs.append([key, by])
        return
    else:
        i = bisect_left(pairs, [key])
        if i == len(pairs) or pairs[i][0] != key:
            if by > 0:
                pairs.insert(i, [key, by])
            return
    pairs[i][1] += by
    if pairs[i][1] <= 0:
        del pairs[i]


def _remember(state: ProfileState, sid: str, bound: int) -> None:
    seen = state.seen
    seen[sid] = None
    if len(seen) > bound:
        for old in list(seen)[: len(seen) - bound]:
            del seen[old]


def _fold(state: ProfileState, plan: Plan) -> None:
    """The evidence cap is exceeded: fold the oldest kept records into the base.

    Folds down to 7/8 of the cap at once, so the per-fold work is shared by
    ``cap / 8`` records."""
    records = state.records
    n = len(records) - (plan.cap - plan.cap // 8)
    batch = records[:n]
    del records[:n]
    rids = state.rids
    seen = state.seen
    for rec in batch:
        sid = rec[R_ID]
        del rids[sid]
        seen[sid] = None
    if len(seen) > plan.dedupe:
        for old in list(seen)[: len(seen) - plan.dedupe]:
            del seen[old]
    base = state.base
    newest = batch[-1]
    if base is None:
        base = state.base = Base(batch[0][R_TIME])
        old_day = None
    else:
        old_day = base.horizon_t // DAY_US
    base.horizon_t = newest[R_TIME]
    base.horizon_id = newest[R_ID]
    day = base.horizon_t // DAY_US
    if old_day is None or day > old_day:
        keep = day - plan.window_max_days
        for pairs in (base.days, state.attended):
            if pairs and pairs[0][0] <= keep:
                i = 1
                while i < len(pairs) and pairs[i][0] <= keep:
                    i += 1
                del pairs[:i]
    _fold_into_base(state, base, batch, plan)


def _fold_into_base(state: ProfileState, base: Base, batch: Any, plan: Plan) -> None:
    """Add folded records (already out of ``records``) to the base's days and maxima."""
    oldest = base.horizon_t // DAY_US - plan.window_max_days
    folded_skills = base.skills
    for t, _, _, skills, ev in batch:
        base.first = min(base.first, t)
        day = t // DAY_US
        if day > oldest:
            _bump(base.days, day, 1)
        for k in skills:
            folded = folded_skills.get(k)
            if folded is None:
                folded = folded_skills[k] = [t, None, None, None]
            elif t > folded[0]:
                folded[0] = t
            if ev is not None:
                if folded[1] is None or t > folded[1] or (t == folded[1] and ev > folded[2]):
                    folded[1] = t
                    folded[2] = ev
                if folded[3] is None or ev > folded[3]:
                    folded[3] = ev


def _void(state: ProfileState, sid: str, target: str | None, plan: Plan) -> None:
    _remember(state, sid, plan.dedupe)
    if target is None or target == sid:
        return
    t = state.rids.get(target)
    if t is None:
        if target not in state.seen:
            _remember(state, target, plan.dedupe)
        return
    records = state.records
    i = bisect_left(records, [t, target])
    rec = records.pop(i)
    del state.rids[target]
    _remember(state, target, plan.dedupe)
    _subtract(state, rec, plan)


def _subtract(state: ProfileState, rec: Record, plan: Plan) -> None:
    """Withdraw a kept record from the aggregates (it is already out of ``records``)."""
    t, _, code, skills, ev = rec
    counts = state.counts
    counts[N_STATEMENTS] -= 1
    if code in (COMPLETED, PASSED):
        counts[N_COURSES] -= 1
    elif code == ATTENDED:
        counts[N_EVENTS] -= 1
        _bump(state.attended, t // DAY_US, -1)
    elif code == CERTIFIED:
        counts[N_CERTIFICATIONS] -= 1
    elif code == COLLABORATED:
        counts[N_COLLABORATIONS] -= 1
    if ev is not None and skills:
        counts[N_ASSESSMENTS] -= 1

    week = (t // DAY_US + 3) // 7
    weeks = state.weeks
    i = bisect_left(weeks, [week])
    weeks[i][1] -= 1
    if weeks[i][1] == 0:
        del weeks[i]
        state.streak, state.longest = streaks(weeks)

    base = state.base
    for k in skills:
        agg = state.skills[k]
        agg.touches -= 1
        if agg.touches == 0:
            del state.skills[k]
            continue
        if code in (COMPLETED, PASSED):
            agg.courses -= 1
        elif code == ATTENDED:
            agg.events -= 1
        folded = base.skills.get(k) if base is not None else None
        if t == agg.last:
            times = [r[R_TIME] for r in _kept_with(state, k, 1, evidence=False)]
            agg.last = max(times + ([folded[0]] if folded else []))
        if ev is None:
            continue
        agg.assessed -= 1
        bucket, qs, qe = state.decay.quantize(t, ev)
        bk = agg.buckets.get(bucket)
        if bk is not None:
            bk[0] -= qs
            bk[1] -= qe
            if bk[1] <= 0:
                del agg.buckets[bucket]
        if [t, ev] in agg.recent:
            agg.recent = sorted(
                [r[R_TIME], r[R_SCORE]] for r in _kept_with(state, k, plan.history, evidence=True)
            )
        if agg.best == ev:
            scores = [r[R_SCORE] for r in _kept_with(state, k, len(state.records), evidence=True)]
            if folded and folded[3] is not None:
                scores.append(folded[3])
            agg.best = max(scores) if scores else None


def _kept_with(state: ProfileState, skill: str, limit: int, *, evidence: bool) -> list[Record]:
    """The newest kept records naming ``skill`` (with evidence only, if asked), newest first."""
    out: list[Record] = []
    for r in reversed(state.records):
        if skill in r[R_SKILLS] and (not evidence or r[R_SCORE] is not None):
            out.append(r)
            if len(out) >= limit:
                break
    return out


def streaks(weeks: list[list[int]]) -> tuple[int, int]:
    """(run ending with the last active week, longest run) of a sorted ``[week, n]`` list."""
    run = longest = 0
    prev = None
    for week, _ in weeks:
        run = run + 1 if prev is not None and week == prev + 1 else 1
        longest = max(longest, run)
        prev = week
    return run, longest
