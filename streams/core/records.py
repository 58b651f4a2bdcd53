"""The offline run's first pass: records through ingest and the core, in order.

``streams.offline.run_offline`` calls ``first_pass``; this module is compiled with mypyc
(``streams.core.COMPILED_MODULES``) because the loop runs once per record, and
interpreted it cost about as much as ingest's own Python side. What to do with what the
pass leaves (dead letters, the learners the core failed on, snapshots) stays in
``streams.offline``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.catalog import Catalog
from schemas.events import LearningEvent
from schemas.ingest import Ingest, Rejected
from schemas.milestones import MilestoneEvent
from streams.core.profile import apply
from streams.core.rules import Rules
from streams.core.state import ProfileState

ApplyEvent = Callable[
    [ProfileState | None, LearningEvent, Catalog, Rules],
    tuple[ProfileState, list[MilestoneEvent]],
]
"""``streams.core.apply``, or what the caller runs in its place."""


class FirstPass:
    """What ``first_pass`` made: the states, the milestones in the order they fired, the
    records ingest rejected (offset, bytes, why) and the learners the core failed on."""

    def __init__(self) -> None:
        self.states: dict[str, ProfileState] = {}
        self.milestones: list[MilestoneEvent] = []
        self.rejected: list[tuple[int, Any, Rejected]] = []
        self.broken: set[str] = set()


def first_pass(
    records: list[Any],
    ingest: Ingest,
    catalog: Catalog,
    rules: Rules,
    apply_event: ApplyEvent,
    on_record: Callable[[int], None] | None = None,
) -> FirstPass:
    """Each record through ``ingest`` and each of its events through ``apply_event``.
    Records are typed ``Any``: ``Ingest.record`` decides what a record of another type is,
    as it does in pure Python.

    An event the core fails on (a bug of skillstream's) marks its learner broken: the
    learner's later events are passed over here, for the caller to do again one at a
    time. ``on_record`` is told each record's size (its bytes and a newline)."""
    done = FirstPass()
    states, milestones, broken = done.states, done.milestones, done.broken
    # the core's own apply, called as the compiled function it is, where a call of the
    # argument goes through Python's calling convention
    direct = apply_event is apply
    for offset, raw in enumerate(records):
        outcome = ingest.record(raw)
        if isinstance(outcome, tuple):
            for event in outcome:
                learner = event.learner
                if broken and learner in broken:
                    continue
                try:
                    if direct:
                        state, fired = apply(states.get(learner), event, catalog, rules)
                    else:
                        state, fired = apply_event(states.get(learner), event, catalog, rules)
                except Exception:  # noqa: BLE001 - the learner is done again in a second pass
                    broken.add(learner)
                    continue
                states[learner] = state
                if fired:
                    milestones.extend(fired)
        elif isinstance(outcome, Rejected):
            done.rejected.append((offset, raw, outcome))
        if on_record is not None:
            on_record(len(raw) + 1)
    return done
