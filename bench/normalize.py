"""Throughput of the normalizer: valid statement dict -> learning events.

Prints statements per second on one core over simulated LMS traffic (every
verb the simulator sends, the skipped lifecycle verbs included, as on the real
feed), then over the credited statements alone, then with every learner key
computed afresh (the HMAC a new learner costs), and finally what building the
events would cost with ``LearningEvent.model_construct`` or with full pydantic
validation instead of the direct construction ``schemas.normalize`` uses.
The pure core targets 150k statements/s end to end, so normalisation aims at
300k/s or more.

    .venv/bin/python -m bench.normalize [--seconds 1.0] [--learners 2000] [--days 30]

(from the repository root, as a module: the simulator it draws on is in ``tools/``).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

import orjson

from schemas import identity
from schemas.catalog import Catalog
from schemas.events import LearningEvent
from schemas.normalize import Ignored, normalize
from schemas.vocabulary import Vocabulary
from tools.simulate import SAMPLE_CATALOG, Simulation

SECRET = b"bench-secret"


def _rate(label: str, count: int, work: Callable[[], None], seconds: float) -> float:
    work()
    passes = 0
    started = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds or passes < 3:
        work()
        passes += 1
        elapsed = time.perf_counter() - started
    rate = count * passes / elapsed
    print(f"{label:<58} {rate:>12,.0f} /s  {1e6 / rate:6.2f} µs each")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()

    sim = Simulation(args.learners, args.days, seed=1, invalid_share=0.0)
    statements: list[dict[str, Any]] = [orjson.loads(line) for line in sim]
    catalog = Catalog.from_file(SAMPLE_CATALOG)
    vocabulary = Vocabulary.default()
    credited = [
        s for s in statements if not isinstance(normalize(s, catalog, vocabulary, SECRET), Ignored)
    ]
    events: list[LearningEvent] = []
    for statement in credited:
        outcome = normalize(statement, catalog, vocabulary, SECRET)
        assert not isinstance(outcome, Ignored)
        events.extend(outcome)
    print(
        f"{len(statements):,} simulated statements ({args.learners} learners, {args.days} days); "
        f"{len(credited):,} credited, {len(events):,} events"
    )

    def run(batch: list[dict[str, Any]]) -> Callable[[], None]:
        def work() -> None:
            for statement in batch:
                normalize(statement, catalog, vocabulary, SECRET)

        return work

    def cold() -> None:
        identity.clear_cache()
        for statement in credited:
            normalize(statement, catalog, vocabulary, SECRET)

    lines = [orjson.dumps(s) for s in statements]
    loads = orjson.loads

    def parse_only() -> None:
        for line in lines:
            loads(line)

    def parse_and_normalize() -> None:
        for line in lines:
            normalize(loads(line), catalog, vocabulary, SECRET)

    gc.freeze()
    parse = _rate("orjson.loads alone (reference)", len(lines), parse_only, args.seconds)
    both = _rate("orjson.loads + normalize", len(lines), parse_and_normalize, args.seconds)
    rate = 1.0 / (1.0 / both - 1.0 / parse)
    label = "=> normalize on freshly parsed statements"
    print(f"{label:<58} {rate:>12,.0f} /s  {1e6 / rate:6.2f} µs each")
    _rate("normalize, all statements, pre-parsed", len(statements), run(statements), args.seconds)
    _rate("normalize, credited statements only", len(credited), run(credited), args.seconds)
    _rate(
        "normalize, credited, learner keys not cached (HMAC each)",
        len(credited),
        cold,
        args.seconds,
    )

    fields = [dict(event.__dict__) for event in events]

    def construct() -> None:
        for values in fields:
            LearningEvent.model_construct(**values)

    def validated() -> None:
        for values in fields:
            LearningEvent(**values)

    def direct() -> None:
        from schemas.normalize import _build

        for values in fields:
            _build(dict(values))

    print("building one LearningEvent from its fields:")
    _rate("  direct construction (what normalize uses)", len(fields), direct, args.seconds)
    _rate("  LearningEvent.model_construct", len(fields), construct, args.seconds)
    _rate("  LearningEvent(**fields), validated", len(fields), validated, args.seconds)
    verdict = "meets" if rate >= 300_000 else "misses"
    print(f"target 300,000 statements/s: {verdict} ({rate:,.0f}/s on freshly parsed statements)")


if __name__ == "__main__":
    main()
