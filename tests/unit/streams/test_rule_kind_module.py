"""A rule kind added as one module plus configuration (docs/rule-kinds.md).

``course_finisher_kind`` is written as the guide says and loaded through the rules
file's ``kind_modules``; these tests hold it to what every built-in kind guarantees.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from core_helpers import catalog, default_data, event, run
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from test_core_event_time import FAST, check, key, statements

from schemas.events import EventKind
from schemas.milestones import MilestoneEvent, MilestoneKind
from sinks.retry import Backoff
from sinks.webhook import DeliveryPolicy, WebhookSink
from skillstream.errors import ConfigError
from skillstream.settings import Webhook
from streams.core import Rules, RulesError
from streams.core.kinds import kinds
from tools.report import milestone_legend

FINISHER = {
    "kind": "course_finisher",
    "levels": [{"name": "three", "count": 3}, {"name": "five", "count": 5}],
}


def with_finisher(**knobs: object) -> Rules:
    data = default_data()
    data.update(knobs)
    data["kind_modules"] = ["course_finisher_kind"]
    data["rules"]["finisher"] = FINISHER
    return Rules.from_data(data)


def test_a_rules_file_naming_the_module_loads_the_kind(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "kind_modules: [course_finisher_kind]\n"
        "rules:\n"
        "  finisher:\n"
        "    kind: course_finisher\n"
        "    levels: [{name: three, count: 3}]\n",
        encoding="utf-8",
    )
    rules = Rules.load(path)
    assert "course_finisher" in kinds()
    compiled = rules.plan.kind("course_finisher")
    assert compiled is not None
    assert [k.name for k in rules.plan.kinds] == ["course_finisher"]
    assert rules.model_copy(update={"window_days": 30}).rules == rules.rules


def test_its_levels_are_checked_like_a_built_in_kind() -> None:
    data = default_data()
    data["kind_modules"] = ["course_finisher_kind"]
    data["rules"]["finisher"] = {
        "kind": "course_finisher",
        "levels": [{"name": "a", "count": 4}, {"name": "b", "count": 2}],
    }
    with pytest.raises(RulesError) as caught:
        Rules.from_data(data)
    assert caught.value.problems == (
        "rules.finisher.levels[1].count: must be greater than the level before it (4); "
        "list levels in increasing order",
    )


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("no_such_module_here", "kind_modules[0]: cannot import 'no_such_module_here'"),
        ("core_helpers", "kind_modules[0]: module core_helpers defines no KIND"),
    ],
)
def test_a_module_that_is_not_a_kind_is_refused_by_name(module: str, expected: str) -> None:
    with pytest.raises(RulesError) as caught:
        Rules.from_data({"kind_modules": [module]})
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_it_fires_each_level_once_at_the_course_that_reached_it() -> None:
    rules = with_finisher()
    events = []
    for n in range(6):
        events.append(event(f"c{n}", EventKind.COURSE_COMPLETED, days=2 * n))
        events.append(event(f"x{n}", EventKind.EVENT_ATTENDED, days=2 * n + 1, skills=()))
    _, fired = run(events, rules)
    mine = [m for m in fired if m.data.rule == "finisher"]
    assert [(m.data.level, m.data.summary["courses"]) for m in mine] == [("three", 3), ("five", 5)]
    three, five = mine
    assert three.data.achieved_at == events[4].time  # c2, the third course
    assert five.data.achieved_at == events[8].time
    assert three.data.evidence == ("c2", "c1", "c0")
    assert three.type == "skillstream.milestone.course_finisher"
    again = MilestoneEvent.model_validate_json(three.model_dump_json())
    assert again == three
    assert again.data.kind == "course_finisher"
    assert not isinstance(again.data.kind, MilestoneKind)


def test_a_voided_course_lowers_the_count_and_retracts_nothing() -> None:
    rules = with_finisher()
    events = [event(f"c{n}", EventKind.COURSE_COMPLETED, days=n) for n in range(3)]
    events.append(event("v", EventKind.VOIDING, days=4, skills=(), voids="c0"))
    events.append(event("c3", EventKind.COURSE_COMPLETED, days=5))
    _, fired = run(events, rules)
    assert [m.data.level for m in fired if m.data.rule == "finisher"] == ["three"]


@FAST
@given(data=st.data())
def test_any_arrival_order_gives_the_milestones_of_the_ordered_statements(
    data: st.DataObject,
) -> None:
    rules = with_finisher(evidence_cap=10_000, dedupe_memory=10_000)
    events = data.draw(statements())
    again = data.draw(st.lists(st.sampled_from(events), max_size=4))
    check(data.draw(st.permutations(events + again)), rules)


def test_a_late_course_older_than_every_kept_statement_still_counts() -> None:
    rules = with_finisher(evidence_cap=4)
    events = [event(f"o{n}", EventKind.OTHER, days=10 + n, skills=()) for n in range(6)]
    events += [event(f"c{n}", EventKind.COURSE_COMPLETED, days=20 + n) for n in range(2)]
    late = event("c-late", EventKind.COURSE_COMPLETED, days=1)
    state, fired = run([*events, late], rules)
    assert state.folded.horizon is not None  # statements were folded: the late one went straight in
    assert "c-late" not in {state.id_text(i) for i in range(len(state.kept.rt))}
    mine = [m for m in fired if m.data.rule == "finisher"]
    assert [(m.data.level, m.data.summary["courses"]) for m in mine] == [("three", 3)]
    _, in_order = run(sorted([*events, late], key=key), rules)
    assert mine == [m for m in in_order if m.data.rule == "finisher"]
    assert mine[0].data.achieved_at == events[-1].time  # c1: the third course in event time


def test_the_report_explains_it_from_its_docstring() -> None:
    rules = with_finisher()
    entry = next(e for e in milestone_legend(rules) if e.rule_id == "finisher")
    assert entry.meaning == "Finished so many courses (completed or passed)."
    assert entry.levels == ("three: 3", "five: 5")
    assert catalog().skills  # the legend needs no catalog of its own


def test_a_webhook_filter_may_name_it_once_the_rules_file_is_read() -> None:
    def hook(kind: str) -> Webhook:
        return Webhook(
            name="crm",
            url="https://crm.example/hooks",
            secret=SecretStr("secret"),
            kinds=(kind,),
        )

    policy = DeliveryPolicy(timeout_s=5.0, max_elapsed_s=60.0, concurrency=1, backoff=Backoff(1, 2))
    with_finisher()  # what `skillstream sink webhook` does with SKILLSTREAM_RULES_FILE
    WebhookSink([hook("course_finisher")], policy)
    with pytest.raises(ConfigError, match=r"unknown milestone kind\(s\) course_finishr"):
        WebhookSink([hook("course_finishr")], policy)
