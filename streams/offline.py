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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from schemas.catalog import Catalog
from schemas.deadletter import DeadLetter, SourcePosition
from schemas.milestones import MilestoneEvent
from schemas.profiles import ProfileSnapshot
from schemas.vocabulary import Vocabulary
from streams.core import ProfileState, Rules, apply, snapshot
from streams.pipeline import Ingest, IngestCounts, Rejected, dead_letter


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
                f.write(m.model_dump_json().encode() + b"\n")
        with paths["dead_letters"].open("wb") as f:
            for d in self.dead_letters:
                f.write(d.model_dump_json().encode() + b"\n")
        paths["summary"].write_bytes(orjson.dumps(self.summary(), option=orjson.OPT_INDENT_2))
        return paths

    def summary(self) -> dict[str, object]:
        by_kind: dict[str, int] = {}
        for m in self.milestones:
            by_kind[m.data.kind.value] = by_kind.get(m.data.kind.value, 0) + 1
        return {
            "records": self.counts.records,
            "valid": self.counts.valid,
            "dead_lettered": self.counts.dead_lettered,
            "events": self.counts.events,
            "ignored": dict(sorted(self.counts.ignored.items())),
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
    """Run every record through ingest and the profile core, in order."""
    ingest = Ingest(catalog, vocabulary, secret, default_version)
    states: dict[str, ProfileState] = {}
    milestones: list[MilestoneEvent] = []
    letters: list[DeadLetter] = []
    for offset, raw in enumerate(records):
        outcome = ingest.record(raw)
        if isinstance(outcome, tuple):
            for event in outcome:
                state, fired = apply(states.get(event.learner), event, catalog, rules)
                states[event.learner] = state
                if fired:
                    milestones.extend(fired)
        elif isinstance(outcome, Rejected):
            letters.append(
                dead_letter(
                    raw, outcome, SourcePosition(topic=source, partition=0, offset=offset), None
                )
            )
        if on_record is not None:
            on_record(len(raw) + 1)
    views = {
        learner: snapshot(state, catalog, rules)
        for learner, state in states.items()
        if state.active
    }
    return OfflineResult(views, milestones, letters, ingest.counts, states)
