"""The profile reducer: proficiency and decay, streaks, windows, order, voiding, duplicates,
the evidence cap and the state codec."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from core_helpers import LEARNER, T0, at, catalog, event, long_history, run, voiding
from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas.catalog import Skill
from schemas.events import DERIVED, EventKind, LearningEvent
from schemas.profiles import ProfileSnapshot
from schemas.trusted import trusted
from streams.core import (
    STATE_FORMAT_VERSION,
    ProfileState,
    Rules,
    apply,
    decode_state,
    encode_state,
    snapshot,
)
from streams.core.milestones import (
    SHORT_LIST,
    iso_week,
    level_of,
    level_pair,
    level_without,
    unique,
)
from streams.core.profile import add_mass
from streams.core.snapshot import snapshot_json
from streams.core.state import (
    DAY_US,
    EPOCH,
    HALF_LIFE_DAYS,
    SCALE,
    Decay,
    bump,
    from_micros,
    python_from_micros,
    python_statement_key,
    round_even,
    to_micros,
    week_of,
)

RULES = Rules()
T0_MICROS = to_micros(T0)


def snap(state: ProfileState, rules: Rules = RULES) -> ProfileSnapshot:
    return snapshot(state, catalog(), rules)


def skill(s: ProfileSnapshot, skill_id: str) -> dict[str, Any]:
    found = [k for k in s.skills if k.skill == skill_id]
    assert found, f"{skill_id} not in the snapshot"
    return found[0].model_dump()


# --- proficiency -------------------------------------------------------------


def test_one_score_is_weighed_against_the_prior() -> None:
    state, _ = run([event("a", score=0.8)])
    assert skill(snap(state), "python")["proficiency"] == 0.4


def test_scores_at_the_same_time_average_with_the_prior() -> None:
    state, _ = run([event("a", score=0.8), event("b", score=0.6)])
    assert skill(snap(state), "python")["proficiency"] == 0.4667


def test_prior_weight_is_a_knob() -> None:
    rules = Rules(prior_weight=0.25)
    state, _ = run([event("a", score=0.8)], rules)
    assert skill(snap(state, rules), "python")["proficiency"] == 0.64


@pytest.mark.parametrize(("days", "expected"), [(0, 0.5), (180, 0.3333), (360, 0.2)])
def test_evidence_halves_every_half_life_of_event_time(days: int, expected: float) -> None:
    events = [event("a", score=1.0)]
    if days:
        events.append(event("later", EventKind.OTHER, days=days, skills=()))
    state, _ = run(events)
    assert skill(snap(state), "python")["proficiency"] == expected


def test_a_new_score_outweighs_an_old_one_by_its_decay() -> None:
    state, _ = run([event("a", score=1.0), event("b", days=180, score=0.0)])
    assert skill(snap(state), "python")["proficiency"] == 0.2


def test_half_life_is_a_knob() -> None:
    events = [event("a", score=1.0), event("b", EventKind.OTHER, days=30, skills=())]
    state, _ = run(events, Rules(half_life_days=30))
    assert skill(snap(state, Rules(half_life_days=30)), "python")["proficiency"] == 0.3333


def test_decay_spans_bucket_boundaries_smoothly() -> None:
    # 8 half-lives of 1 day: buckets end every 8 days; cross several of them.
    rules = Rules(half_life_days=1)
    events = [event(f"s{i}", days=i * 0.7, score=1.0) for i in range(40)]
    state, _ = run(events, rules)
    s_total = sum(2 ** (-(27.3 - i * 0.7)) for i in range(40))
    expected = round(s_total / (s_total + 1.0), 4)
    assert abs(skill(snap(state, rules), "python")["proficiency"] - expected) <= 0.0001


def test_negative_scores_count_as_zero() -> None:
    state, _ = run([event("a", score=-0.5)])
    python = skill(snap(state), "python")
    assert python["proficiency"] == 0.0
    assert python["latest_score"] == 0.0
    assert python["assessments"] == 1


def test_certification_without_score_counts_as_its_implied_score() -> None:
    state, _ = run([event("a", EventKind.CERTIFICATION_EARNED)])
    s = snap(state)
    assert skill(s, "python")["proficiency"] == 0.45
    assert s.certifications == 1
    assert s.assessments == 1
    state, _ = run([event("a", EventKind.CERTIFICATION_EARNED)], Rules(certification_score=None))
    assert skill(snap(state), "python")["proficiency"] == 0.0


def test_passed_course_without_score_is_exposure_unless_configured() -> None:
    state, _ = run([event("a", EventKind.COURSE_PASSED)])
    s = snap(state)
    assert skill(s, "python")["proficiency"] == 0.0
    assert skill(s, "python")["courses_completed"] == 1
    assert s.assessments == 0
    rules = Rules(course_passed_score=0.6)
    state, _ = run([event("a", EventKind.COURSE_PASSED)], rules)
    assert skill(snap(state, rules), "python")["proficiency"] == 0.3


def test_a_score_without_skills_is_no_evidence() -> None:
    state, _ = run([event("a", skills=(), score=0.9)])
    s = snap(state)
    assert s.skills == ()
    assert s.assessments == 0
    assert s.statements == 1


def test_counters_and_per_skill_exposure() -> None:
    state, _ = run(
        [
            event("c1", EventKind.COURSE_COMPLETED, 0, skills=("python", "sql")),
            event("c2", EventKind.COURSE_PASSED, 1, skills=("python",), score=0.9),
            event("f1", EventKind.COURSE_FAILED, 2, skills=("python",), score=0.2),
            event("e1", EventKind.EVENT_ATTENDED, 3, skills=("meetups",)),
            event("m1", EventKind.COLLABORATION, 4, skills=("mentoring",)),
            event("o1", EventKind.OTHER, 5, skills=()),
            event("dup-skill", EventKind.SKILL_ASSESSED, 6, skills=("sql", "sql"), score=0.5),
        ]
    )
    s = snap(state)
    assert (
        s.statements,
        s.courses_completed,
        s.events_attended,
        s.assessments,
        s.collaborations,
        s.certifications,
    ) == (7, 2, 1, 3, 1, 0)
    python = skill(s, "python")
    assert python["courses_completed"] == 2
    assert python["assessments"] == 2
    assert python["latest_score"] == 0.2
    assert python["best_score"] == 0.9
    assert python["last_activity"] == at(2)
    assert skill(s, "sql")["assessments"] == 1
    assert skill(s, "meetups")["events_attended"] == 1
    assert skill(s, "meetups")["category"] == "networking"
    assert s.first_activity == at(0)
    assert s.as_of == at(6)
    assert [k.skill for k in s.skills] == sorted(k.skill for k in s.skills)
    assert ProfileSnapshot.model_validate_json(s.model_dump_json()) == s


def test_a_skill_unknown_to_the_catalog_has_no_category() -> None:
    state, _ = run([event("a", skills=("cobol",), score=0.5)])
    assert skill(snap(state), "cobol")["category"] is None


def test_a_snapshot_takes_categories_from_the_catalog_as_it_is_now() -> None:
    """A skill put again with another category, or removed, shows in the next snapshot,
    in both of its forms (the model and the JSON the profile stage publishes)."""
    state, _ = run([event("a", skills=("python", "sql"), score=0.5)])
    live = catalog()
    live.put(Skill(id="python", name="Python", category="data"))
    live.remove("skill:sql")
    for made in (
        snapshot(state, live, RULES),
        ProfileSnapshot.model_validate_json(snapshot_json(state, live, RULES)),
    ):
        assert skill(made, "python")["category"] == "data"
        assert skill(made, "sql")["category"] is None


# --- weekly streaks ----------------------------------------------------------


def weekly(days: list[float]) -> ProfileSnapshot:
    state, _ = run([event(f"w{i}", EventKind.OTHER, d, skills=()) for i, d in enumerate(days)])
    return snap(state)


def test_streak_counts_consecutive_iso_weeks() -> None:
    s = weekly([0, 7, 14, 15, 16])
    assert (s.weekly_streak, s.longest_streak) == (3, 3)


def test_a_week_without_activity_breaks_the_streak() -> None:
    s = weekly([0, 7, 14, 28, 35])
    assert (s.weekly_streak, s.longest_streak) == (2, 3)


def test_weeks_start_on_monday() -> None:
    sunday = 6.5  # T0 is a Monday morning
    assert weekly([0, sunday]).weekly_streak == 1
    assert weekly([sunday, 7]).weekly_streak == 2


def test_streak_runs_across_a_53_week_year() -> None:
    days = [
        datetime(2020, 12, 21, tzinfo=UTC),
        datetime(2020, 12, 31, tzinfo=UTC),
        datetime(2021, 1, 4, tzinfo=UTC),
    ]
    assert [d.isocalendar().week for d in days] == [52, 53, 1]
    events = [event(f"w{i}", EventKind.OTHER, skills=(), when=d) for i, d in enumerate(days)]
    state, _ = run(events)
    assert snap(state).weekly_streak == 3


def test_a_late_statement_can_join_two_runs() -> None:
    state, _ = run(
        [
            event(f"w{i}", EventKind.OTHER, d, skills=())
            for i, d in enumerate([0, 7, 21, 28, 35, 14])
        ]
    )
    s = snap(state)
    assert (s.weekly_streak, s.longest_streak) == (6, 6)


def test_the_streak_ends_at_the_newest_week_not_the_clock() -> None:
    s = weekly([0, 7, 14])
    assert s.as_of == at(14)
    assert s.weekly_streak == 3


# --- windows -----------------------------------------------------------------


def test_window_counts_are_relative_to_the_newest_event() -> None:
    # The window is the 90 UTC days ending on the newest event's day.
    events = [
        event("old", EventKind.EVENT_ATTENDED, 0, skills=()),
        event("edge-out", EventKind.EVENT_ATTENDED, 10, skills=()),
        event("edge-in", EventKind.EVENT_ATTENDED, 11, skills=()),
        event("new", EventKind.EVENT_ATTENDED, 100, skills=()),
        event("course", EventKind.COURSE_COMPLETED, 50, skills=()),
    ]
    s = snap(run(events)[0])
    assert s.window_days == 90
    assert s.events_in_window == 2
    assert s.activity_in_window == 3
    assert s.events_attended == 4


def test_a_backfill_of_last_year_gives_last_years_answers() -> None:
    base = datetime(2019, 3, 4, tzinfo=UTC)
    events = [
        event(f"b{i}", EventKind.EVENT_ATTENDED, skills=(), when=base + timedelta(days=i))
        for i in range(5)
    ]
    s = snap(run(events)[0])
    assert s.as_of == base + timedelta(days=4)
    assert s.events_in_window == 5
    assert s.activity_in_window == 5


def test_window_days_is_a_knob() -> None:
    rules = Rules(window_days=7)
    events = [event(f"e{i}", EventKind.EVENT_ATTENDED, i * 3, skills=()) for i in range(5)]
    s = snap(run(events, rules)[0], rules)
    assert (s.window_days, s.events_in_window, s.activity_in_window) == (7, 3, 3)


# --- arrival order -----------------------------------------------------------


def mixed_events() -> list[LearningEvent]:
    return [
        event("a", EventKind.SKILL_ASSESSED, 0, ("python",), 0.6),
        event("b", EventKind.COURSE_COMPLETED, 3, ("python", "sql")),
        event("c", EventKind.EVENT_ATTENDED, 9, ("meetups",)),
        event("d", EventKind.SKILL_ASSESSED, 40, ("sql",), 0.9),
        event("e", EventKind.SKILL_ASSESSED, 41, ("python",), 0.75),
        event("f", EventKind.COLLABORATION, 70, ("mentoring",)),
        event("g", EventKind.OTHER, 120, ()),
        event("h", EventKind.SKILL_ASSESSED, 121, ("python",), 0.95),
    ]


@pytest.mark.parametrize(
    "order", [[7, 6, 5, 4, 3, 2, 1, 0], [3, 0, 7, 1, 6, 2, 5, 4], [0, 1, 2, 3, 4, 5, 7, 6]]
)
def test_out_of_order_statements_fold_in_exactly(order: list[int]) -> None:
    events = mixed_events()
    in_order = snap(run(events)[0])
    shuffled = snap(run([events[i] for i in order])[0])
    assert shuffled == in_order


def test_statements_older_than_everything_kept_fold_straight_into_aggregates() -> None:
    rules = Rules(evidence_cap=2)
    events = mixed_events()
    late_first = snap(run(events[3:] + events[:3], rules)[0], rules)
    assert late_first == snap(run(events, rules)[0], rules)
    assert late_first == snap(run(events)[0], rules)


# --- duplicates --------------------------------------------------------------


def test_a_statement_applied_twice_counts_once() -> None:
    events = mixed_events()
    once = snap(run(events)[0])
    assert snap(run([*events, events[0], events[4], events[-1]])[0]) == once


def test_a_redelivery_with_another_time_is_still_a_duplicate() -> None:
    first = event("x", days=5, score=0.8)
    again = event("x", days=9, score=0.8)
    assert snap(run([first, again])[0]) == snap(run([first])[0])


def test_duplicates_of_folded_statements_are_caught_within_the_memory() -> None:
    rules = Rules(evidence_cap=2, dedupe_memory=100)
    events = mixed_events()
    once = snap(run(events, rules)[0], rules)
    assert snap(run([*events, events[0], events[1]], rules)[0], rules) == once


def test_the_memory_of_seen_ids_is_bounded() -> None:
    # Documented bound: kept statements plus `dedupe_memory` other ids. Beyond
    # that a very old redelivery is applied again.
    rules = Rules(evidence_cap=1, dedupe_memory=1)
    events = mixed_events()
    state, _ = run([*events, events[0]], rules)
    assert len(state.memory.seen) <= 1
    assert len(state.kept.rt) <= 1
    assert snap(state, rules).statements == len(events) + 1


# --- voiding -----------------------------------------------------------------


def test_voiding_withdraws_a_statement_in_either_order() -> None:
    events = mixed_events()
    target = events[4]
    without = snap(run([e for e in events if e is not target])[0])
    void = voiding("v1", target.statement_id, days=200)
    after = snap(run([*events, void])[0])
    before = snap(run([void, *events])[0])
    assert after == without
    assert before == without


def test_voiding_the_newest_statement_moves_the_clock_back() -> None:
    events = mixed_events()
    s = snap(run([*events, voiding("v", "h", days=300)])[0])
    assert s.as_of == at(120)
    assert skill(s, "python")["latest_score"] == 0.75


def test_voiding_restores_maxima_from_what_is_left() -> None:
    events = [
        event("a", days=0, score=0.5),
        event("b", days=1, score=0.9),
        event("c", days=2, score=0.7),
    ]
    s = snap(run([*events, voiding("v", "b")])[0])
    assert skill(s, "python")["best_score"] == 0.7
    assert skill(s, "python")["assessments"] == 2
    s = snap(run([*events, voiding("v", "c")])[0])
    assert skill(s, "python")["latest_score"] == 0.9
    assert skill(s, "python")["last_activity"] == at(1)


def test_voiding_the_only_statement_of_a_skill_removes_the_skill() -> None:
    events = [event("a", skills=("sql",), score=0.5), event("b", days=1, score=0.9)]
    s = snap(run([*events, voiding("v", "a")])[0])
    assert [k.skill for k in s.skills] == ["python"]


def test_a_voided_statement_stays_out_when_redelivered() -> None:
    events = mixed_events()
    void = voiding("v1", "e")
    once = snap(run([*events, void])[0])
    assert snap(run([*events, void, events[4], void])[0]) == once


def test_a_voiding_alone_leaves_no_profile_but_is_remembered() -> None:
    state, _ = run([voiding("v1", "a")])
    assert not state.active
    with pytest.raises(ValueError, match="no statement"):
        snap(state)
    state, _ = run([event("a", score=0.9)], state=decode_state(encode_state(state)))
    assert not state.active


def test_voiding_cannot_reach_a_statement_already_folded() -> None:
    # Documented limit: once more than `evidence_cap` newer statements are kept,
    # a statement lives on only in aggregates and a voiding no longer removes it.
    rules = Rules(evidence_cap=2)
    events = mixed_events()
    state, _ = run([*events, voiding("v", "a", days=300)], rules)
    assert snap(state, rules).statements == len(events)


def test_voiding_a_voiding_or_an_unknown_id_changes_nothing() -> None:
    events = mixed_events()
    plain = snap(run(events)[0])
    assert snap(run([*events, voiding("v", "nothing")])[0]) == plain
    assert snap(run([*events, voiding("v", "v")])[0]) == plain


# --- evidence cap ------------------------------------------------------------


def test_the_evidence_cap_keeps_state_flat() -> None:
    rules = Rules(evidence_cap=32, dedupe_memory=64)
    sizes = []
    state = None
    for chunk in range(4):
        state, _ = run(long_history(2000)[chunk * 500 : (chunk + 1) * 500], rules, state=state)
        assert len(state.kept.rt) <= 32
        assert len(state.memory.seen) <= 64
        sizes.append(len(encode_state(state)))
    assert max(sizes) < 1.2 * min(sizes)


def test_results_do_not_depend_on_the_cap() -> None:
    events = long_history(600)
    small = Rules(evidence_cap=8)
    big = Rules(evidence_cap=10_000)
    assert snap(run(events, small)[0], small) == snap(run(events, big)[0], big)
    reversed_small = snap(run(events[::-1], small)[0], small)
    assert reversed_small == snap(run(events, big)[0], big)


# --- codec and contract ------------------------------------------------------


def test_encode_decode_round_trip() -> None:
    rules = Rules(evidence_cap=16)
    events = long_history(300)
    state, _ = run(events[:200], rules)
    data = encode_state(state)
    copy = decode_state(data)
    assert encode_state(copy) == data
    assert snap(copy, rules) == snap(state, rules)
    assert data[0] == STATE_FORMAT_VERSION
    continued, _ = run(events[200:], rules, state=copy)
    straight, _ = run(events, rules)
    assert encode_state(continued) == encode_state(straight)


def test_decode_refuses_other_formats() -> None:
    state, _ = run(mixed_events())
    data = encode_state(state)
    with pytest.raises(ValueError, match=f"format 1 is not {STATE_FORMAT_VERSION}; rebuild"):
        decode_state(orjson.dumps([1, "lk-test-learner", 180.0, []]))  # the first format
    with pytest.raises(ValueError, match="format"):
        decode_state(bytes([STATE_FORMAT_VERSION + 1]) + data[1:])
    with pytest.raises(ValueError, match="not an encoded profile state"):
        decode_state(b"\x00garbage")
    with pytest.raises(ValueError, match="not an encoded profile state"):
        decode_state(b"")
    with pytest.raises(ValueError, match=r"wrong shape|truncated"):
        decode_state(data[:-3])
    with pytest.raises(ValueError, match="wrong shape"):
        decode_state(data + b"\x00")
    with pytest.raises(ValueError, match="wrong shape"):
        decode_state(bytes([STATE_FORMAT_VERSION]) + b"x" * 40)


def test_a_state_keeps_its_half_life() -> None:
    state, _ = run([event("a", score=1.0)], Rules(half_life_days=30))
    assert decode_state(encode_state(state)).half_life_days == 30


def test_apply_refuses_another_learners_state() -> None:
    state, _ = run([event("a", score=0.5)])
    with pytest.raises(ValueError, match="applied to the profile of"):
        apply(state, event("b", learner="someone-else"), catalog(), RULES)


def test_apply_mutates_and_returns_the_same_state() -> None:
    state, _ = run([event("a", score=0.5)])
    again, _ = apply(state, event("b", days=1, score=0.6), catalog(), RULES)
    assert again is state
    assert state.learner == LEARNER


def test_microsecond_times_order_statements() -> None:
    first = event("z", when=T0 + timedelta(microseconds=1), score=0.1)
    second = event("a", when=T0 + timedelta(microseconds=2), score=0.9)
    s = snap(run([second, first])[0])
    assert skill(s, "python")["latest_score"] == 0.9
    assert s.as_of == T0 + timedelta(microseconds=2)


def test_voiding_after_a_round_trip_takes_back_exactly_what_was_added() -> None:
    rules = Rules(half_life_days=0.1)
    events = [event(f"s{i}", days=i * 0.013, score=(i % 7) / 7) for i in range(20)]
    state, _ = run(events, rules)
    state, _ = run([voiding("v", "s5", days=1)], rules, state=decode_state(encode_state(state)))
    without, _ = run([e for e in events if e.statement_id != "s5"], rules)
    assert snap(state, rules) == snap(without, rules)
    mine, theirs = state.skills.names.index("python"), without.skills.names.index("python")
    assert state.skills.buckets[mine] == without.skills.buckets[theirs]
    assert state.skills.assessed[mine] == without.skills.assessed[theirs]
    data = encode_state(state)
    assert b"s5" not in data  # remembered as voided by a hash of its id, nothing else
    assert len(decode_state(data).memory.seen) == 2  # the voiding and the voided


def test_the_codec_keeps_every_layout() -> None:
    # More skills than a 64-bit code holds, ids that are not UUIDs, a day with more
    # statements than a byte counts, folded statements and a pending voiding.
    rules = Rules(evidence_cap=4, dedupe_memory=8)
    events = [
        event(f"s{i}", days=i / 1000, skills=(f"skill-{i % 70}",), score=(i % 10) / 10)
        for i in range(400)
    ]
    state, _ = run([*events, voiding("v", "later")], rules)
    assert len(state.skills.names) == 70
    assert max(state.folded.fold_days) > 255
    data = encode_state(state)
    copy = decode_state(data)
    assert encode_state(copy) == data
    assert snap(copy, rules) == snap(state, rules)
    more = [event(f"t{i}", days=1 + i, skills=("skill-69", "python"), score=0.5) for i in range(3)]
    assert snap(run(more, rules, state=copy)[0], rules) == snap(
        run(more, rules, state=state)[0], rules
    )


def test_uuid_ids_are_kept_as_128_bits_and_cited_as_sent() -> None:
    sid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    state, _ = run([event(sid, score=0.5), event("not-a-uuid", days=1, score=0.5)])
    data = encode_state(state)
    assert sid.encode() not in data
    assert b"not-a-uuid" in data  # only ids that are not canonical UUIDs are kept as text
    copy = decode_state(data)
    assert [copy.id_text(i) for i in range(len(copy.kept.rt))] == [sid, "not-a-uuid"]
    upper = sid.upper()
    state, _ = run([event(upper, score=0.5)])
    assert decode_state(encode_state(state)).id_text(0) == upper


def test_a_typical_state_is_small() -> None:
    # 120 statements over two months, six skills: the kept ones dominate.
    skills = ["python", "sql", "communication", "teamwork", "meetups", "finance"]
    kinds = [
        EventKind.SKILL_ASSESSED,
        EventKind.COURSE_COMPLETED,
        EventKind.OTHER,
        EventKind.EVENT_ATTENDED,
    ]
    events = [
        event(
            str(uuid.UUID(int=i + 1, version=4)),
            kinds[i % 4],
            i / 2,
            (skills[i % 6],),
            score=0.6 + (i % 4) / 10 if i % 4 == 0 else None,
        )
        for i in range(120)
    ]
    state, _ = run(events, Rules.load(None))
    assert len(encode_state(state)) < 3000


@pytest.mark.parametrize(
    "when",
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2025, 1, 6, 9, 0, 0, 999_999, tzinfo=UTC),
        datetime(2105, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2106, 2, 7, 6, 28, 16, 1, tzinfo=UTC),
        datetime(2300, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_event_times_keep_their_microseconds(when: datetime) -> None:
    state, _ = run([event("a", when=when, score=0.5)])
    assert snap(state).as_of == when
    assert snap(decode_state(encode_state(state))).as_of == when


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),  # a day in: any zone still has a UTC instant
        max_value=datetime(9999, 12, 31, 23, 59, 59, 999_999),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
    )
)
@example(datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
@example(datetime(1, 1, 1, tzinfo=UTC))
def test_an_event_time_in_microseconds(when: datetime) -> None:
    """``to_micros`` (how ``apply`` reads an event's time) is the integer division it
    replaced, and ``from_micros`` takes it back to the same instant."""
    micros = to_micros(when)
    assert micros == (when - EPOCH) // timedelta(microseconds=1)
    for back in (from_micros(micros), python_from_micros(micros)):
        assert back == when
        assert back.tzinfo is UTC


@pytest.mark.parametrize(
    "when",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1600, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1900, 3, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2000, 2, 29, 12, tzinfo=UTC),
        datetime(2024, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2106, 2, 7, 6, 28, 16, tzinfo=UTC),  # 2**32 s
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_a_time_in_microseconds_back_to_its_date(when: datetime) -> None:
    micros = to_micros(when)
    for back in (from_micros(micros), python_from_micros(micros)):
        assert (back, back.tzinfo) == (when, UTC)
        assert type(back) is datetime
        assert repr(back) == repr(when)


@pytest.mark.parametrize(
    "micros",
    [
        to_micros(datetime(1, 1, 1, tzinfo=UTC)) - 1,
        to_micros(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) + 1,
        1 << 62,
        1 << 64,
    ],
)
def test_a_time_past_the_years_of_a_datetime(micros: int) -> None:
    for made in (from_micros, python_from_micros):
        with pytest.raises(OverflowError):
            made(micros)


def _iso_week_of(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def test_iso_weeks_from_1900_to_2200() -> None:
    """``iso_week`` (worked out in integers) names the ISO week ``date.isocalendar`` gives
    for every week number of three centuries, leap years and 53-week years among them."""
    epoch = date(1970, 1, 1)
    first, last = week_of_day((date(1900, 1, 1) - epoch).days), (date(2200, 1, 1) - epoch).days
    for week in range(first, week_of_day(last)):
        monday = epoch + timedelta(days=week * 7 - 3)
        assert iso_week(week) == _iso_week_of(monday), monday
        assert iso_week(week) == _iso_week_of(monday + timedelta(days=6)), monday


@settings(max_examples=500)
@given(st.dates(min_value=date(1, 1, 8), max_value=date(9999, 12, 24)))
@example(date(1, 1, 8))
@example(date(9999, 12, 24))
@example(date(2000, 2, 29))
@example(date(2100, 3, 1))
def test_iso_week_of_any_day(day: date) -> None:
    """The day's week (``week_of``, as the continuous-learner kind counts) is the ISO week
    of that day, for any day whose whole week is a ``date``."""
    micros = to_micros(datetime(day.year, day.month, day.day, tzinfo=UTC))
    assert iso_week(week_of(micros)) == _iso_week_of(day)


def week_of_day(day: int) -> int:
    return week_of(day * 86_400_000_000)


# --- values the native ingest derived (schemas.events.DERIVED) ----------------


def _carrying(e: LearningEvent, hi: int, lo: int, micros: int) -> LearningEvent:
    """``e`` holding DERIVED values, as the native ingest leaves them (made up here)."""
    values = dict(e.__dict__)
    values[DERIVED] = (e.statement_id, e.time, hi, lo, micros)
    return trusted(LearningEvent, values)


def test_the_core_takes_derived_values_while_the_event_holds_their_sources() -> None:
    plain = event(str(uuid.UUID(int=7)), days=3, score=0.8)
    hi, lo, _ = python_statement_key(plain.statement_id)
    right = _carrying(plain, hi, lo, to_micros(plain.time))
    assert right == plain
    assert encode_state(apply(None, right, catalog(), RULES)[0]) == encode_state(
        apply(None, plain, catalog(), RULES)[0]
    )
    # made-up values are taken as they are: the core does not work them out again
    early = to_micros(plain.time) - 86_400_000_000
    taken, _ = apply(None, _carrying(plain, hi, lo + 1, early), catalog(), RULES)
    assert taken.newest == early
    assert taken.kept.rl == [lo + 1]


@pytest.mark.parametrize("changed", ["time", "statement_id", "both"])
def test_a_copy_with_other_fields_leaves_the_derived_values(changed: str) -> None:
    plain = event(str(uuid.UUID(int=7)), days=3, score=0.8)
    stale = _carrying(plain, 1, 2, 3)  # wrong for any event: must not be taken
    update: dict[str, Any] = {}
    if changed in ("time", "both"):
        update["time"] = plain.time + timedelta(days=2)
    if changed in ("statement_id", "both"):
        update["statement_id"] = str(uuid.UUID(int=8))
    copy = stale.model_copy(update=update)
    assert DERIVED in copy.__dict__  # pydantic copies the key with the dict
    expected = LearningEvent.model_validate(copy.model_dump())
    assert encode_state(apply(None, copy, catalog(), RULES)[0]) == encode_state(
        apply(None, expected, catalog(), RULES)[0]
    )


def test_an_event_that_changes_nothing_is_not_timed() -> None:
    """A repeated statement, or a voiding one, is taken without reading its time: one that
    only a hand-made record could give (naive here) does not fail them."""
    state, _ = apply(None, event(str(uuid.UUID(int=7)), days=3, score=0.8), catalog(), RULES)
    before = encode_state(state)
    naive = datetime(2026, 1, 5, 9)  # no zone, on purpose
    again = event(str(uuid.UUID(int=7)), days=3, score=0.8).model_copy(update={"time": naive})
    void = voiding(str(uuid.UUID(int=9)), str(uuid.UUID(int=7))).model_copy(update={"time": naive})
    state, fired = apply(state, again, catalog(), RULES)
    assert (encode_state(state), fired) == (before, [])
    state, fired = apply(state, void, catalog(), RULES)
    assert fired == []
    assert state.kept.rt == []  # the voided statement is withdrawn


@given(st.floats(allow_nan=False, allow_infinity=False))
@example(0.5)
@example(1.5)
@example(2.5)
@example(-0.5)
@example(-1.5)
@example(4503599627370495.5)
@example(-4503599627370495.5)
@example(2.0**53 + 2)
@example(-0.0)
def test_round_even_is_round(x: float) -> None:
    assert round_even(x) == round(x)
    assert type(round_even(x)) is int


@pytest.mark.parametrize("x", [math.nan, math.inf, -math.inf])
def test_round_even_refuses_what_round_refuses(x: float) -> None:
    with pytest.raises((ValueError, OverflowError)) as raised:
        round(x)
    with pytest.raises(raised.type):
        round_even(x)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 400), st.integers(-3, 4)), max_size=60),
    st.integers(-10, 420),
)
def test_attendances_since_a_day_are_those_bumped_on_it_or_later(
    bumps: list[tuple[int, int]], since: int
) -> None:
    """``attended_since`` against a plain count per day, after bumps in any order (days
    before the first one move the base, a count that reaches 0 goes)."""
    state = ProfileState(LEARNER, 30.0)
    per_day: dict[int, int] = {}
    day0 = 20_000
    for day, by in bumps:
        state.bump_attended(day0 + day, by)
        known = per_day.get(day)
        if known is None:
            if by > 0:
                per_day[day] = by
        elif known + by <= 0:
            del per_day[day]
        else:
            per_day[day] = known + by
    expected = sum(n for day, n in per_day.items() if day >= since)
    assert state.attended_since(day0 + since) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2_400), st.floats(0.0, 1.0)), min_size=1, max_size=12),
    st.integers(0, 11),
    st.integers(0, 400),
)
def test_a_pair_of_levels_is_the_level_with_and_without_the_trigger(
    scores: list[tuple[int, float]], pick: int, later: int
) -> None:
    """``level_pair`` gives ``level_without`` and ``level_of`` exactly: the kinds read a
    skill's proficiency from the pair where the statement has one, else from ``level_of``,
    and must see one figure either way. Scores over 2,400 days fill several buckets (one
    spans 8 half-lives, 240 days)."""
    decay = Decay(30.0)
    flat: list[int] = []
    quants = []
    for day, score in sorted(scores):
        quant = decay.quantize(T0_MICROS + day * DAY_US, score)
        quants.append(quant)
        add_mass(flat, *quant)
    trigger = quants[pick % len(quants)]
    now = T0_MICROS + (max(day for day, _ in scores) + later) * DAY_US
    prior = 1.0 * SCALE
    assert level_pair(decay, flat, now, prior, trigger) == (
        level_without(decay, flat, now, prior, trigger),
        level_of(decay, flat, now, prior),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([f"id-{n}" for n in range(40)]), max_size=3 * SHORT_LIST))
def test_evidence_without_repeats_keeps_each_id_where_it_first_comes(ids: list[str]) -> None:
    """``unique`` is ``tuple(dict.fromkeys(...))`` for short lists (a scan) and long ones
    (a dict), repeats or none; the ids are made afresh, so equal ones are not the same
    object."""
    fresh = ["".join(list(item)) for item in ids]
    assert unique(fresh) == tuple(dict.fromkeys(ids))


FIRST_US = to_micros(datetime(1, 1, 1, tzinfo=UTC))
LAST_US = to_micros(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))


@settings(max_examples=500, deadline=None)
@given(
    st.floats(*HALF_LIFE_DAYS),
    st.integers(FIRST_US, LAST_US),
    st.integers(-40, 40),
    st.floats(0.0, 1.0),
)
@example(36_500.0, LAST_US, 0, 1.0)  # a span past 2**53: every bucket by the integers
@example(3_650.0, 0, -3, 0.5)  # three spans fit below 2**53: k = offset + 1 = -2 is inside
@example(3_650.0, 0, -4, 0.5)  # k = -3, the first outside
@example(3_650.0, 0, 2, 0.5)  # k = 3, the first outside above
@example(HALF_LIFE_DAYS[0], FIRST_US, 40, 0.0)
def test_a_buckets_scale_and_a_scores_quanta_are_the_integer_expressions(
    days: float, now: int, offset: int, score: float
) -> None:
    """``Decay.scale`` works out ``end_b - now`` in doubles near ``now`` and ``quantize``
    ``t - end_b`` as ``t % span - span``: both give the very double the integer
    expressions give, for any half-life the rules take, any time from year 1 to 9999, and
    buckets on both sides of ``now``'s, near and far."""
    decay = Decay(days)
    span = decay.span
    bucket = now // span + offset
    assert decay.scale(bucket, now) == math.exp2(((bucket + 1) * span - now) / decay.half_life)
    w = math.exp2((now - (now // span + 1) * span) / decay.half_life) * SCALE
    assert decay.quantize(now, score) == (now // span, round_even(score * w), round_even(w))


@given(st.lists(st.integers(), min_size=1, max_size=5), st.integers(0, 4), st.integers())
def test_a_bump_adds_as_an_augmented_assignment_does(column: list[int], at: int, by: int) -> None:
    """``bump`` adds any ints (past 64 bits and negative too: masses, counts taken back)."""
    i = at % len(column)
    expected = list(column)
    expected[i] += by
    bump(column, i, by)
    assert column == expected
