"""Profile states the core builds from fixed events, for the codec's older formats.

``data/state-format-3.json`` holds each case as ``encode_state`` wrote it in format 3 (and
the ``plain`` case also in format 2, which had no exposures), made by the format-3 encoder
from these very events. ``test_state_formats.py`` reads them with today's ``decode_state``
and holds them equal to the state the core builds from the events now.
"""

from __future__ import annotations

from collections.abc import Callable

from core_helpers import default_data, event, long_history, run, voiding, watched

from schemas.events import EventKind
from streams.core import ProfileState, Rules

OTHER = EventKind.OTHER


def plain() -> ProfileState:
    """An assessment and an activity: no exposure (the format-2 case)."""
    return run([event("a", score=0.5), event("b", OTHER, 1)])[0]


def capped() -> ProfileState:
    """Mixed kinds past a small evidence cap: folded statements, tails, runs, attendances."""
    return run(long_history(200), Rules(evidence_cap=16))[0]


def wide() -> ProfileState:
    """More skills than a 64-bit code holds, more statements a day than a byte counts, ids
    that are not UUIDs and a pending voiding."""
    events = [
        event(f"s{i}", days=i / 1000, skills=(f"skill-{i % 70}",), score=(i % 10) / 10)
        for i in range(400)
    ]
    return run([*events, voiding("v", "later")], Rules(evidence_cap=4, dedupe_memory=8))[0]


def exposures() -> ProfileState:
    """Videos watched, some repeated, some folded: kept and folded exposures."""
    events = [
        watched("a", "intro", 1),
        watched("b", "other", 2),
        watched("c", "third", 2.5),
        watched("d", "intro", 3),
        watched("e", "fourth", 4),
    ]
    return run(events, Rules(evidence_cap=3))[0]


def achiever() -> ProfileState:
    """The default rules over ten weeks of assessments, courses and events: milestones
    achieved, statements folded."""
    kinds = [EventKind.SKILL_ASSESSED, EventKind.COURSE_COMPLETED, EventKind.EVENT_ATTENDED]
    events = [
        event(
            f"m{i:03d}",
            kinds[i % 3],
            i * 1.7,
            ("python", "communication")[i % 2 :],
            score=0.9 if i % 3 == 0 else None,
        )
        for i in range(40)
    ]
    data = default_data()
    data["evidence_cap"] = 8
    return run(events, Rules.from_data(data))[0]


CASES: dict[str, Callable[[], ProfileState]] = {
    "achiever": achiever,
    "plain": plain,
    "capped": capped,
    "wide": wide,
    "exposures": exposures,
}
