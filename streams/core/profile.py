"""The profile reducer: fold one learning event into a learner's profile state.

``apply`` is the hot path of the pipeline. Every arrival order is handled
incrementally: a statement newer than all kept ones is appended, an older one
is inserted among them (or folded straight into the aggregates when it is
older than everything folded already), and the aggregates it touches are
updated by exact integer arithmetic, so no arrival order needs a recompute.
Milestones are then evaluated where the statement can have changed them: at
the newest statement for an in-order arrival, at the kept statements from
the late one on for an out-of-order one (``streams.core.milestones``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import datetime
from operator import xor
from typing import Any, Final

from schemas.catalog import Catalog
from schemas.events import DERIVED, EventKind, LearningEvent
from schemas.milestones import MilestoneEvent
from streams.core.milestones import evaluate_last, exposed, reevaluate
from streams.core.plan import Plan
from streams.core.rules import Rules
from streams.core.state import (
    ATTENDED,
    CERTIFIED,
    COLLABORATED,
    COMPLETED,
    DAY_US,
    EVIDENCE,
    KEEP_BUCKETS,
    KIND_BITS,
    KIND_CODE,
    N_ASSESSMENTS,
    N_CERTIFICATIONS,
    N_COLLABORATIONS,
    N_COURSES,
    N_EVENTS,
    N_STATEMENTS,
    NO_SCORE,
    OTHER,
    PASSED,
    SKILL_SHIFT,
    ProfileState,
    activity_key,
    bump,
    statement_key,
    to_micros,
)

_VOIDING: Final = EventKind.VOIDING


class _LastPlan:
    """The last ``Rules`` applied and its plan, as one pair (read in one go, so a thread
    never sees one rules' plan under another's). ``Rules.plan`` is a cached property of a
    pydantic model, an attribute look-up through its class per statement; an identity test
    here costs next to nothing (compiled, a ``Final`` instance of a compiled class)."""

    __slots__ = ("pair",)

    def __init__(self) -> None:
        self.pair: tuple[Rules | None, Any] = (None, None)


_LAST_PLAN: Final = _LastPlan()

_Derived = tuple[str, datetime, int, int, int]
"""``schemas.events.DERIVED``: (statement id, time, id high half, low half, micros)."""


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
      makes the statement be ignored when it arrives later; it never retracts
      a milestone, and fires one only by handing an exposure's credit on.
    - An exposure (kind ``other``, no score, naming skills and an activity)
      credits its skills once per (learner, activity): the earliest by event
      time holds the credit, repeats count as activity only. A late earlier
      one takes the credit over while the holder is kept; voiding the holder
      hands it to the next kept repeat. Once the holder is folded it keeps it.
    - Milestones are judged as of event time: a statement older than the
      newest one applied may fire milestones achieved in the past (see
      docs/profiles-and-milestones.md, "Order and determinism").
    - Raises ``ValueError`` when ``state`` belongs to another learner.
    """
    remembered = _LAST_PLAN.pair
    if remembered[0] is rules:
        plan: Plan = remembered[1]
    else:
        plan = rules.plan
        _LAST_PLAN.pair = (rules, plan)
    # A pydantic model keeps its fields in its __dict__: one attribute look-up there, and
    # dict reads, instead of a look-up through the model's __getattr__ hook per field.
    fields = event.__dict__
    learner: str = fields["learner"]
    if state is None:
        state = ProfileState(learner, plan.half_life_days)
    elif state.learner != learner:
        raise ValueError(
            f"event for learner {learner!r} applied to the profile of {state.learner!r}"
        )
    sid: str = fields["statement_id"]
    time: datetime = fields["time"]
    hi = lo = t = 0
    odd = timed = False
    found = fields.get(DERIVED)  # from the native ingest
    if found is not None:
        derived: _Derived = found  # unboxed once: its items read as a C struct's
        if derived[0] is sid and derived[1] is time:
            _, _, hi, lo, t = derived
            timed = True
    if not timed:
        hi, lo, odd = statement_key(sid)
    h = hi ^ lo
    rids = state._rids
    if rids is None:
        rids = state.rids()
    if h in rids:
        return state, []
    seen = state._seen
    if seen is None:
        seen = state.seen_set()
    if h in seen:
        return state, []
    kind: EventKind = fields["kind"]
    if kind is _VOIDING:
        q = _void(state, h, fields["voided_statement_id"], plan)
        if q < 0 or not plan.has_rules:
            return state, []
        handed: list[MilestoneEvent] = []
        reevaluate(
            state, plan, catalog, q, state.kept.rt[q], state.kept.rc[q], False, False, handed
        )
        return state, handed

    if not timed:  # read only now: a duplicate or a voiding event never reads its time
        t = to_micros(time)
    c = KIND_CODE[kind]
    ev = NO_SCORE
    idxs: list[int] = []
    a = 0
    skills: tuple[str, ...] = fields["skills"]
    if skills:
        index = state._index
        if index is None:
            index = state.index()
        mask = 0
        for k in skills:
            i = index.get(k)
            if i is None:
                i = state.skill(k)
            bit = 1 << i
            if not mask & bit:
                mask |= bit
                idxs.append(i)
        score: float | None = fields["score"]
        if score is not None:
            ev = score if score > 0.0 else 0.0
        elif c == CERTIFIED:
            implied = plan.certification_score
            ev = NO_SCORE if implied is None else implied
        elif c == PASSED:
            implied = plan.course_passed_score
            ev = NO_SCORE if implied is None else implied
        c |= mask << SKILL_SHIFT
        if ev >= 0.0:
            c |= EVIDENCE
        elif c & KIND_BITS == OTHER:
            activity: str | None = fields["activity_id"]
            if activity is not None:
                a = activity_key(activity)

    rt = state.kept.rt
    if len(rt) >= plan.cap:
        _fold(state, plan)
    elif not rt and state.folded.horizon is None:  # the learner's first statement
        state.totals.day0 = t // DAY_US
    exposure = c
    if a:
        c = _expose(state, a, t, hi, lo, c)
        if c != exposure:
            idxs = []
    rh = state.kept.rh
    rl = state.kept.rl
    n = len(rt)
    if n:
        last = rt[-1]
        in_order = t > last or (t == last and (hi > rh[-1] or (hi == rh[-1] and lo > rl[-1])))
    else:
        in_order = state.folded.horizon is None or (t, hi, lo) > state.folded.horizon
    out: list[MilestoneEvent] = []
    if in_order:
        rt.append(t)
        rh.append(hi)
        rl.append(lo)
        state.kept.rc.append(c)
        state.kept.rv.append(ev)
        rids[h] = t
        if odd:
            state.kept.odd[(hi, lo)] = sid
        if a:
            state.exposures.expo[h] = [a, exposure, hi, lo]
        quant = state.decay.quantize(t, ev) if c & EVIDENCE else None
        week_new = _add(state, t, c, ev, idxs, quant, plan)
        if plan.has_rules:
            if (
                (quant is not None and plan.on_evidence)
                or (week_new and plan.on_new_week)
                or c & KIND_BITS in plan.on_kinds
                or (idxs and plan.exposures and exposed(state, plan, idxs))
                or plan.always
            ):
                evaluate_last(state, plan, catalog, n, idxs, quant, week_new, out)
        elif quant is not None:
            state._hist = None
        return state, out

    horizon = state.folded.horizon
    if horizon is None or (t, hi, lo) > horizon:
        j = bisect_left(rt, t)
        while j < n and rt[j] == t and (rh[j] < hi or (rh[j] == hi and rl[j] < lo)):
            j += 1
        rt.insert(j, t)
        rh.insert(j, hi)
        rl.insert(j, lo)
        state.kept.rc.insert(j, c)
        state.kept.rv.insert(j, ev)
        rids[h] = t
        if odd:
            state.kept.odd[(hi, lo)] = sid
        if a:
            state.exposures.expo[h] = [a, exposure, hi, lo]
        state._hist = None
        week_new = _add(state, t, c, ev, idxs, None, plan)
        folded = False
    else:
        j = 0
        week_new = _add(state, t, c, ev, idxs, None, plan)
        state.remember((h,), plan.dedupe)
        _fold_late(state, t, c, ev, plan)
        if a and c == exposure:  # credited: the activity's exposure is folded
            state.exposures.expo_folded.add(a)
        folded = True
    if plan.has_rules:
        reevaluate(state, plan, catalog, j, t, c, week_new, folded, out)
    return state, out


def _add(
    state: ProfileState,
    t: int,
    c: int,
    ev: float,
    idxs: list[int],
    quant: tuple[int, int, int] | None,
    plan: Plan,
) -> bool:
    """Add one statement to the aggregates; return whether it made its week active.

    ``quant``: its evidence in fixed point, when already worked out."""
    counts = state.totals.counts
    bump(counts, N_STATEMENTS, 1)
    kind = c & KIND_BITS
    course = kind in (COMPLETED, PASSED)
    attended = kind == ATTENDED
    if course:
        bump(counts, N_COURSES, 1)
    elif attended:
        bump(counts, N_EVENTS, 1)
        day = t // DAY_US
        horizon = state.folded.horizon
        if horizon is None or day > horizon[0] // DAY_US - plan.window_max_days:
            state.bump_attended(day, 1)
    elif kind == CERTIFIED:
        bump(counts, N_CERTIFICATIONS, 1)
    elif kind == COLLABORATED:
        bump(counts, N_COLLABORATIONS, 1)

    if idxs:
        touches = state.skills.touches
        for i in idxs:
            bump(touches, i, 1)
        newest = state._newest
        if newest is not None:
            _note_newest(newest, idxs, t, ev)
        if course:
            for i in idxs:
                bump(state.skills.courses, i, 1)
        elif attended:
            for i in idxs:
                bump(state.skills.events, i, 1)
        if ev >= 0.0:
            bump(counts, N_ASSESSMENTS, 1)
            bucket, qs, qe = quant if quant is not None else state.decay.quantize(t, ev)
            span = state.decay.span
            assessed = state.skills.assessed
            best = state.skills.best
            floors = state.skills.folded_latest_t
            for i in idxs:
                bump(assessed, i, 1)
                if ev > best[i]:  # noqa: PLR1730 - a branch is cheaper than max() here
                    best[i] = ev
                floor = floors[i]
                if not floor or bucket > floor // span - KEEP_BUCKETS:
                    add_mass(state.skills.buckets[i], bucket, qs, qe)
    return _activate(state, (t // DAY_US + 3) // 7)


def _note_newest(
    newest: tuple[list[int], list[int], list[float]], idxs: list[int], t: int, ev: float
) -> None:
    last, latest_t, latest = newest
    for i in idxs:
        last[i] = max(last[i], t)
        if ev >= 0.0:
            if t > latest_t[i]:
                latest_t[i] = t
                latest[i] = ev
            elif t == latest_t[i] and ev > latest[i]:
                latest[i] = ev


def add_mass(flat: list[int], b: int, qs: int, qe: int) -> None:
    """Add to bucket ``b`` of a ``[bucket, mass, weight, ...]`` list kept in bucket order."""
    n = len(flat)
    if n and flat[n - 3] == b:
        bump(flat, n - 2, qs)
        bump(flat, n - 1, qe)
        return
    if not n or b > flat[n - 3]:
        flat += (b, qs, qe)
        return
    k = 0
    while k < n and flat[k] < b:
        k += 3
    if k < n and flat[k] == b:
        bump(flat, k + 1, qs)
        bump(flat, k + 2, qe)
    else:
        flat[k:k] = (b, qs, qe)


def sub_mass(flat: list[int], b: int, qs: int, qe: int) -> None:
    """Take back what ``add_mass`` added (a bucket left without weight goes)."""
    for k in range(0, len(flat), 3):
        if flat[k] == b:
            flat[k + 1] -= qs
            flat[k + 2] -= qe
            if flat[k + 2] <= 0:
                del flat[k : k + 3]
            return


def _activate(state: ProfileState, week: int) -> bool:
    runs = state.totals.runs
    if runs:
        end = runs[-1]
        if week == end:
            return False
        if week == end + 1:
            runs[-1] = week
            state.totals.longest = max(state.totals.longest, week - runs[-2] + 1)
            return True
        if week > end:
            runs += (week, week)
            state.totals.longest = max(state.totals.longest, 1)
            return True
        i = bisect_right(runs, week)
        if i % 2 or runs[i - 1] == week:
            return False
        left = i > 0 and runs[i - 1] == week - 1
        right = runs[i] == week + 1
        if left and right:
            del runs[i - 1 : i + 1]
            i -= 2
        elif left:
            runs[i - 1] = week
            i -= 2
        elif right:
            runs[i] = week
        else:
            runs[i:i] = (week, week)
        state.totals.longest = max(state.totals.longest, runs[i + 1] - runs[i] + 1)
        return True
    runs += (week, week)
    state.totals.longest = 1
    return True


def _deactivate(state: ProfileState, week: int) -> None:
    runs = state.totals.runs
    i = bisect_right(runs, week)
    k = i - 1 if i % 2 else i - 2
    first, last = runs[k], runs[k + 1]
    if first == last:
        del runs[k : k + 2]
    elif week == first:
        runs[k] = week + 1
    elif week == last:
        runs[k + 1] = week - 1
    else:
        runs[k + 1 : k + 1] = (week - 1, week + 1)
    state.totals.longest = max(
        (runs[m + 1] - runs[m] + 1 for m in range(0, len(runs), 2)), default=0
    )


def _fold(state: ProfileState, plan: Plan) -> None:
    """The evidence cap is reached: fold the oldest kept statements into the aggregates.

    Folds down to 7/8 of the cap at once, so the per-fold work is shared by
    ``cap / 8`` statements."""
    rt = state.kept.rt
    m = len(rt) - plan.keep
    if m <= 0:
        return
    rh, rl, rc, rv = state.kept.rh, state.kept.rl, state.kept.rc, state.kept.rv
    previous = state.folded.horizon
    if previous is None:
        state.folded.first_t = rt[0]
    horizon = state.folded.horizon = (rt[m - 1], rh[m - 1], rl[m - 1])
    hashes = list(map(xor, rh[:m], rl[:m]))
    rids = state.rids()
    for h in hashes:
        del rids[h]
    state.remember(hashes, plan.dedupe)
    expo = state.exposures.expo
    if expo:
        for i in range(m):
            held = expo.pop(hashes[i], None)
            if held is not None and rc[i] >> SKILL_SHIFT:
                state.exposures.expo_folded.add(held[0])
    odd = state.kept.odd
    if odd:
        for i in range(m):
            odd.pop((rh[i], rl[i]), None)
    day_floor = horizon[0] // DAY_US - plan.window_max_days
    run_day = day_floor
    run = 0
    for t in rt[:m]:
        day = t // DAY_US
        if day == run_day:
            run += 1
        elif day > day_floor:
            if run:
                state.bump_day(run_day, run)
            run_day = day
            run = 1
    if run:
        state.bump_day(run_day, run)
    depth = plan.history - 1
    day0 = state.totals.day0
    last = state.skills.folded_last
    latest_t = state.skills.folded_latest_t
    latest = state.skills.folded_latest
    best = state.skills.folded_best
    tails = state.skills.tails
    for i in range(m):
        mask = rc[i] >> SKILL_SHIFT
        if not mask:
            continue
        t = rt[i]
        ev = rv[i]
        while mask:
            low = mask & -mask
            k = low.bit_length() - 1
            mask ^= low
            if t > last[k]:  # noqa: PLR1730 - a branch is cheaper than max() here
                last[k] = t
            if ev >= 0.0:
                if ev > best[k]:  # noqa: PLR1730
                    best[k] = ev
                if t > latest_t[k]:
                    latest_t[k] = t
                    latest[k] = ev
                elif ev > latest[k]:  # at one time, the higher score
                    latest[k] = ev
                push_tail(tails[k], t // DAY_US - day0, ev, depth)
    del rt[:m], rh[:m], rl[:m], rc[:m], rv[:m]
    state._folds += m
    if previous is None or horizon[0] // DAY_US > previous[0] // DAY_US:
        keep = day_floor + 1
        state.forget_attended(keep)
        if state.folded.fold_days and state.folded.fold_day0 < keep:
            del state.folded.fold_days[: keep - state.folded.fold_day0]
            state.folded.fold_day0 = keep
        span = state.decay.span
        for k, flat in enumerate(state.skills.buckets):
            if len(flat) > 3 and latest_t[k]:
                floor = latest_t[k] // span - KEEP_BUCKETS
                while flat and flat[0] <= floor:
                    del flat[:3]


def _fold_late(state: ProfileState, t: int, c: int, ev: float, plan: Plan) -> None:
    """Fold a late statement, older than every folded one, straight into the aggregates."""
    horizon = state.folded.horizon
    assert horizon is not None
    state.folded.first_t = min(state.folded.first_t, t)
    day = t // DAY_US
    if day > horizon[0] // DAY_US - plan.window_max_days:
        state.bump_day(day, 1)
    mask = c >> SKILL_SHIFT
    depth = plan.history - 1
    while mask:
        low = mask & -mask
        k = low.bit_length() - 1
        mask ^= low
        state.skills.folded_last[k] = max(state.skills.folded_last[k], t)
        if ev < 0.0:
            continue
        state.skills.folded_best[k] = max(state.skills.folded_best[k], ev)
        latest_t = state.skills.folded_latest_t[k]
        if t > latest_t or not latest_t:
            state.skills.folded_latest_t[k] = t
            state.skills.folded_latest[k] = ev
            push_tail(state.skills.tails[k], day - state.totals.day0, ev, depth)
        else:
            if t == latest_t and ev > state.skills.folded_latest[k]:
                state.skills.folded_latest[k] = ev
            insert_tail(state.skills.tails[k], day - state.totals.day0, ev, depth)


def push_tail(tail: list[Any], day: int, score: float, depth: int) -> None:
    """Add the newest folded evidence score to a skill's folded score history.

    The history answers one question: the lowest of the last ``depth``
    scores on or after a given day. ``tail`` is ``[count, index, day, score,
    ...]``: how many scores were folded, then, oldest first, only the scores
    lower than every newer one (no other can be that lowest), each with its
    index in folding order (position from the newest: ``count - 1 - index``).
    """
    if not tail:
        tail.append(0)
    count = tail[0]
    k = len(tail)
    while k > 1 and tail[k - 1] >= score:
        k -= 3
    del tail[k:]
    tail += (count, day, score)
    tail[0] = count + 1
    while len(tail) > 1 and tail[1] <= count - depth:
        del tail[1:4]


def insert_tail(tail: list[Any], day: int, score: float, depth: int) -> None:
    """Add a folded score older than the newest one (a statement older than every
    kept one). Scores dropped from the history are no longer known, so its place is
    estimated from the days of those kept: just before the oldest on a later day."""
    if len(tail) < 4:
        push_tail(tail, day, score, depth)
        return
    count = tail[0]
    first_newer = len(tail)
    newer_low = None
    k = len(tail) - 3
    while k >= 1 and tail[k + 1] > day:
        if newer_low is None or tail[k + 2] < newer_low:
            newer_low = tail[k + 2]
        first_newer = k
        k -= 3
    if first_newer == len(tail):
        push_tail(tail, day, score, depth)
        return
    index = tail[first_newer]
    for m in range(first_newer, len(tail), 3):
        tail[m] += 1
    older = tail[1:first_newer]
    while older and older[-1] >= score:
        del older[-3:]
    mine = [index, day, score] if newer_low is None or score < newer_low else []
    tail[1:] = older + mine + tail[first_newer:]
    tail[0] = count + 1
    while len(tail) > 1 and tail[1] <= count - depth:
        del tail[1:4]


def _void(state: ProfileState, h: int, target: str | None, plan: Plan) -> int:
    """Withdraw the voided statement; return the kept position of the repeat exposure it
    handed its credit to, else -1."""
    state.remember((h,), plan.dedupe)
    if target is None:
        return -1
    hi, lo, _ = statement_key(target)
    th = hi ^ lo
    if th == h:
        return -1
    rids = state.rids()
    t = rids.get(th)
    if t is None:
        if th not in state.seen_set():
            state.remember((th,), plan.dedupe)
        return -1
    i = state.position(t, hi, lo)
    del state.kept.rt[i], state.kept.rh[i], state.kept.rl[i]
    c = state.kept.rc.pop(i)
    ev = state.kept.rv.pop(i)
    del rids[th]
    if state.kept.odd:
        state.kept.odd.pop((hi, lo), None)
    state.remember((th,), plan.dedupe)
    state._hist = None
    state._newest = None
    _subtract(state, i, t, c, ev)
    expo = state.exposures.expo
    if expo:
        held = expo.pop(th, None)
        if held is not None and c >> SKILL_SHIFT:
            heir = _holder(state, held[0])
            if heir is not None:
                q = state.position(*heir)
                _recode(state, q, expo[heir[1] ^ heir[2]][1])
                return q
    return -1


def _expose(state: ProfileState, a: int, t: int, hi: int, lo: int, c: int) -> int:
    """The code an exposure to activity ``a`` (key ``t, hi, lo``, code ``c``) is applied
    with: ``c`` when it is the earliest exposure to ``a`` kept or folded, else plain
    activity. Earlier than the kept holder, it takes the credit over from it."""
    plain = c & KIND_BITS
    if a in state.exposures.expo_folded:
        return plain
    holder = _holder(state, a)
    if holder is not None:
        if holder < (t, hi, lo):
            return plain
        _recode(state, state.position(*holder), plain)
    return c


def _holder(state: ProfileState, a: int) -> tuple[int, int, int] | None:
    """Key of the earliest kept exposure to activity ``a`` (the one holding the credit)."""
    rids = state.rids()
    best: tuple[int, int, int] | None = None
    for h, held in state.exposures.expo.items():
        if held[0] == a:
            key = (rids[h], held[2], held[3])
            if best is None or key < best:
                best = key
    return best


def _recode(state: ProfileState, i: int, code: int) -> None:
    """Give kept exposure ``i`` the skills of ``code`` in place of its own (an exposure's
    skills count in ``touches`` alone, besides its code)."""
    rc = state.kept.rc
    touches = state.skills.touches
    old = rc[i] >> SKILL_SHIFT
    new = code >> SKILL_SHIFT
    rc[i] = code
    for mask, by in ((old, -1), (new, 1)):
        while mask:
            low = mask & -mask
            touches[low.bit_length() - 1] += by
            mask ^= low
    state._newest = None  # (no evidence moves: the score history stands)


def _subtract(state: ProfileState, i: int, t: int, c: int, ev: float) -> None:
    """Withdraw a kept statement (just taken out at position ``i``) from the aggregates."""
    counts = state.totals.counts
    counts[N_STATEMENTS] -= 1
    kind = c & KIND_BITS
    course = kind in (COMPLETED, PASSED)
    attended = kind == ATTENDED
    if course:
        counts[N_COURSES] -= 1
    elif attended:
        counts[N_EVENTS] -= 1
        state.bump_attended(t // DAY_US, -1)
    elif kind == CERTIFIED:
        counts[N_CERTIFICATIONS] -= 1
    elif kind == COLLABORATED:
        counts[N_COLLABORATIONS] -= 1
    evidence = c & EVIDENCE
    if evidence:
        counts[N_ASSESSMENTS] -= 1

    week = (t // DAY_US + 3) // 7
    rt = state.kept.rt
    horizon = state.folded.horizon
    if not (
        (i > 0 and (rt[i - 1] // DAY_US + 3) // 7 == week)
        or (i < len(rt) and (rt[i] // DAY_US + 3) // 7 == week)
        or (horizon is not None and (horizon[0] // DAY_US + 3) // 7 == week)
    ):
        _deactivate(state, week)

    mask = c >> SKILL_SHIFT
    quant = state.decay.quantize(t, ev) if evidence else None
    while mask:
        low = mask & -mask
        k = low.bit_length() - 1
        mask ^= low
        state.skills.touches[k] -= 1
        if course:
            state.skills.courses[k] -= 1
        elif attended:
            state.skills.events[k] -= 1
        if quant is None:
            continue
        state.skills.assessed[k] -= 1
        sub_mass(state.skills.buckets[k], *quant)
        if ev == state.skills.best[k]:
            bit = low << SKILL_SHIFT
            best = state.skills.folded_best[k]
            for code, score in zip(state.kept.rc, state.kept.rv, strict=True):
                if code & bit and score > best:
                    best = score
            state.skills.best[k] = best
