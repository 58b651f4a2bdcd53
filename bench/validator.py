"""Throughput of the xAPI statement validator, the hot path of ingest.

Prints statements per second on one core for typical valid statements (three
realistic shapes), for invalid ones, and for the whole ``parse_statement`` step
(orjson parse + version resolution + validation) on the same records as bytes.
The pure core targets 150k statements/s on one core (see the README, Performance) and every
statement goes through this validator first. Two valid mixes are shown:
shapes in runs (as an LMS usually sends them) and strictly interleaved, which
measures about a fifth slower on CPython 3.11 although each statement does the
same work.

    .venv/bin/python bench/validator.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from schemas.xapi import XapiVersion, parse_statement, validate_statement

VARIANTS = 2000
ADL = "http://adlnet.gov/expapi/verbs/"
ACTIVITIES = "https://lms.example.com/xapi/activities/"
EXT = "https://skillstream.example.com/xapi/extensions/"


def _learner(n: int) -> dict[str, Any]:
    return {"objectType": "Agent", "name": f"Learner {n}", "mbox": f"mailto:learner{n}@example.com"}


def _time(n: int) -> str:
    day = f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d}"
    return f"{day}T{n % 24:02d}:{n % 60:02d}:{n % 59:02d}.{n % 1000:03d}Z"


def course_completed(n: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=n * 7919 + 1)),
        "actor": _learner(n),
        "verb": {"id": ADL + "completed", "display": {"en-US": "completed"}},
        "object": {
            "objectType": "Activity",
            "id": f"{ACTIVITIES}course/{n % 40}",
            "definition": {
                "name": {"en-US": f"Course {n % 40}", "de-DE": f"Kurs {n % 40}"},
                "type": "http://adlnet.gov/expapi/activities/course",
            },
        },
        "result": {
            "score": {"scaled": (n % 100) / 100, "raw": n % 100, "min": 0, "max": 100},
            "success": n % 3 != 0,
            "completion": True,
            "duration": f"PT{n % 5}H{n % 60}M{n % 60}.5S",
        },
        "timestamp": _time(n),
    }


def workshop_attended(n: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=n * 104729 + 3)),
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://lms.example.com", "name": f"u{n}"},
        },
        "verb": {"id": ADL + "attended", "display": {"en-US": "attended", "fr-FR": "a participé"}},
        "object": {
            "id": f"{ACTIVITIES}workshop/{n % 25}",
            "definition": {
                "name": {"en-US": f"Workshop {n % 25}"},
                "description": {"en-US": "Hands-on session on stream processing."},
                "type": "http://adlnet.gov/expapi/activities/meeting",
            },
        },
        "context": {
            "registration": str(uuid.UUID(int=n * 31 + 5)),
            "instructor": {"name": "Coach", "mbox": "mailto:coach@example.com"},
            "contextActivities": {
                "parent": [{"id": f"{ACTIVITIES}programme/{n % 5}"}],
                "grouping": [{"id": f"{ACTIVITIES}track/data"}],
                "category": [
                    {
                        "id": "https://skills.example.com/competency/kafka",
                        "definition": {
                            "type": "https://w3id.org/xapi/tla/activity-types/competency"
                        },
                    }
                ],
            },
            "platform": "Example LMS",
            "language": "en-US",
            "extensions": {EXT + "venue": "Room 4", EXT + "seats": 24, EXT + "hybrid": False},
        },
        "timestamp": _time(n + 7),
    }


def assessed_with_context_agents(n: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=n * 15485863 + 9)),
        "actor": _learner(n),
        "verb": {"id": "https://w3id.org/xapi/tla/verbs/assessed", "display": {"en": "assessed"}},
        "object": {"id": f"{ACTIVITIES}assessment/{n % 30}"},
        "result": {"score": {"scaled": 0.5 + (n % 50) / 100}, "success": True},
        "context": {
            "contextAgents": [
                {
                    "objectType": "contextAgent",
                    "agent": {"mbox_sha1sum": f"{n:040x}"},
                    "relevantTypes": ["https://skillstream.example.com/roles/assessor"],
                }
            ],
            "contextGroups": [
                {
                    "objectType": "contextGroup",
                    "group": {
                        "objectType": "Group",
                        "name": "Cohort",
                        "account": {
                            "homePage": "https://lms.example.com",
                            "name": f"cohort-{n % 8}",
                        },
                    },
                    "relevantTypes": ["https://skillstream.example.com/groups/cohort"],
                }
            ],
        },
        "timestamp": _time(n + 13).replace("Z", "+02:00"),
        "version": "2.0.0",
    }


def invalid(n: int) -> dict[str, Any]:
    statement = course_completed(n)
    kind = n % 5
    if kind == 0:
        statement["actor"]["mbox"] = f"learner{n}@example.com"
    elif kind == 1:
        statement["actor"]["openid"] = "https://openid.example.com/u"
    elif kind == 2:
        statement["result"]["score"] = {"raw": 0, "min": 5, "max": 10}
    elif kind == 3:
        statement["timestamp"] = "2024-02-30T10:00:00"
    else:
        statement["Verb"] = statement.pop("verb")
        statement["result"]["success"] = "true"
    return statement


def _rate(run: Callable[[], None], count: int, seconds: float) -> float:
    best = 0.0
    deadline = time.perf_counter() + seconds
    while True:
        start = time.perf_counter()
        run()
        elapsed = time.perf_counter() - start
        best = max(best, count / elapsed)
        if time.perf_counter() >= deadline:
            return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    seconds = parser.parse_args().seconds

    shapes: dict[str, list[dict[str, Any]]] = {
        "course completed (score, duration)": [course_completed(n) for n in range(VARIANTS)],
        "workshop attended (context activities, extensions)": [
            workshop_attended(n) for n in range(VARIANTS)
        ],
        "2.0 assessed (contextAgents, contextGroups)": [
            assessed_with_context_agents(n) for n in range(VARIANTS)
        ],
    }
    batches = list(shapes.values())
    in_runs = [
        s for start in range(0, VARIANTS, 100) for b in batches for s in b[start : start + 100]
    ]
    valid_mix = [statement for batch in zip(*batches, strict=True) for statement in batch]
    shapes["valid mix, shapes in runs of 100"] = in_runs
    shapes["valid mix, shapes interleaved 1:1:1"] = valid_mix
    shapes["invalid (one or two problems each)"] = [invalid(n) for n in range(VARIANTS)]

    for statements in shapes.values():
        for statement in statements:
            validate_statement(statement, XapiVersion.V2_0)
    assert all(not validate_statement(s, XapiVersion.V2_0) for s in valid_mix)
    assert all(
        validate_statement(s, XapiVersion.V2_0)
        for s in shapes["invalid (one or two problems each)"]
    )

    rules = XapiVersion.V2_0
    print(f"validate_statement, one core, best of {seconds:.1f}s per row")
    for name, statements in shapes.items():

        def run(batch: list[dict[str, Any]] = statements, rules: XapiVersion = rules) -> None:
            for statement in batch:
                validate_statement(statement, rules)

        print(f"  {name:<52} {_rate(run, len(statements), seconds):>10,.0f} statements/s")

    print("parse_statement (orjson + version + validation) on the same records as bytes")
    for name in ("valid mix, shapes in runs of 100", "invalid (one or two problems each)"):
        records = [orjson.dumps(statement) for statement in shapes[name]]
        size = sum(map(len, records)) / len(records)

        def parse(batch: list[bytes] = records) -> None:
            for record in batch:
                parse_statement(record, "2.0.0")

        label = f"{name} (~{size:.0f} bytes)"
        print(f"  {label:<52} {_rate(parse, len(records), seconds):>10,.0f} statements/s")


if __name__ == "__main__":
    main()
