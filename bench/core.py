"""Benchmark of the pure profile core: ``apply``, ``snapshot`` and the state codec.

    .venv/bin/python bench/core.py [--learners 2000] [--months 6] [--seed 7] [--batch 2000]

The workload is a realistic mix for a mid-sized LMS: a few thousand learners
over months of event time (some very active, past the evidence cap), about a
third of statements assessing a skill, attendance, courses, collaboration,
certifications, ~5% arriving out of order (late by minutes to days), ~1%
redelivered and a few voided. Events are built before timing starts; the
"with parsing" figure adds ``LearningEvent.model_validate_json`` per event.
Prints events/s of ``apply`` (states kept in memory, the offline mode), of
the same stream processed the way a stream worker holds state (per batch and
learner: decode the stored state, apply, snapshot, encode), and snapshots,
encodes and decodes per second: over every state in turn (states cold in the
CPU caches) and right after applying each learner's batch (warm, as the
stream does it). Rates are per CPU-second of this process.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from schemas.catalog import (
    ActivityMapping,
    Catalog,
    EmergingPeriod,
    Ladder,
    Requirement,
    Role,
    Skill,
)
from schemas.events import EventKind, LearningEvent
from streams.core import ProfileState, Rules, apply, decode_state, encode_state, snapshot

CATEGORIES = {"technical": 20, "soft": 8, "networking": 4, "leadership": 4, "domain": 4}
KIND_MIX = [
    (EventKind.SKILL_ASSESSED, 33),
    (EventKind.COURSE_COMPLETED, 18),
    (EventKind.COURSE_PASSED, 6),
    (EventKind.COURSE_FAILED, 2),
    (EventKind.EVENT_ATTENDED, 10),
    (EventKind.COLLABORATION, 9),
    (EventKind.CERTIFICATION_EARNED, 2),
    (EventKind.OTHER, 20),
]


def build_catalog() -> Catalog:
    skills: list[Skill] = []
    for category, n in CATEGORIES.items():
        for i in range(n):
            emerging = (
                EmergingPeriod(start=date(2024, 1, 1), end=date(2026, 12, 31))
                if category == "technical" and i < 3
                else None
            )
            skills.append(
                Skill(
                    id=f"{category}-{i}",
                    name=f"{category.title()} {i}",
                    category=category,
                    emerging=emerging,
                )
            )
    ladders = [
        Ladder(
            id=f"track-{j}",
            name=f"Track {j}",
            roles=(
                Role(id="junior", name="Junior"),
                Role(
                    id="mid",
                    name="Mid",
                    requires=(
                        Requirement(skill=f"technical-{j}", level=0.5),
                        Requirement(skill=f"soft-{j}", level=0.4),
                    ),
                ),
                Role(
                    id="senior",
                    name="Senior",
                    requires=(
                        Requirement(skill=f"technical-{j}", level=0.75),
                        Requirement(skill=f"technical-{j + 1}", level=0.6),
                        Requirement(skill=f"leadership-{j}", level=0.5),
                    ),
                ),
            ),
        )
        for j in range(3)
    ]
    activities = [
        ActivityMapping(activity_id=f"https://lms.example/a/{s.id}", skills=(s.id,)) for s in skills
    ]
    return Catalog([*skills, *activities, *ladders])


def build_events(learners: int, months: int, seed: int) -> list[LearningEvent]:
    rng = random.Random(seed)
    skill_ids = [f"{c}-{i}" for c, n in CATEGORIES.items() for i in range(n)]
    kinds = [k for k, _ in KIND_MIX]
    weights = [w for _, w in KIND_MIX]
    start = datetime(2025, 1, 6, tzinfo=UTC)
    span = months * 30 * 86_400
    timed: list[tuple[float, LearningEvent]] = []
    for n in range(learners):
        learner = f"lk-{n:06d}"
        activity = rng.choice((20, 60, 120, 200, 400, 1000))
        focus = rng.sample(skill_ids, 6)
        ability = rng.uniform(0.4, 0.9)
        times = sorted(rng.uniform(0, span) for _ in range(activity))
        ids: list[str] = []
        for i, offset in enumerate(times):
            kind = rng.choices(kinds, weights)[0]
            skills = tuple(rng.sample(focus, rng.choice((1, 1, 1, 2))))
            score = None
            if kind in (EventKind.SKILL_ASSESSED, EventKind.COURSE_PASSED, EventKind.COURSE_FAILED):
                progress = i / max(1, activity)
                score = round(min(1.0, max(-1.0, rng.gauss(ability + 0.2 * progress, 0.12))), 3)
            if kind is EventKind.OTHER and rng.random() < 0.5:
                skills = ()
            sid = f"{rng.getrandbits(128):032x}"
            sid = f"{sid[:8]}-{sid[8:12]}-{sid[12:16]}-{sid[16:20]}-{sid[20:]}"
            ids.append(sid)
            moment = start + timedelta(seconds=offset)
            timed.append(
                (
                    offset,
                    LearningEvent(
                        statement_id=sid,
                        learner=learner,
                        kind=kind,
                        time=moment,
                        verb="http://adlnet.gov/expapi/verbs/x",
                        skills=skills,
                        score=score,
                    ),
                )
            )
            if rng.random() < 0.003 and len(ids) > 2:
                target = ids[rng.randrange(len(ids) - 1)]
                vid = f"{rng.getrandbits(128):032x}"
                vid = f"{vid[:8]}-{vid[8:12]}-{vid[12:16]}-{vid[16:20]}-{vid[20:]}"
                timed.append(
                    (
                        offset + 1,
                        LearningEvent(
                            statement_id=vid,
                            learner=learner,
                            kind=EventKind.VOIDING,
                            time=moment + timedelta(seconds=1),
                            verb="http://adlnet.gov/expapi/verbs/voided",
                            voided_statement_id=target,
                        ),
                    )
                )
    arrival: list[tuple[float, LearningEvent]] = []
    for offset, event in timed:
        late = offset
        if rng.random() < 0.05:
            late += rng.choice((60.0, 3_600.0, 86_400.0, 5 * 86_400.0))
        arrival.append((late, event))
        if rng.random() < 0.01:
            arrival.append((late + rng.uniform(1, 600), event))
    arrival.sort(key=lambda pair: pair[0])
    return [e for _, e in arrival]


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f}/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=2000, help="events per batch (batch mode)")
    args = parser.parse_args()

    catalog = build_catalog()
    rules = Rules.load(None)
    t0 = time.process_time()
    events = build_events(args.learners, args.months, args.seed)
    print(
        f"workload: {len(events):,} events, {args.learners:,} learners, "
        f"{args.months} months (built in {time.process_time() - t0:.1f}s)"
    )
    print("rates are per CPU-second of this process (time.process_time), one core")
    gc.collect()
    gc.freeze()

    runs: list[float] = []
    states: dict[str, ProfileState] = {}
    fired = 0
    for _ in range(args.repeat):
        states = {}
        fired = 0
        get = states.get
        t0 = time.process_time()
        for event in events:
            state, milestones = apply(get(event.learner), event, catalog, rules)
            states[event.learner] = state
            fired += len(milestones)
        runs.append(time.process_time() - t0)
    best = min(runs)
    print(
        f"apply:              {rate(len(events), best)}  (best of {args.repeat}, "
        f"median {rate(len(events), statistics.median(runs)).strip()}; {fired:,} milestones)"
    )

    by_learner: dict[str, list[LearningEvent]] = {}
    for event in events:
        by_learner.setdefault(event.learner, []).append(event)
    grouped = [e for batch in by_learner.values() for e in batch]
    runs = []
    for _ in range(args.repeat):
        held: dict[str, ProfileState] = {}
        t0 = time.process_time()
        for event in grouped:
            state, _ = apply(held.get(event.learner), event, catalog, rules)
            held[event.learner] = state
        runs.append(time.process_time() - t0)
    print(
        f"apply, by learner:  {rate(len(events), min(runs))}  "
        "(each learner's statements together, in arrival order: warm states)"
    )

    raw = [e.model_dump_json().encode() for e in events]
    states2: dict[str, ProfileState] = {}
    t0 = time.process_time()
    for data in raw:
        event = LearningEvent.model_validate_json(data)
        state, _ = apply(states2.get(event.learner), event, catalog, rules)
        states2[event.learner] = state
    print(f"parse + apply:      {rate(len(raw), time.process_time() - t0)}")

    stored: dict[str, bytes] = {}
    warm = {"snapshot": 0.0, "encode": 0.0, "decode": 0.0}
    calls = 0
    clock = time.perf_counter
    t0 = time.process_time()
    for start in range(0, len(events), args.batch):
        batches: dict[str, list[LearningEvent]] = {}
        for event in events[start : start + args.batch]:
            batches.setdefault(event.learner, []).append(event)
        for learner, batch in batches.items():
            blob = stored.get(learner)
            c0 = clock()
            loaded = None if blob is None else decode_state(blob)
            c1 = clock()
            for event in batch:
                loaded, _ = apply(loaded, event, catalog, rules)
            assert loaded is not None
            c2 = clock()
            if loaded.active:
                snapshot(loaded, catalog, rules)
            c3 = clock()
            stored[learner] = encode_state(loaded)
            c4 = clock()
            if blob is not None:
                warm["decode"] += c1 - c0
                warm["snapshot"] += c3 - c2
                warm["encode"] += c4 - c3
                calls += 1
    print(
        f"batches of {args.batch}:  {rate(len(events), time.process_time() - t0)}  "
        "(per learner per batch: decode, apply, snapshot, encode)"
    )
    print(
        "  warm, per learner per batch: "
        + ", ".join(f"{k} {v / calls * 1e6:.1f} µs" for k, v in warm.items())
        + f" (mean of {calls:,}, wall clock)"
    )

    active = [s for s in states.values() if s.active]
    t0 = time.process_time()
    for state in active:
        snapshot(state, catalog, rules)
    elapsed = time.process_time() - t0
    print(
        f"snapshot:           {rate(len(active), elapsed)}  ({elapsed / len(active) * 1e6:.1f} µs)"
    )

    t0 = time.process_time()
    blobs = [encode_state(s) for s in active]
    elapsed = time.process_time() - t0
    sizes = sorted(map(len, blobs))
    print(
        f"encode_state:       {rate(len(active), elapsed)}  ({elapsed / len(active) * 1e6:.1f} µs; "
        f"mean {sum(sizes) / len(sizes):,.0f} bytes, median {sizes[len(sizes) // 2]:,}, "
        f"max {sizes[-1]:,})"
    )
    t0 = time.process_time()
    for blob in blobs:
        decode_state(blob)
    elapsed = time.process_time() - t0
    print(f"decode_state:       {rate(len(blobs), elapsed)}  ({elapsed / len(blobs) * 1e6:.1f} µs)")


if __name__ == "__main__":
    main()
