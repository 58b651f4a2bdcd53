"""Profile states and held events out of the cyclic collector's walks (``untrack_state``,
``untrack_events``, ``native/src/untrack.rs``).

Untracking must change nothing but the collector's work: the parts of a state and the
containers of its fields are no longer tracked, the state itself still is, and a run that
untracks every state after every event ends with the same states and milestones as one
that never does. Without the native module nothing is untracked.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

import streams.offline
from schemas.catalog import Catalog
from schemas.compiled import shared_native
from schemas.events import LearningEvent, encode_learner_events
from skillstream.config import SAMPLE_CATALOG, load_catalog, load_rules, load_vocabulary
from streams.core import (
    ProfileState,
    Rules,
    apply,
    decode_state,
    encode_state,
    untrack_events,
    untrack_state,
)
from streams.core.state import FIELDS, PARTS
from streams.offline import OfflineResult, run_offline
from streams.pipeline import Ingest
from tools.simulate import Simulation

NATIVE = shared_native()
needs_native = pytest.mark.skipif(NATIVE is None, reason="the native module is not built")


def offline(rules: Rules) -> OfflineResult:
    return run_offline(
        list(Simulation(30, 120, 5)),
        catalog=load_catalog(SAMPLE_CATALOG),
        vocabulary=load_vocabulary(None),
        rules=rules,
        secret=b"untrack",
    )


@pytest.fixture(scope="module")
def rules() -> Rules:
    data: dict[str, Any] = load_rules(None).model_dump(mode="json")
    data["evidence_cap"] = 6  # fold statements: every part, nested lists included, in use
    return Rules.from_data(data)


@pytest.fixture(scope="module")
def states(rules: Rules) -> list[ProfileState]:
    return sorted(offline(rules).states.values(), key=lambda s: s.learner)


def containers(state: ProfileState) -> list[Any]:
    """The state's parts, its fields' lists, sets and dicts, and the lists inside those."""
    found: list[Any] = [getattr(state, part) for part in PARTS]
    for part, name, _ in FIELDS:
        value = getattr(getattr(state, part), name)
        if isinstance(value, (list, set, dict)):
            found.append(value)
            inner = value.values() if isinstance(value, dict) else value
            found.extend(item for item in inner if isinstance(item, list))
    return found


@needs_native
def test_the_parts_and_their_containers_are_untracked_and_the_state_is_not(
    states: list[ProfileState],
) -> None:
    nested = 0
    for original in states:
        state = decode_state(encode_state(original))
        held = containers(state)
        tracked = [c for c in held if gc.is_tracked(c)]  # CPython tracks no empty dict
        assert len(tracked) > len(held) // 2
        assert untrack_state(state) == len(tracked)
        assert not any(gc.is_tracked(c) for c in held)
        assert gc.is_tracked(state)
        assert untrack_state(state) == 0  # nothing left to take out
        assert encode_state(state) == encode_state(original)
        nested += sum(isinstance(c, list) and bool(c) and isinstance(c[0], list) for c in held)
    assert nested, "the states should hold lists of lists (folded statements)"


@needs_native
def test_a_run_that_untracks_every_state_after_every_event_ends_the_same(
    rules: Rules, states: list[ProfileState], monkeypatch: pytest.MonkeyPatch
) -> None:
    untracked = [0]

    def apply_then_untrack(
        state: ProfileState | None, event: LearningEvent, catalog: Catalog, rules: Rules
    ) -> tuple[ProfileState, list[Any]]:
        state, milestones = apply(state, event, catalog, rules)
        untracked[0] += untrack_state(state)
        return state, milestones

    plain = offline(rules)
    monkeypatch.setattr(streams.offline, "apply", apply_then_untrack)
    again = offline(rules)
    assert untracked[0] > 0
    assert sorted(again.states) == sorted(plain.states)
    for learner, state in plain.states.items():
        assert encode_state(again.states[learner]) == encode_state(state)
    assert [m.id for m in again.milestones] == [m.id for m in plain.milestones]
    assert again.profiles == plain.profiles
    assert [encode_state(s) for s in states] == [
        encode_state(again.states[s.learner]) for s in states
    ]


@needs_native
def test_the_native_call_touches_only_what_the_collector_tracks() -> None:
    assert NATIVE is not None
    inner, rows, numbers = [1, 2], {7: [3, 4], 8: "text"}, [5, 6]
    outer = [inner, [8]]
    pair = (object(), [])  # holds a tracked list: a collection never untracks it itself
    assert gc.is_tracked(pair)
    # ints and texts are not the collector's: left alone, not counted
    assert NATIVE.untrack([1, "text", None, numbers, pair], [outer, rows]) == 7
    assert not any(gc.is_tracked(c) for c in (numbers, pair, outer, inner, outer[1], rows))
    assert not gc.is_tracked(rows[7])
    # a list whose first item is no list: its items are not read
    mixed = [0, [9]]
    assert NATIVE.untrack([], [mixed]) == 1
    assert gc.is_tracked(mixed[1])
    assert NATIVE.untrack([numbers], []) == 0


@pytest.mark.skipif(NATIVE is not None, reason="the native module is built")
def test_without_the_native_module_nothing_is_untracked(states: list[ProfileState]) -> None:
    state = decode_state(encode_state(states[0]))
    tracked = [gc.is_tracked(c) for c in containers(state)]
    assert untrack_state(state) == 0
    assert [gc.is_tracked(c) for c in containers(state)] == tracked
    assert all(gc.is_tracked(getattr(state, part)) for part in PARTS)


def learning_events() -> list[LearningEvent]:
    ingest = Ingest(load_catalog(SAMPLE_CATALOG), load_vocabulary(None), b"untrack", "2.0.0")
    events: list[LearningEvent] = []
    for raw in Simulation(5, 30, 3):
        outcome = ingest.record(raw)
        if isinstance(outcome, tuple):
            events.extend(outcome)
    assert len(events) > 20
    return events


@needs_native
def test_held_events_and_their_dicts_are_untracked_and_unchanged() -> None:
    events = learning_events()
    before = [(e.model_dump(), encode_learner_events(e.learner, [e])) for e in events]
    parts = [part for e in events for part in (e, e.__dict__)]
    tracked = sum(gc.is_tracked(p) for p in parts)
    assert tracked >= len(events)
    assert untrack_events(events) == tracked
    assert not any(gc.is_tracked(p) for p in parts)
    assert untrack_events(events) == 0
    assert untrack_events([]) == 0
    assert [(e.model_dump(), encode_learner_events(e.learner, [e])) for e in events] == before


@pytest.mark.skipif(NATIVE is not None, reason="the native module is built")
def test_without_the_native_module_events_stay_tracked() -> None:
    events = learning_events()
    assert untrack_events(events) == 0
    assert all(gc.is_tracked(e) for e in events)
