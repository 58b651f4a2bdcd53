"""The pipeline's two pure steps, shared by the stream worker and the offline mode.

``Ingest.record`` turns the bytes of one input record into learning events, a
dead letter, or a counted skip. ``Profiles.apply_batch`` folds one learner's
events into that learner's state and returns the milestones and the snapshot.
Neither touches Kafka, a table or a file: the worker and ``skillstream
offline`` feed them, so both give the same answers for the same input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.catalog import Catalog
from schemas.deadletter import DeadLetter, Problem, SourcePosition
from schemas.events import LearningEvent
from schemas.milestones import MilestoneEvent
from schemas.normalize import Ignored, NativeIngest, credits, normalize
from schemas.profiles import ProfileSnapshot
from schemas.vocabulary import Vocabulary
from schemas.xapi import StatementProblem, parse_statement
from streams.core import ProfileState, Rules, apply, decode_state, encode_state, snapshot


@dataclass(slots=True)
class IngestCounts:
    """What ingest did with its input, for progress lines, metrics and summaries."""

    records: int = 0
    valid: int = 0
    dead_lettered: int = 0
    events: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    credited: int = 0
    """Statements whose events name at least one skill (voiding statements aside)."""
    uncredited: int = 0
    """Statements normalised into events that name no skill: the catalog's gaps."""

    def add(self, other: IngestCounts) -> None:
        self.records += other.records
        self.valid += other.valid
        self.dead_lettered += other.dead_lettered
        self.events += other.events
        self.credited += other.credited
        self.uncredited += other.uncredited
        for code, n in other.ignored.items():
            self.ignored[code] = self.ignored.get(code, 0) + n


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that failed validation: every problem, for the dead-letter topic."""

    problems: tuple[StatementProblem, ...]


class Ingest:
    """Validate and normalize input records against the current catalog and vocabulary."""

    def __init__(
        self,
        catalog: Catalog,
        vocabulary: Vocabulary,
        secret: bytes,
        default_version: str = "2.0.0",
        max_bytes: int = 1_000_000,
    ) -> None:
        self.catalog = catalog
        self.vocabulary = vocabulary
        self.secret = secret
        self.default_version = default_version
        self.max_bytes = max_bytes
        self.counts = IngestCounts()
        self.fast: NativeIngest | None = (
            NativeIngest(catalog, vocabulary, secret) if NativeIngest.available(secret) else None
        )
        """Validation and normalisation in one native read, for the records it takes."""

    def record(
        self,
        raw: bytes,
        header_version: str | None = None,
        fallback_time: datetime | int | None = None,
    ) -> tuple[LearningEvent, ...] | Rejected | Ignored:
        """One input record's fate. Counts are kept in ``self.counts``.

        Never raises: whatever goes wrong with one record — a bug of skillstream's
        included — makes that record a dead letter with the reason (code
        ``internal``), so no single record can stop a stage.
        """
        counts = self.counts
        counts.records += 1
        try:
            outcome = None
            fast = self.fast
            if fast is not None and type(raw) is bytes and len(raw) <= self.max_bytes:
                try:
                    outcome = fast(raw, header_version, self.default_version, fallback_time)
                except Exception:  # noqa: BLE001 - the Python path decides, and reports
                    outcome = None
            if outcome is None:
                statement, _, problems = parse_statement(
                    raw, header_version, self.default_version, self.max_bytes
                )
                if problems or statement is None:
                    counts.dead_lettered += 1
                    return Rejected(tuple(problems))
                outcome = normalize(
                    statement, self.catalog, self.vocabulary, self.secret, fallback_time
                )
        except Exception as exc:  # noqa: BLE001 - any failure of one record is that record's
            counts.dead_lettered += 1
            return Rejected((internal_problem(exc),))
        counts.valid += 1
        if isinstance(outcome, Ignored):
            counts.ignored[outcome.code] = counts.ignored.get(outcome.code, 0) + 1
            return outcome
        counts.events += len(outcome)
        credited = credits(outcome)
        if credited is not None:
            if credited:
                counts.credited += 1
            else:
                counts.uncredited += 1
        return outcome


def internal_problem(exc: BaseException) -> StatementProblem:
    """What a dead letter says when skillstream itself failed on a record."""
    detail = str(exc).splitlines()[0][:300] if str(exc) else ""
    return StatementProblem(
        "$",
        f"skillstream could not process this record ({type(exc).__name__}"
        f"{': ' + detail if detail else ''}); it is kept here so that nothing is lost — "
        "please report it, and reprocess it once skillstream is fixed",
        "internal",
    )


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
