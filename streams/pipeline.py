"""The pipeline's two pure steps, shared by the stream worker and the offline mode.

``Ingest.record`` (:mod:`schemas.ingest`, compiled, re-exported here) turns the bytes
of one input record into learning events, a dead letter, or a counted skip.
``Profiles.apply_batch`` folds one learner's events into that learner's state and
returns the milestones and the snapshot. Neither touches Kafka, a table or a file: the
worker and ``skillstream offline`` feed them, so both give the same answers for the same
input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.catalog import Catalog
from schemas.deadletter import DeadLetter, Problem, SourcePosition
from schemas.events import LearningEvent
from schemas.ingest import Ingest, IngestCounts, Rejected, internal_problem
from schemas.milestones import MilestoneEvent
from schemas.profiles import ProfileSnapshot
from streams.core import ProfileState, Rules, apply, decode_state, encode_state, snapshot

__all__ = [
    "Failed",
    "Ingest",
    "IngestCounts",
    "LearnerOutcome",
    "Profiles",
    "Rejected",
    "apply_each",
    "by_learner",
    "dead_letter",
    "internal_problem",
]


def dead_letter(
    raw: bytes,
    rejected: Rejected,
    source: SourcePosition,
    header_version: str | None,
    now: datetime | None = None,
) -> DeadLetter:
    return DeadLetter(
        source=source,
        original_b64=DeadLetter.encode(raw),
        xapi_version_header=header_version,
        errors=tuple(
            Problem(path=p.path, message=p.message, code=p.code) for p in rejected.problems
        ),
        dead_lettered_at=now or datetime.now(UTC),
    )


@dataclass(slots=True)
class LearnerOutcome:
    state: ProfileState
    milestones: list[MilestoneEvent]
    triggers: list[int]
    """Per milestone: the index of the event that fired it."""
    snapshot: ProfileSnapshot | None
    """None while the learner has nothing applied (only a voiding seen so far)."""


class Profiles:
    """Fold events into profile states under the current catalog and rules."""

    def __init__(self, catalog: Catalog, rules: Rules) -> None:
        self.catalog = catalog
        self.rules = rules

    def apply_batch(
        self,
        state: ProfileState | None,
        events: Sequence[LearningEvent],
        *,
        with_snapshot: bool = True,
    ) -> LearnerOutcome:
        """Apply one learner's events in order; snapshot once at the end (unless told not
        to: the profile stage snapshots once per flush, not once per batch).

        The snapshot is returned even when every event was a duplicate: after a
        crash the re-read batch must publish what the lost one may not have.
        """
        milestones: list[MilestoneEvent] = []
        triggers: list[int] = []
        for i, event in enumerate(events):
            state, fired = apply(state, event, self.catalog, self.rules)
            if fired:
                milestones.extend(fired)
                triggers.extend([i] * len(fired))
        assert state is not None  # events is never empty
        view = snapshot(state, self.catalog, self.rules) if with_snapshot and state.active else None
        return LearnerOutcome(state, milestones, triggers, view)


@dataclass(slots=True)
class Failed:
    """An event the core could not apply: which one (its index in the batch) and why."""

    index: int
    error: BaseException


def apply_each(
    profiles: Profiles, state: ProfileState | None, events: Sequence[LearningEvent]
) -> tuple[LearnerOutcome | None, list[Failed]]:
    """``apply_batch``, one event at a time, for a batch that made the core fail.

    ``state`` must be the learner's state from before the batch (the core mutates the
    state it is given, so the caller re-reads it). An event that fails again is left out
    and reported, with the state as it was before it; the rest are applied in order. The
    outcome is None when nothing could be applied to a learner without state. Slower than
    ``apply_batch`` (the state is encoded before each event): only for the failure path.
    """
    milestones: list[MilestoneEvent] = []
    triggers: list[int] = []
    failed: list[Failed] = []
    for i, event in enumerate(events):
        saved = None if state is None else encode_state(state)
        try:
            state, fired = apply(state, event, profiles.catalog, profiles.rules)
        except Exception as exc:  # noqa: BLE001 - the event is reported, the rest go on
            failed.append(Failed(i, exc))
            state = None if saved is None else decode_state(saved)
            continue
        milestones.extend(fired)
        triggers.extend([i] * len(fired))
    if state is None:
        return None, failed
    view = None
    if state.active:
        try:
            view = snapshot(state, profiles.catalog, profiles.rules)
        except Exception as exc:  # noqa: BLE001 - the state is kept; its snapshot comes later
            failed.append(Failed(-1, exc))
    return LearnerOutcome(state, milestones, triggers, view), failed


def by_learner(events: Iterable[LearningEvent]) -> dict[str, list[LearningEvent]]:
    """Group events per learner, keeping each learner's order."""
    out: dict[str, list[LearningEvent]] = {}
    for event in events:
        bucket = out.get(event.learner)
        if bucket is None:
            out[event.learner] = [event]
        else:
            bucket.append(event)
    return out
