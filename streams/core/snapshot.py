"""The published view of a profile state: ``ProfileSnapshot``.

Every figure is read from the exact aggregates (integer counts, fixed-point
decayed sums, maxima) and the kept statements, never from a running float,
so the snapshot of the same set of statements is the same whatever order
they arrived in. Proficiency and scores are rounded to 4 places.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Final

import orjson

from schemas.catalog import Catalog
from schemas.profiles import PROFILE_SNAPSHOT_VERSION, ProfileSnapshot, SkillSnapshot
from schemas.trusted import trusted
from streams.core.milestones import level_of
from streams.core.rules import Rules
from streams.core.state import (
    DAY_US,
    EVIDENCE,
    N_ASSESSMENTS,
    N_CERTIFICATIONS,
    N_COLLABORATIONS,
    N_COURSES,
    N_EVENTS,
    N_STATEMENTS,
    SCALE,
    SKILL_SHIFT,
    ProfileState,
    from_micros,
)


def snapshot(state: ProfileState, catalog: Catalog, rules: Rules) -> ProfileSnapshot:
    """The snapshot of ``state`` as of its newest event time.

    Categories come from ``catalog`` as it is now; the window is the rules'
    ``window_days``. Raises ``ValueError`` for a state with no statement
    applied (``state.active`` is false: it only remembers a pending voiding).
    """
    values = _values(state, catalog, rules, False)
    values["skills"] = tuple([_skill_view(skill) for skill in values["skills"]])
    return trusted(ProfileSnapshot, values)


def snapshot_json(state: ProfileState, catalog: Catalog, rules: Rules) -> bytes:
    """``snapshot(...).model_dump_json()``, byte for byte, without building the models:
    what the profile stage publishes once per changed learner and flush."""
    return orjson.dumps(_values(state, catalog, rules, True), option=orjson.OPT_UTC_Z)


_ISO: Final[dict[int, str]] = {}
"""Times already written as JSON text (a skill's last activity recurs flush after flush)."""


def _iso(t: int) -> str:
    """The JSON text orjson writes for ``from_micros(t)``: building a datetime per skill was
    a third of a snapshot's cost."""
    text = _ISO.get(t)
    if text is None:
        if len(_ISO) >= 1 << 16:
            _ISO.clear()
        text = _ISO[t] = orjson.dumps(from_micros(t), option=orjson.OPT_UTC_Z)[1:-1].decode()
    return text


def _values(state: ProfileState, catalog: Catalog, rules: Rules, text: bool) -> dict[str, Any]:
    """The snapshot's fields, in the order of ``ProfileSnapshot`` (the JSON's order); its
    skills as plain dicts in the order of ``SkillSnapshot``; times as datetimes, or as
    their JSON text when ``text``."""
    now = state.newest
    plan = rules.plan
    window = plan.window_days
    cut = now // DAY_US - window + 1
    events_in_window = state.attended_since(cut)
    rt = state.kept.rt
    activity_in_window = len(rt) - bisect_left(rt, cut * DAY_US)
    days = state.folded.fold_days
    if days:
        start = cut - state.folded.fold_day0
        activity_in_window += sum(days[start:] if start > 0 else days)

    newest = state._newest
    if newest is None:
        newest = state._newest = (
            state.skills.folded_last[:],
            state.skills.folded_latest_t[:],
            state.skills.folded_latest[:],
        )
        _scan_kept(state, newest[0], newest[1], newest[2])  # compiled: a direct call
    last, _, latest = newest

    decay = state.decay
    prior_q = plan.prior_weight * SCALE
    names = state.skills.names
    categories = catalog.categories
    touches = state.skills.touches
    assessed = state.skills.assessed
    courses = state.skills.courses
    events = state.skills.events
    buckets = state.skills.buckets
    best_of = state.skills.best
    skills = []
    for i in sorted(range(len(names)), key=names.__getitem__):
        if touches[i] <= 0:
            continue
        name = names[i]
        score = latest[i]
        best = best_of[i]
        skills.append(
            {
                "skill": name,
                "category": categories.get(name),
                "proficiency": level_of(decay, buckets[i], now, prior_q),
                "assessments": assessed[i],
                "latest_score": None if score < 0.0 else int(score * 10000.0 + 0.5) / 10000.0,
                "best_score": None if best < 0.0 else int(best * 10000.0 + 0.5) / 10000.0,
                "courses_completed": courses[i],
                "events_attended": events[i],
                "last_activity": _iso(last[i]) if text else from_micros(last[i]),
            }
        )
    counts = state.totals.counts
    runs = state.totals.runs
    return {
        "version": PROFILE_SNAPSHOT_VERSION,
        "learner": state.learner,
        "as_of": _iso(now) if text else from_micros(now),
        "first_activity": _iso(state.first) if text else from_micros(state.first),
        "statements": counts[N_STATEMENTS],
        "courses_completed": counts[N_COURSES],
        "events_attended": counts[N_EVENTS],
        "assessments": counts[N_ASSESSMENTS],
        "certifications": counts[N_CERTIFICATIONS],
        "collaborations": counts[N_COLLABORATIONS],
        "weekly_streak": runs[-1] - runs[-2] + 1 if runs else 0,
        "longest_streak": state.totals.longest,
        "window_days": window,
        "events_in_window": events_in_window,
        "activity_in_window": activity_in_window,
        "skills": skills,
        "milestones": state.achieved,
    }


def _skill_view(values: dict[str, Any]) -> SkillSnapshot:
    return trusted(SkillSnapshot, values)


def _scan_kept(
    state: ProfileState, last: list[int], latest_t: list[int], latest: list[float]
) -> None:
    """Newest first through the kept statements: each skill's newest statement, and
    its newest evidence (at one time, the highest score). Stops once all are found."""
    rt, rc, rv = state.kept.rt, state.kept.rc, state.kept.rv
    want_last = 0
    want_score = 0
    touches, assessed = state.skills.touches, state.skills.assessed
    for i in range(len(touches)):  # compiled: indexed reads, where zip is a Python call
        if touches[i] > 0:
            want_last |= 1 << i
        if assessed[i] > 0:
            want_score |= 1 << i
    ties = 0
    tie_t = -1
    i = len(rt) - 1
    while i >= 0 and (want_last or want_score or ties):
        c = rc[i]
        t = rt[i]
        mask = c >> SKILL_SHIFT
        if t != tie_t:
            ties = 0
            tie_t = t
        hit = mask & want_last
        if hit:
            want_last &= ~hit
            while hit:
                low = hit & -hit
                hit ^= low
                last[low.bit_length() - 1] = t
        if c & EVIDENCE and mask & (want_score | ties):
            score = rv[i]
            hit = mask & want_score
            want_score &= ~hit
            ties |= hit
            hit = mask & ties
            while hit:
                low = hit & -hit
                hit ^= low
                k = low.bit_length() - 1
                if t > latest_t[k]:
                    latest_t[k] = t
                    latest[k] = score
                elif t == latest_t[k] and score > latest[k]:
                    latest[k] = score
        i -= 1
