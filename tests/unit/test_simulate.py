from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import replace
from datetime import date
from typing import Any

import orjson
import pytest

from schemas.identity import learner_keys
from tools import simulate
from tools.simulate import (
    DEFAULT_START,
    InvalidKind,
    Persona,
    SimulatedRecord,
    Simulation,
    display_names,
    generate,
)

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return Simulation(200, 60, seed=42)


@pytest.fixture(scope="module")
def records(sim: Simulation) -> list[SimulatedRecord]:
    return list(sim.labelled())


@pytest.fixture(scope="module")
def valid(records: list[SimulatedRecord]) -> list[dict[str, Any]]:
    return [orjson.loads(r.line) for r in records if r.invalid is None]


def test_the_same_seed_gives_the_same_bytes() -> None:
    first = list(generate(40, 21, seed=7))
    assert list(generate(40, 21, seed=7)) == first
    assert all(isinstance(line, bytes) and b"\n" not in line for line in first)


def test_another_seed_gives_other_traffic() -> None:
    assert list(generate(40, 21, seed=7)) != list(generate(40, 21, seed=8))


def test_iteration_and_labelled_records_agree(
    sim: Simulation, records: list[SimulatedRecord]
) -> None:
    assert [r.line for r in records] == list(sim)
    assert sim.stats.records == len(records)


def test_every_persona_is_there_even_in_a_small_run() -> None:
    small = Simulation(len(Persona), 7, seed=1)
    assert {learner.persona for learner in small.learners} == set(Persona)
    assert set(small.stats.learners_by_persona) <= {str(p) for p in Persona}


def test_personas_by_learner_key(sim: Simulation, valid: list[dict[str, Any]]) -> None:
    secret = b"demo-secret"
    personas = sim.personas(secret)
    assert len(personas) == 200
    assert set(personas.values()) == set(Persona)
    seen = {k for st in valid for k in learner_keys(st["actor"], secret)}
    assert seen <= set(personas)
    key = next(iter(personas))
    assert sim.persona_of(key, secret) is personas[key]
    assert sim.persona_of("lrn_unknown", secret) is None


def test_display_names_are_deterministic_unique_and_varied(sim: Simulation) -> None:
    names = [learner.name for learner in sim.learners]
    assert names == [learner.name for learner in Simulation(200, 60, seed=42).learners]
    assert names != [learner.name for learner in Simulation(200, 60, seed=43).learners]
    assert len(set(names)) == len(names)
    assert not any(name.startswith("Learner ") for name in names)
    assert all(len(name.split()) >= 2 for name in names)
    assert len({name.rsplit(" ", 1)[-1] for name in names}) > 60


def test_display_names_stay_unique_past_a_lap_over_the_pools() -> None:
    names = display_names(5000, seed=1)
    assert display_names(5000, seed=1) == names
    assert len(set(names)) == 5000
    assert any(". " in name for name in names)  # a middle initial tells a second lap apart


def test_names_by_learner_key(sim: Simulation, valid: list[dict[str, Any]]) -> None:
    secret = b"demo-secret"
    names = sim.names(secret)
    assert set(names) == set(sim.personas(secret))
    assert sorted(names.values()) == sorted(learner.name for learner in sim.learners)
    sent = {
        learner_keys(st["actor"], secret)[0]: st["actor"]["name"]
        for st in valid
        if st["actor"].get("objectType") == "Agent" and "name" in st["actor"]
    }
    assert sent
    assert all(names[key] == name for key, name in sent.items())
    assert sim.by_key(secret)[next(iter(sent))].name == sent[next(iter(sent))]


def test_names_move_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    def without_names(statement: dict[str, Any]) -> dict[str, Any]:
        for agent in [statement["actor"], *statement["actor"].get("member", [])]:
            agent.pop("name", None)
        if statement["object"].get("objectType") == "Agent":
            statement["object"].pop("name", None)
        return statement

    def statements(run: Simulation) -> list[dict[str, Any]]:
        return [without_names(orjson.loads(r.line)) for r in run.labelled() if r.invalid is None]

    named = Simulation(40, 21, seed=7)
    named_statements = statements(named)
    monkeypatch.setattr(simulate, "display_names", lambda count, seed: ["X Y"] * count)
    plain = Simulation(40, 21, seed=7)
    assert [learner.name for learner in plain.learners] == ["X Y"] * 40
    assert [replace(learner, name="X Y") for learner in named.learners] == list(plain.learners)
    assert statements(plain) == named_statements


def test_valid_lines_are_json_statements(valid: list[dict[str, Any]]) -> None:
    assert len(valid) > 3000
    for st in valid:
        assert {"actor", "verb", "object", "timestamp"} <= set(st)


def test_the_shares_of_faults(sim: Simulation, records: list[SimulatedRecord]) -> None:
    stats = sim.stats
    total = len(records)
    invalid = Counter(r.invalid for r in records if r.invalid is not None)
    assert sum(invalid.values()) == stats.invalid_records
    assert 0.005 < stats.invalid_records / total < 0.02
    assert set(invalid) == set(InvalidKind)
    assert 0.002 < stats.duplicates / stats.statements < 0.015
    assert 0.005 < stats.late_arrivals / stats.statements < 0.03
    assert stats.voids_before_target >= 1
    assert stats.voids_after_target >= 1
    assert stats.voids / stats.statements < 0.01
    assert stats.group_statements > 0
    assert stats.statements + stats.invalid_records == total


def test_duplicates_repeat_a_statement_id(sim: Simulation, valid: list[dict[str, Any]]) -> None:
    counts = Counter(st["id"] for st in valid if "id" in st)
    repeated = [i for i, n in counts.items() if n > 1]
    assert len(repeated) == sim.stats.duplicates
    assert all(counts[i] == 2 for i in repeated)
    assert sum(1 for st in valid if "id" not in st) == sim.stats.statements_without_id > 0


def test_voids_come_before_and_after_their_targets(
    sim: Simulation, valid: list[dict[str, Any]]
) -> None:
    position = {st["id"]: n for n, st in enumerate(valid) if "id" in st}
    before = after = 0
    for n, st in enumerate(valid):
        if st["verb"]["id"] != VOIDED:
            continue
        assert st["object"]["objectType"] == "StatementRef"
        target = position[st["object"]["id"]]
        assert valid[target]["actor"] == st["actor"]
        if n < target:
            before += 1
        else:
            after += 1
    assert (before, after) == (sim.stats.voids_before_target, sim.stats.voids_after_target)


def test_time_order_with_late_arrivals(valid: list[dict[str, Any]]) -> None:
    from schemas.normalize import parse_time

    times = [parse_time(st["timestamp"]) for st in valid]
    assert all(t is not None for t in times)
    assert min(t for t in times if t is not None).date() == DEFAULT_START
    newest = None
    late = 0
    for t in times:
        assert t is not None
        if newest is not None and (newest - t).total_seconds() > 86400:
            late += 1
        newest = t if newest is None or t > newest else newest
    assert late > 10


def test_the_variety_an_lms_sends(valid: list[dict[str, Any]]) -> None:
    versions = Counter(st.get("version") for st in valid)
    assert {None, "1.0.3", "2.0.0"} <= set(versions)
    ifis = Counter(
        next(k for k in ("mbox", "mbox_sha1sum", "account", "openid") if k in st["actor"])
        for st in valid
        if st["actor"].get("objectType") != "Group"
    )
    assert set(ifis) == {"mbox", "mbox_sha1sum", "account", "openid"}
    verbs = {st["verb"]["id"].rsplit("/", 1)[-1] for st in valid}
    assert {"launched", "initialized", "completed", "passed", "failed", "attended"} <= verbs
    assert {"mentored", "terminated", "voided", "shared"} <= verbs
    assert any(st["actor"].get("objectType") == "Group" for st in valid)
    assert any(st["object"].get("objectType") == "Agent" for st in valid)
    text = b"\n".join(orjson.dumps(st) for st in valid)
    assert b"https://w3id.org/skillstream/extensions/skills" in text
    assert b"https://w3id.org/xapi/tla/activity-types/competency" in text


def test_a_learner_sends_both_mbox_and_its_sha1(valid: list[dict[str, Any]]) -> None:
    mboxes = {st["actor"]["mbox"] for st in valid if "mbox" in st["actor"]}
    sha1s = {st["actor"]["mbox_sha1sum"] for st in valid if "mbox_sha1sum" in st["actor"]}
    hashed = {hashlib.sha1(m.encode()).hexdigest() for m in mboxes}
    assert hashed & sha1s


def test_scores_improve_for_specialists(sim: Simulation, valid: list[dict[str, Any]]) -> None:
    specialists = {
        f"mailto:{learner.email}"
        for learner in sim.learners
        if learner.persona is Persona.SPECIALIST and learner.identity == "mbox"
    }
    early: list[float] = []
    late: list[float] = []
    for st in valid:
        score = st.get("result", {}).get("score", {})
        if st["actor"].get("mbox") in specialists and "raw" in score:
            (early if st["timestamp"] < "2026-02-05" else late).append(score["raw"])
    assert early
    assert late
    assert sum(late) / len(late) > sum(early) / len(early) + 5


def test_invalid_share_zero_and_bad_arguments() -> None:
    quiet = Simulation(20, 7, seed=3, invalid_share=0.0)
    assert all(r.invalid is None for r in quiet.labelled())
    with pytest.raises(ValueError, match="learner"):
        Simulation(0, 7, seed=1)
    with pytest.raises(ValueError, match="invalid_share"):
        Simulation(5, 7, seed=1, invalid_share=0.7)


def test_another_start_day() -> None:
    first = orjson.loads(next(generate(5, 3, seed=1, start=date(2025, 3, 3), invalid_share=0.0)))
    assert first["timestamp"].startswith("2025-03-0")


def test_valid_and_invalid_records_as_the_validator_sees_them(
    records: list[SimulatedRecord],
) -> None:
    xapi = pytest.importorskip("schemas.xapi")
    for record in records[:4000]:
        _, _, problems = xapi.parse_statement(record.line)
        assert (not problems) is (record.invalid is None), (record, problems)
