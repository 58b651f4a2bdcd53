"""Every field of the profile state survives the codec, one test per field.

``streams.core.state.PARTS`` declares the fields ``encode_state`` keeps, by the part of
``ProfileState`` that holds them (``IDENTITY`` those of the state itself); every other slot
of the state must be a part or a cache that ``clear_caches`` resets, and every slot of a part
a declared field. For each declared field: states
of a simulated run (with a small evidence cap, so that statements are folded and every
part is in use) come back from ``decode_state(encode_state(...))`` with that field equal,
and changing the field changes the bytes, so the codec cannot drop it unnoticed.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.events import LearningEvent
from skillstream.config import SAMPLE_CATALOG, load_catalog, load_rules, load_vocabulary
from streams.core import ProfileState, Rules, apply, decode_state, encode_state
from streams.core.state import EVIDENCE, IDENTITY, PARTS
from streams.offline import run_offline
from tools.simulate import Simulation

FIELDS = [f"{part}.{name}" for part, names in PARTS.items() for name in names] + list(IDENTITY)
CACHES = {
    "_rids", "_seen", "_index", "_keys", "_ids", "_goals", "_highs", "_fired_names", "_hist",
    "_folds", "_newest",
}  # fmt: skip


@pytest.fixture(scope="module")
def states() -> list[ProfileState]:
    data: dict[str, Any] = load_rules(None).model_dump(mode="json")
    data["evidence_cap"] = 6  # fold most statements: horizon, tails, folded days in use
    result = run_offline(
        list(Simulation(40, 120, 5)),
        catalog=load_catalog(SAMPLE_CATALOG),
        vocabulary=load_vocabulary(None),
        rules=Rules.from_data(data),
        secret=b"state-fields",
    )
    found = sorted(result.states.values(), key=lambda s: s.learner)
    assert len(found) == 40
    # Statement ids that are no canonical UUID (kept as text beside their hash) come only
    # from outside a validated xAPI run: apply two such events to a state of the run.
    catalog = load_catalog(SAMPLE_CATALOG)
    odd = clone(found[0])
    for n in range(2):
        event = LearningEvent.model_validate_json(
            orjson.dumps(
                {
                    "schema_version": 1,
                    "statement_id": f"urn:lms:statement:{n}",
                    "learner": odd.learner,
                    "kind": "skill_assessed",
                    "time": f"2099-01-0{n + 1}T00:00:00Z",
                    "verb": "http://adlnet.gov/expapi/verbs/scored",
                    "activity_id": "https://lms.example.com/assessments/python",
                    "skills": ["python"],
                    "score": 0.5,
                }
            )
        )
        odd, _ = apply(odd, event, catalog, load_rules(None))
    assert odd.kept.odd
    return [*found, odd]


def _slots() -> dict[str, set[str]]:
    """Each class's ``__slots__`` in ``state.py`` as written (a compiled class has none)."""
    source = Path(__file__).resolve().parents[3] / "streams" / "core" / "state.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.Assign) and ast.unparse(item.targets[0]) == "__slots__":
                    found[node.name] = set(ast.literal_eval(item.value))
    return found


def test_every_slot_is_a_declared_field_a_part_or_a_cache() -> None:
    assert len(FIELDS) == len(set(FIELDS))
    slots = _slots()
    assert slots["ProfileState"] == set(IDENTITY) | set(PARTS) | CACHES
    state = ProfileState("someone", 30.0)
    for part, names in PARTS.items():
        holder = type(getattr(state, part)).__name__
        assert slots[holder] == set(names), part


def _get(state: ProfileState, field: str) -> Any:
    part, _, name = field.rpartition(".")
    return getattr(getattr(state, part) if part else state, name)


def _set(state: ProfileState, field: str, value: Any) -> None:
    part, _, name = field.rpartition(".")
    setattr(getattr(state, part) if part else state, name, value)


def clone(state: ProfileState) -> ProfileState:
    """A copy (a compiled state cannot be copied with ``copy``; the codec is tested above)."""
    return decode_state(encode_state(state))


def _value(state: ProfileState, name: str) -> Any:
    value = _get(state, name)
    return value.days if name == "decay" else value


@pytest.mark.parametrize("name", FIELDS)
def test_a_field_round_trips(states: list[ProfileState], name: str) -> None:
    used = [s for s in states if _value(s, name) not in (None, 0, [], {}, set(), "")]
    assert used, f"no simulated state uses {name}: the test would prove nothing"
    for state in states:
        back = decode_state(encode_state(state))
        assert _value(back, name) == _value(state, name), state.learner


def _changed(state: ProfileState, name: str) -> ProfileState | None:
    """A copy of ``state`` with ``name`` changed in a way the codec must keep."""
    other = clone(state)
    value = _get(state, name)
    field, name = name, name.rpartition(".")[2]
    if name == "decay":
        from streams.core.state import decay_for

        other.decay = decay_for(state.decay.days * 2)
    elif name == "learner":
        other.learner = state.learner + "x"
    elif name == "horizon":
        if value is None:
            return None
        other.folded.horizon = (value[0] + 1, value[1], value[2])
    elif name == "rv":
        evidence = [i for i, code in enumerate(state.kept.rc) if code & EVIDENCE]
        if not evidence:
            return None
        other.kept.rv = list(value)
        other.kept.rv[evidence[0]] = value[evidence[0]] / 2 + 0.01
    elif name == "odd":
        other.kept.odd = {**value, (1, 2): "a-statement-id-that-is-no-uuid"}
    elif name == "expo":
        if not value:
            return None
        h, (a, c, hi, lo) = next(iter(value.items()))
        other.exposures.expo = {**value, h: [a + 1, c, hi, lo]}
    elif name == "expo_folded":
        other.exposures.expo_folded = value | {12345}
    elif isinstance(value, int):
        _set(other, field, value + 1)
    elif isinstance(value, list) and value:
        changed = copy.deepcopy(value)
        first = changed[0]
        if isinstance(first, list):
            if not first:
                return None
            first[0] = first[0] + 1 if isinstance(first[0], int | float) else first[0]
            if changed == value:
                return None
        elif isinstance(first, str):
            changed[0] = first + "x"
        else:
            changed[0] = first + 1
        _set(other, field, changed)
    else:
        return None
    return other


@pytest.mark.parametrize("name", FIELDS)
def test_changing_a_field_changes_the_bytes(states: list[ProfileState], name: str) -> None:
    tried = 0
    for state in states:
        other = _changed(state, name)
        if other is None:
            continue
        tried += 1
        assert encode_state(other) != encode_state(state), f"{name} of {state.learner}"
    assert tried, f"no simulated state lets {name} be changed"
