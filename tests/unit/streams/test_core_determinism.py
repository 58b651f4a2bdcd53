"""Property: any arrival order of the same statements gives the same snapshot."""

from __future__ import annotations

from datetime import timedelta

from core_helpers import T0, catalog, event, run, voiding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.events import EventKind, LearningEvent
from schemas.profiles import ProfileSnapshot
from streams.core import Rules, snapshot, snapshot_json

KINDS = [k for k in EventKind if k is not EventKind.VOIDING]
SKILLS = ["python", "sql", "rust", "communication", "teamwork", "meetups", "cobol"]


@st.composite
def statements(draw: st.DrawFn, max_size: int = 40) -> list[LearningEvent]:
    n = draw(st.integers(min_value=1, max_value=max_size))
    out = []
    for i in range(n):
        kind = draw(st.sampled_from(KINDS))
        minutes = draw(st.integers(min_value=0, max_value=400 * 1440))
        minutes -= minutes % draw(st.sampled_from([1, 1440, 7 * 1440]))
        skills = draw(st.lists(st.sampled_from(SKILLS), max_size=3))
        score = draw(st.one_of(st.none(), st.floats(min_value=-1.0, max_value=1.0)))
        out.append(
            event(
                f"s{i:03d}", kind, skills=skills, score=score, when=T0 + timedelta(minutes=minutes)
            )
        )
    return out


def figures(events: list[LearningEvent], rules: Rules) -> dict[str, object]:
    state, _ = run(events, rules)
    return snapshot(state, catalog(), rules).model_dump(exclude={"milestones"})


FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FAST
@given(
    data=st.data(),
    cap=st.sampled_from([1, 3, 8, 10_000]),
    half_life=st.sampled_from([0.5, 3.0, 180.0]),
)
def test_any_permutation_gives_the_same_snapshot(
    data: st.DataObject, cap: int, half_life: float
) -> None:
    events = data.draw(statements())
    shuffled = data.draw(st.permutations(events))
    rules = Rules(evidence_cap=cap, dedupe_memory=1_000, half_life_days=half_life)
    first, _ = run(events, rules)
    second, _ = run(shuffled, rules)
    assert snapshot(first, catalog(), rules) == snapshot(second, catalog(), rules)


@FAST
@given(data=st.data(), cap=st.sampled_from([2, 10_000]))
def test_figures_are_order_free_with_the_default_rules_and_redeliveries(
    data: st.DataObject, cap: int
) -> None:
    events = data.draw(statements())
    again = data.draw(st.lists(st.sampled_from(events), max_size=10))
    shuffled = data.draw(st.permutations(events + again))
    defaults = Rules.load(None).model_copy(update={"evidence_cap": cap, "dedupe_memory": 1_000})
    assert figures(shuffled, defaults) == figures(events, defaults)


@FAST
@given(data=st.data())
def test_voiding_gives_the_same_snapshot_in_any_order(data: st.DataObject) -> None:
    events = data.draw(statements(max_size=25))
    targets = data.draw(st.lists(st.sampled_from(events), max_size=5, unique=True))
    voids = [voiding(f"v{i:03d}", t.statement_id, days=500) for i, t in enumerate(targets)]
    kept = [e for e in events if e not in targets]
    rules = Rules()
    shuffled = data.draw(st.permutations(events + voids))
    state, _ = run(shuffled, rules)
    if not kept:
        assert not state.active
        return
    expected, _ = run(kept, rules)
    assert snapshot(state, catalog(), rules) == snapshot(expected, catalog(), rules)


@FAST
@given(data=st.data(), half_life=st.sampled_from([0.5, 3.0, 180.0]))
def test_the_published_json_is_the_snapshot_models_json_byte_for_byte(
    data: st.DataObject, half_life: float
) -> None:
    events = data.draw(statements())
    rules = Rules(evidence_cap=8, dedupe_memory=1_000, half_life_days=half_life)
    state, _ = run(events, rules)
    published = snapshot_json(state, catalog(), rules)
    assert published == snapshot(state, catalog(), rules).model_dump_json().encode()
    assert ProfileSnapshot.model_validate_json(published) == snapshot(state, catalog(), rules)


def test_the_published_json_of_the_simulators_learners_is_the_models_json() -> None:
    from skillstream.config import SAMPLE_CATALOG, load_catalog, load_rules, load_vocabulary
    from streams.offline import run_offline
    from tools.simulate import Simulation

    sample, rules = load_catalog(SAMPLE_CATALOG), load_rules(None)
    result = run_offline(
        list(Simulation(120, 90, seed=11)),
        catalog=sample,
        vocabulary=load_vocabulary(None),
        rules=rules,
        secret=b"test",
    )
    states = [state for state in result.states.values() if state.active]
    assert len(states) > 100
    assert any(view.skills and view.milestones for view in result.profiles.values())
    for state in states:
        expected = snapshot(state, sample, rules).model_dump_json().encode()
        assert snapshot_json(state, sample, rules) == expected
