"""The published view of a profile state: ``ProfileSnapshot``.

Every figure is read from the exact aggregates (integer counts, fixed-point
decayed sums, maxima), never from a running float, so the snapshot of the
same set of statements is the same whatever order they arrived in.
Proficiency and scores are rounded to 4 places.
"""

from __future__ import annotations

from bisect import bisect_left
from operator import itemgetter

from schemas.catalog import Catalog
from schemas.profiles import PROFILE_SNAPSHOT_VERSION, ProfileSnapshot, SkillSnapshot
from streams.core.contracts import trusted
from streams.core.milestones import proficiency, round4
from streams.core.rules import Rules
from streams.core.state import (
    DAY_US,
    N_ASSESSMENTS,
    N_CERTIFICATIONS,
    N_COLLABORATIONS,
    N_COURSES,
    N_EVENTS,
    N_STATEMENTS,
    ProfileState,
    from_micros,
)

_COUNT = itemgetter(1)


def snapshot(state: ProfileState, catalog: Catalog, rules: Rules) -> ProfileSnapshot:
    """The snapshot of ``state`` as of its newest event time.

    Categories come from ``catalog`` as it is now; the window is the rules'
    ``window_days``. Raises ``ValueError`` for a state with no statement
    applied (``state.active`` is false: it only remembers a pending voiding).
    """
    now = state.newest
    plan = rules.plan
    window = plan.window_days
    cut = now // DAY_US - window + 1
    attended = state.attended
    events_in_window = sum(map(_COUNT, attended[bisect_left(attended, [cut]) :]))
    records = state.records
    activity_in_window = len(records) - bisect_left(records, [cut * DAY_US])
    base = state.base
    if base is not None:
        days = base.days
        activity_in_window += sum(map(_COUNT, days[bisect_left(days, [cut]) :]))

    skills = []
    for k in sorted(state.skills):
        agg = state.skills[k]
        if agg.recent:
            latest: float | None = agg.recent[-1][1]
        else:
            folded = base.skills.get(k) if base is not None else None
            latest = folded[2] if folded is not None else None
        skills.append(
            trusted(
                SkillSnapshot,
                {
                    "skill": k,
                    "category": catalog.category(k),
                    "proficiency": proficiency(state, agg, now, plan.prior_weight),
                    "assessments": agg.assessed,
                    "latest_score": None if latest is None else round4(latest),
                    "best_score": None if agg.best is None else round4(agg.best),
                    "courses_completed": agg.courses,
                    "events_attended": agg.events,
                    "last_activity": from_micros(agg.last),
                },
            )
        )
    counts = state.counts
    return trusted(
        ProfileSnapshot,
        {
            "version": PROFILE_SNAPSHOT_VERSION,
            "learner": state.learner,
            "as_of": from_micros(now),
            "first_activity": from_micros(state.first),
            "statements": counts[N_STATEMENTS],
            "courses_completed": counts[N_COURSES],
            "events_attended": counts[N_EVENTS],
            "assessments": counts[N_ASSESSMENTS],
            "certifications": counts[N_CERTIFICATIONS],
            "collaborations": counts[N_COLLABORATIONS],
            "weekly_streak": state.streak,
            "longest_streak": state.longest,
            "window_days": window,
            "events_in_window": events_in_window,
            "activity_in_window": activity_in_window,
            "skills": tuple(skills),
            "milestones": tuple(sorted(state.fired.values())),
        },
    )
