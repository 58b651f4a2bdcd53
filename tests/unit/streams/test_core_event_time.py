"""Milestones as of event time: arrival order does not decide what is achieved.

The definition (docs/profiles-and-milestones.md, "Order and determinism"):
order a learner's statements by (event time, statement id); a milestone is
achieved at the first prefix of that order where its condition holds, as of
that prefix's last event time. What a stream can promise, since a milestone
is emitted once and never retracted:

* completeness: every milestone of the ordered set is fired, whatever the
  arrival order, with the same id;
* stability: a milestone is fired exactly as the ordered set has it (time,
  evidence, summary ...) unless a statement that precedes its crossing
  statement in event order arrives after it was fired;
* so when no milestone is disturbed that way (the common case: statements
  arrive roughly in event time) the milestones, with their content, and the
  final snapshot including ``milestones`` are those of the ordered set.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from core_helpers import T0, at, catalog, event, only, voiding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.events import EventKind, LearningEvent
from schemas.milestones import MilestoneEvent
from streams.core import ProfileState, Rules, apply, snapshot

KINDS = [k for k in EventKind if k is not EventKind.VOIDING]
SKILLS = [
    "python",
    "sql",
    "rust",
    "communication",
    "teamwork",
    "empathy",
    "negotiation",
    "meetups",
    "mentoring",
    "finance",
    "cobol",
]
WIDE = Rules.load(None).model_copy(update={"evidence_cap": 10_000, "dedupe_memory": 10_000})
"""The default rules, with every statement kept whole (no depth limit on lateness)."""

FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def sid(n: int) -> str:
    return str(uuid.UUID(int=n * 0x9E3779B97F4A7C15 % (1 << 128), version=4))


@st.composite
def statements(draw: st.DrawFn, max_size: int = 40) -> list[LearningEvent]:
    n = draw(st.integers(min_value=1, max_value=max_size))
    span = draw(st.sampled_from([20, 60, 200]))
    out = []
    for i in range(n):
        kind = draw(st.sampled_from(KINDS))
        minutes = draw(st.integers(min_value=0, max_value=span * 1440))
        minutes -= minutes % draw(st.sampled_from([1, 1440, 7 * 1440]))
        skills = draw(st.lists(st.sampled_from(SKILLS), max_size=2))
        score = draw(
            st.one_of(
                st.none(),
                st.floats(min_value=-0.2, max_value=1.0),
                st.sampled_from([0.55, 0.8, 0.95, 1.0]),
            )
        )
        when = T0 + timedelta(minutes=minutes)
        out.append(event(sid(i + 1), kind, skills=skills, score=score, when=when))
    return out


def key(e: LearningEvent) -> tuple[object, str]:
    return (e.time, e.statement_id)


def feed(
    events: list[LearningEvent], rules: Rules
) -> tuple[ProfileState, dict[str, MilestoneEvent], dict[str, int]]:
    """Apply in order; every milestone by id, and the arrival index it fired at."""
    state = None
    fired: dict[str, MilestoneEvent] = {}
    when: dict[str, int] = {}
    cat = catalog()
    for n, e in enumerate(events):
        state, out = apply(state, e, cat, rules)
        for m in out:
            assert m.id not in fired, "a milestone fired twice"
            fired[m.id] = m
            when[m.id] = n
    assert state is not None
    return state, fired, when


def disturbed(
    arrival: list[LearningEvent], fired: dict[str, MilestoneEvent], when: dict[str, int]
) -> set[str]:
    """The milestones a statement preceding their crossing statement arrived after."""
    first: dict[str, int] = {}
    for n, e in enumerate(arrival):
        first.setdefault(e.statement_id, n)
    out = set()
    for mid, m in fired.items():
        crossing = (m.data.achieved_at, m.data.evidence[0])
        if any(first[e.statement_id] > when[mid] and key(e) < crossing for e in arrival):
            out.add(mid)
    # A role also depends on the roles before it on its ladder.
    for mid, m in fired.items():
        if m.data.kind == "role_ready" and any(
            o in out and fired[o].data.skill.split("/")[0] == m.data.skill.split("/")[0]
            for o in fired
            if fired[o].data.kind == "role_ready"
            and fired[o].data.achieved_at <= m.data.achieved_at
        ):
            out.add(mid)
    return out


def check(arrival: list[LearningEvent], rules: Rules) -> bool:
    """The guarantees for one arrival order; whether nothing was disturbed."""
    ordered = sorted({e.statement_id: e for e in arrival}.values(), key=key)
    expected_state, expected, _ = feed(ordered, rules)
    state, fired, when = feed(arrival, rules)
    assert set(expected) <= set(fired), "a milestone of the ordered statements is missing"
    moved = disturbed(arrival, fired, when)
    for mid, m in fired.items():
        if mid not in moved:
            assert mid in expected
            assert m == expected[mid]
    cat = catalog()
    mine = snapshot(state, cat, rules)
    theirs = snapshot(expected_state, cat, rules)
    assert mine.model_dump(exclude={"milestones"}) == theirs.model_dump(exclude={"milestones"})
    if not moved:
        assert fired == expected
        assert mine == theirs
    return not moved


@FAST
@given(data=st.data())
def test_any_arrival_order_fires_every_milestone_of_the_ordered_statements(
    data: st.DataObject,
) -> None:
    events = data.draw(statements())
    again = data.draw(st.lists(st.sampled_from(events), max_size=6))
    check(data.draw(st.permutations(events + again)), WIDE)


@FAST
@given(data=st.data())
def test_statements_arriving_a_little_late_give_exactly_the_ordered_milestones(
    data: st.DataObject,
) -> None:
    # The stream's case: roughly event-time order, some statements late, some redelivered.
    events = sorted(data.draw(statements()), key=key)
    arrival = list(events)
    for _ in range(data.draw(st.integers(min_value=0, max_value=4))):
        i = data.draw(st.integers(min_value=0, max_value=len(arrival) - 1))
        late = arrival.pop(i)
        arrival.insert(data.draw(st.integers(min_value=i, max_value=len(arrival))), late)
    arrival += data.draw(st.lists(st.sampled_from(events), max_size=4))
    check(arrival, WIDE)


MONOTONE = Rules.from_data(
    {
        "evidence_cap": 10_000,
        "dedupe_memory": 10_000,
        "rules": {
            "continuous_learner": {
                "levels": [{"name": "2-weeks", "weeks": 2}, {"name": "4-weeks", "weeks": 4}]
            },
            "networker": {
                "window_days": 30,
                "levels": [{"name": "connector", "count": 2}, {"name": "networker", "count": 4}],
            },
        },
    }
)


@FAST
@given(data=st.data())
def test_counts_over_event_time_give_the_same_milestone_ids_in_any_order(
    data: st.DataObject,
) -> None:
    # Active weeks and attendances only grow as statements arrive: no arrival order
    # can fire what the ordered statements do not, so the ids and the snapshots
    # (milestones included) are always the same.
    events = data.draw(statements())
    arrival = data.draw(st.permutations(events))
    ordered = sorted(events, key=key)
    first, expected, _ = feed(ordered, MONOTONE)
    second, fired, _ = feed(arrival, MONOTONE)
    assert set(fired) == set(expected)
    assert snapshot(second, catalog(), MONOTONE) == snapshot(first, catalog(), MONOTONE)


@FAST
@given(data=st.data())
def test_voidings_after_the_statements_change_no_milestone(data: st.DataObject) -> None:
    events = data.draw(statements(max_size=30))
    targets = data.draw(st.lists(st.sampled_from(events), max_size=5, unique=True))
    voids = [voiding(sid(1000 + i), t.statement_id, days=400) for i, t in enumerate(targets)]
    arrival = data.draw(st.permutations(events)) + data.draw(st.permutations(voids))
    ordered = sorted(events, key=key)
    state, fired, when = feed(arrival, WIDE)
    _, before_voids, _ = feed(ordered, WIDE)
    assert all(n < len(events) for n in when.values()), "a voiding fired a milestone"
    kept = [e for e in ordered if e not in targets]
    if not kept:
        assert not state.active
        return
    expected_state, _, _ = feed(kept, WIDE)
    mine = snapshot(state, catalog(), WIDE)
    assert mine.model_dump(exclude={"milestones"}) == snapshot(
        expected_state, catalog(), WIDE
    ).model_dump(exclude={"milestones"})
    assert set(mine.milestones) == set(fired) >= set(before_voids)
    if not disturbed(arrival, fired, when):
        assert set(fired) == set(before_voids)


# --- the cases behind the guarantees ------------------------------------------------------


def attended(name: str, days: float) -> LearningEvent:
    return event(name, EventKind.EVENT_ATTENDED, days, skills=("meetups",))


def test_a_late_older_attendance_still_fires_networker_with_the_older_time() -> None:
    # Connector: 3 attendances in 90 days. b0 (day 5) arrives after the newest
    # statement (day 100), when day 5 is outside the window of day 100; as of event
    # time the third attendance in a window was b2, on day 10.
    rules = only("networker")
    a1, a2, newest, late = (
        attended("b1", 0),
        attended("b2", 10),
        attended("b3", 100),
        attended("b0", 5),
    )
    _, out = feed([a1, a2, newest, late], rules)[0:2]
    assert [m.data.level for m in out.values()] == ["connector"]
    data = next(iter(out.values())).data
    assert data.achieved_at == at(10)
    assert data.evidence == ("b2", "b0", "b1")
    assert data.summary == {"events_in_window": 3, "threshold": 3, "window_days": 90}
    _, in_order, _ = feed(sorted([a1, a2, newest, late], key=key), rules)
    assert out == in_order


def test_a_late_attendance_can_itself_be_the_one_that_crossed() -> None:
    rules = only("networker")
    events = [attended("c1", 0), attended("c2", 3), attended("c9", 100), attended("c3", 6)]
    _, out, when = feed(events, rules)
    (m,) = out.values()
    assert when[m.id] == 3  # fired on the late statement's arrival ...
    assert m.data.achieved_at == at(6)  # ... as of its own event time
    assert m.data.evidence == ("c3", "c2", "c1")


def test_a_late_score_fires_a_level_at_the_statement_it_lifted() -> None:
    # The late score (day 1) lifts python so that the assessment of day 2 reaches
    # practitioner: achieved on day 2, citing both, as if they had come in order.
    rules = only("skill_level_reached")
    events = [
        event("p2", days=2, score=0.7),
        event("other", EventKind.OTHER, days=50, skills=()),
        event("p1", days=1, score=0.9),
    ]
    _, out, _ = feed(events, rules)
    (m,) = out.values()
    assert (m.data.level, m.data.achieved_at, m.data.evidence) == (
        "practitioner",
        at(2),
        ("p2", "p1"),
    )
    assert feed(sorted(events, key=key), rules)[1] == out


def test_a_late_low_score_cannot_withdraw_a_level_already_fired() -> None:
    # The documented limit: practitioner fired on a's arrival (0.5); the late 0.0
    # before it means the ordered statements never reach it. Milestones are not
    # retracted, so the arrival order decides whether this one exists.
    rules = only("skill_level_reached")
    a, low = event("a", days=2, score=1.0), event("low", days=1, score=0.0)
    assert [m.data.level for m in feed([a, low], rules)[1].values()] == ["practitioner"]
    assert feed([low, a], rules)[1] == {}


def test_a_voiding_before_its_target_differs_from_one_after() -> None:
    # Voiding never retracts: after the target, its milestone stays; before it, the
    # target is never applied and never fires anything.
    rules = only("skill_level_reached")
    target, void = event("t", score=1.0), voiding("v", "t", days=1)
    other = event("o", EventKind.OTHER, days=2, skills=())
    after = feed([target, other, void], rules)
    before = feed([void, target, other], rules)
    assert len(after[1]) == 1
    assert before[1] == {}
    assert snapshot(after[0], catalog(), rules).milestones == tuple(after[1])
    assert snapshot(before[0], catalog(), rules) == snapshot(after[0], catalog(), rules).model_copy(
        update={"milestones": ()}
    )


def test_a_statement_older_than_everything_kept_is_judged_at_the_kept_ones() -> None:
    # The documented limit of the bounded state: with two statements kept whole,
    # "old" (day 1) is older than everything kept and is folded at once. Its score
    # counts in every figure, and the level it makes reachable is found at the first
    # kept assessment where it holds (c, day 12) rather than at its own time.
    rules = only("skill_level_reached", levels=[{"name": "x", "proficiency": 0.5}]).model_copy(
        update={"evidence_cap": 2}
    )
    events = [
        event("a", days=10, score=0.5),
        event("b", days=11, score=0.6),
        event("c", days=12, score=0.6),
        event("old", days=1, score=1.0),
        event("d", days=13, score=0.7),
    ]
    state, out, when = feed(events, rules)
    (m,) = out.values()
    assert (m.data.achieved_at, m.data.evidence[0], when[m.id]) == (at(12), "c", 3)
    ordered, in_order, _ = feed(sorted(events, key=key), rules)
    assert set(in_order) == set(out)
    assert next(iter(in_order.values())).data.achieved_at == at(1)
    assert snapshot(state, catalog(), rules) == snapshot(ordered, catalog(), rules)
