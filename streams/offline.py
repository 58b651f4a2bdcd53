"""Offline mode: the same pure core over a file, with no broker.

``skillstream offline`` is the reference the stream must agree with: it feeds
the records of a JSON Lines file, in file order, through the very
``Ingest`` and ``Profiles`` steps the worker uses. A learner's events reach
the core in the same order as in the stream when statements are published
keyed by learner (``skillstream publish`` does), so the final profiles and the
milestone ids are the same.

A statement with neither ``timestamp`` nor ``stored`` gets the Kafka record
time in the stream (as an LRS would set ``stored``); a file has no such time,
so offline skips it as ``no_time``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from schemas.catalog import Catalog
from schemas.deadletter import DeadLetter, SourcePosition
from schemas.events import encode_learner_events
from schemas.milestones import MilestoneEvent
from schemas.profiles import ProfileSnapshot
from schemas.vocabulary import Vocabulary
from streams.core import ProfileState, Rules, apply, milestone_json, snapshot
from streams.core.records import first_pass
from streams.pipeline import (
    Ingest,
    IngestCounts,
    Profiles,
    Rejected,
    apply_each,
    dead_letter,
    internal_problem,
)

log = logging.getLogger(__name__)


@dataclass
class OfflineResult:
    profiles: dict[str, ProfileSnapshot]
    milestones: list[MilestoneEvent]
    dead_letters: list[DeadLetter]
    counts: IngestCounts
    states: dict[str, ProfileState] = field(repr=False, default_factory=dict)

    def write(self, out: Path) -> dict[str, Path]:
        """Write profiles, milestones and dead letters as JSON Lines, plus a summary."""
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "profiles": out / "profiles.jsonl",
            "milestones": out / "milestones.jsonl",
            "dead_letters": out / "dead-letters.jsonl",
            "summary": out / "summary.json",
        }
        with paths["profiles"].open("wb") as f:
            for learner in sorted(self.profiles):
                f.write(self.profiles[learner].model_dump_json().encode() + b"\n")
        with paths["milestones"].open("wb") as f:
            for m in self.milestones:
                f.write(milestone_json(m) + b"\n")
        with paths["dead_letters"].open("wb") as f:
            for d in self.dead_letters:
                f.write(d.model_dump_json().encode() + b"\n")
        paths["summary"].write_bytes(orjson.dumps(self.summary(), option=orjson.OPT_INDENT_2))
        return paths

    def summary(self) -> dict[str, object]:
        by_kind: dict[str, int] = {}
        for m in self.milestones:
            by_kind[str(m.data.kind)] = by_kind.get(str(m.data.kind), 0) + 1
        return {
            "records": self.counts.records,
            "valid": self.counts.valid,
            "dead_lettered": self.counts.dead_lettered,
            "events": self.counts.events,
            "ignored": dict(sorted(self.counts.ignored.items())),
            "credited": self.counts.credited,
            "uncredited": self.counts.uncredited,
            "learners": len(self.profiles),
            "milestones": len(self.milestones),
            "milestones_by_kind": dict(sorted(by_kind.items())),
        }


def run_offline(
    records: Iterable[bytes],
    *,
    catalog: Catalog,
    vocabulary: Vocabulary,
    rules: Rules,
    secret: bytes,
    default_version: str = "2.0.0",
    source: str = "file",
    on_record: Callable[[int], None] | None = None,
) -> OfflineResult:
    """Run every record through ingest and the profile core, in order.

    No record stops the run. An invalid record, or one skillstream fails on, is a dead
    letter (``Ingest.record``). If the core fails on an event (a bug of skillstream's), the
    learners concerned are computed again in a second pass, one event at a time from the
    state before each (``apply_each``), as the stream's profile stage does: the events that
    fail again become dead letters and the rest count.
    """
    kept = records if isinstance(records, list) else list(records)
    ingest = Ingest(catalog, vocabulary, secret, default_version)
    done = first_pass(kept, ingest, catalog, rules, apply, on_record)
    states, milestones, broken = done.states, done.milestones, done.broken
    letters: list[DeadLetter] = [
        dead_letter(raw, outcome, SourcePosition(topic=source, partition=0, offset=offset), None)
        for offset, raw, outcome in done.rejected
    ]
    if broken:
        milestones = [m for m in milestones if m.data.learner not in broken]
        _again(
            kept,
            broken,
            Ingest(catalog, vocabulary, secret, default_version),
            Profiles(catalog, rules),
            states,
            milestones,
            letters,
            source,
        )
    views = {}
    for learner, state in states.items():
        if state.active:
            try:
                views[learner] = snapshot(state, catalog, rules)
            except Exception as exc:  # noqa: BLE001 - one learner's snapshot, not the run
                log.error("no profile snapshot for %s: %r", learner, exc)
    return OfflineResult(views, milestones, letters, ingest.counts, states)


def _again(
    records: list[bytes],
    learners: set[str],
    ingest: Ingest,
    profiles: Profiles,
    states: dict[str, ProfileState],
    milestones: list[MilestoneEvent],
    letters: list[DeadLetter],
    source: str,
) -> None:
    """The learners the core failed on, one event at a time from the state before each."""
    for learner in learners:
        states.pop(learner, None)
    for offset, raw in enumerate(records):
        outcome = ingest.record(raw)
        if not isinstance(outcome, tuple):
            continue
        for event in outcome:
            if event.learner not in learners:
                continue
            done, failed = apply_each(profiles, states.get(event.learner), [event])
            if done is not None:
                states[event.learner] = done.state
                milestones.extend(done.milestones)
            for failure in failed:
                if failure.index < 0:
                    continue  # the snapshot: made again at the end
                problem = internal_problem(failure.error)
                letters.append(
                    dead_letter(
                        encode_learner_events(event.learner, [event]),
                        Rejected((problem,)),
                        SourcePosition(topic=f"{source}:profiles", partition=0, offset=offset),
                        None,
                    )
                )
