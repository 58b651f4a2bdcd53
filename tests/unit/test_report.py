"""The demo report, without a broker: dates, ticks, the legend from the rules, names."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from skillstream.config import load_rules
from streams.core import Rules
from tools.report import (
    Journey,
    MilestoneRow,
    format_date,
    format_day,
    format_moment,
    format_period,
    learner_label,
    legend_html,
    milestone_legend,
    milestones_over_time,
    nice_ticks,
    points,
    render_report,
    time_axis,
)

GENERATED = datetime(2026, 7, 6, 9, 30, tzinfo=UTC)
ANN = "lrn_aaaaaaaaaaaaaaaaaaaaaaaaaa"
BOB = "lrn_bbbbbbbbbbbbbbbbbbbbbbbbbb"


def _rules(**changes: Any) -> Rules:
    """The shipped rules with ``changes`` applied: ``{"networker.window_days": 30, ...}``."""
    data = Rules.load(None).model_dump()
    for path, value in changes.items():
        node: Any = data["rules"]
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value
    return Rules.from_data(data)


def _row(learner: str, kind: str, when: datetime, title: str = "a milestone") -> MilestoneRow:
    return MilestoneRow(learner, kind, "level", None, title, when)


def _journey(learner: str) -> Journey:
    start = datetime(2026, 1, 5, 10, tzinfo=UTC)
    return Journey(
        learner,
        "soft_skills",
        [
            _row(learner, "skill_level_reached", start, "Reached practitioner level in Python"),
            _row(
                learner, "role_ready", start + timedelta(days=40), "Ready for Engineer (Software)"
            ),
        ],
        {
            "as_of": "2026-07-02T12:44:53.889000Z",
            "skills": [
                {"skill": "python", "category": "technical", "proficiency": 0.8123},
                {"skill": "communication", "category": "soft", "proficiency": 0.4},
                {"skill": "sql", "category": "technical", "proficiency": 0.0},
            ],
        },
    )


def _report(**overrides: Any) -> str:
    journeys = [_journey(ANN), _journey(BOB)]
    arguments: dict[str, Any] = {
        "title": "skillstream demo",
        "generated_at": GENERATED,
        "stats": {"statements": "1,234"},
        "rows": [m for j in journeys for m in j.milestones],
        "featured": journeys[0],
        "journeys": journeys,
        "rules": Rules.load(None),
        "names": {ANN: "Amara Okafor", BOB: "Lars Berg"},
        "skill_names": {"python": "Python", "communication": "Communication"},
        "period": (date(2026, 1, 5), date(2026, 7, 5)),
    }
    arguments.update(overrides)
    return render_report(**arguments)


# --- dates -------------------------------------------------------------------


def test_dates_read_as_dates() -> None:
    moment = datetime(2026, 7, 2, 12, 44, 53, 889000, tzinfo=UTC)
    assert format_date(moment) == "2 Jul 2026"
    assert format_date("2026-07-02T12:44:53.889000Z") == "2 Jul 2026"
    assert format_date(date(2026, 12, 25)) == "25 Dec 2026"
    assert format_date(datetime(2026, 3, 9, 8, 0)) == "9 Mar 2026"  # naive: taken as UTC
    assert format_day(moment) == "2 Jul"


def test_a_date_is_the_utc_day() -> None:
    late_in_berlin = datetime(2026, 7, 3, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert format_date(late_in_berlin) == "2 Jul 2026"
    assert format_date("2026-07-03T00:30:00+02:00") == "2 Jul 2026"


def test_periods() -> None:
    assert format_period(date(2026, 1, 5), date(2026, 7, 5)) == "5 Jan – 5 Jul 2026"
    assert format_period(date(2025, 12, 1), date(2026, 2, 3)) == "1 Dec 2025 – 3 Feb 2026"
    assert format_period(date(2026, 1, 5), date(2026, 1, 5)) == "5 Jan 2026"


def test_the_generated_time_is_the_one_given() -> None:
    assert format_moment(GENERATED) == "6 Jul 2026 at 09:30 UTC"
    assert format_moment(datetime(2026, 7, 6, 9, 5)) == "6 Jul 2026 at 09:05"
    page = _report()
    assert "Report generated 6 Jul 2026 at 09:30 UTC" in page
    assert _report() == page  # nothing in it depends on the clock
    assert "Report generated 1 Feb 2027 at 18:00 UTC" in _report(
        generated_at=datetime(2027, 2, 1, 18, tzinfo=UTC)
    )


def test_no_timestamps_anywhere_in_the_report() -> None:
    page = _report()
    assert not re.search(r"\d{4}-\d{2}-\d{2}", page), re.findall(
        r".{30}\d{4}-\d{2}-\d{2}.{30}", page
    )
    assert "on 2 Jul 2026" in page  # the skill profile's as_of
    assert "5 Jan 2026" in page  # the first milestone
    assert "14 Feb 2026" in page  # the role-ready day (5 Jan + 40 days)
    assert "5 Jan – 5 Jul 2026" in page


# --- ticks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (37, [0, 10, 20, 30, 40]),
        (442, [0, 100, 200, 300, 400, 500]),
        (10, [0, 2, 4, 6, 8, 10]),
        (7, [0, 2, 4, 6, 8]),
        (3, [0, 1, 2, 3]),
        (1, [0, 1]),
        (0, [0, 1]),
        (1234, [0, 500, 1000, 1500]),
    ],
)
def test_nice_ticks(maximum: int, ticks: list[int]) -> None:
    assert nice_ticks(maximum) == ticks


def test_nice_ticks_are_round_and_cover_the_maximum() -> None:
    for maximum in range(1, 5000, 7):
        ticks = nice_ticks(maximum)
        step = ticks[1]
        assert ticks[0] == 0
        assert ticks[-1] >= maximum > ticks[-2]
        assert len(ticks) <= 6
        assert all(b - a == step for a, b in itertools.pairwise(ticks))
        assert int(str(step).rstrip("0")) in (1, 2, 5), (maximum, step)


def test_the_weekly_chart_uses_round_ticks() -> None:
    monday = datetime(2026, 1, 5, 9, tzinfo=UTC)
    rows = [_row(ANN, "networker", monday + timedelta(minutes=i)) for i in range(37)]
    rows += [_row(ANN, "versatile", monday + timedelta(weeks=1))]
    svg = milestones_over_time(rows)
    labels = re.findall(r'text-anchor="end">([\d,]+)</text>', svg)
    assert labels == ["0", "10", "20", "30", "40"]


def test_a_half_year_axis_labels_months() -> None:
    axis = time_axis(date(2026, 1, 5), date(2026, 7, 6))
    assert axis.lines == tuple(date(2026, m, 1) for m in range(2, 8))
    assert [text for _, text in axis.labels] == ["Jan 2026", "Feb", "Mar", "Apr", "May", "Jun"]
    january = axis.labels[0][0]
    assert date(2026, 1, 5) < january < date(2026, 1, 31)  # in the middle of its stretch


def test_a_new_year_carries_its_year() -> None:
    axis = time_axis(date(2025, 11, 1), date(2026, 2, 28))
    assert [text for _, text in axis.labels] == ["Nov 2025", "Dec", "Jan 2026", "Feb"]


def test_a_few_weeks_are_labelled_by_monday() -> None:
    axis = time_axis(date(2026, 1, 7), date(2026, 1, 28))
    assert axis.lines == (date(2026, 1, 12), date(2026, 1, 19), date(2026, 1, 26))
    assert [text for _, text in axis.labels] == ["12 Jan", "19 Jan", "26 Jan"]


def test_years_are_labelled_by_calendar_aligned_steps() -> None:
    axis = time_axis(date(2024, 2, 10), date(2027, 1, 20))
    assert len(axis.lines) <= 12
    assert {d.month for d in axis.lines} == {1, 4, 7, 10}  # quarters
    assert [text for _, text in axis.labels] == [
        "Apr 2024", "Jul", "Oct", "Jan 2025", "Apr", "Jul", "Oct", "Jan 2026", "Apr", "Jul", "Oct", "Jan 2027",
    ]  # fmt: skip


# --- the legend --------------------------------------------------------------


def test_the_legend_has_every_rule_with_its_thresholds() -> None:
    legend = {e.kind: e for e in milestone_legend(Rules.load(None))}
    assert set(legend) == {
        "skill_level_reached",
        "continuous_learner",
        "networker",
        "soft_skills",
        "trend_adopter",
        "performance_boost",
        "versatile",
        "role_ready",
    }
    assert legend["skill_level_reached"].levels == (
        "practitioner: 50",
        "specialist: 70",
        "expert: 85",
    )
    assert legend["continuous_learner"].levels == ("4 weeks", "12 weeks", "26 weeks", "52 weeks")
    assert legend["networker"].levels[0] == "connector: 3 events"
    assert "within 90 days" in legend["networker"].meaning
    assert legend["soft_skills"].levels == ("3 skills", "5 skills", "8 skills")
    assert "reaches 50 or once it has been practised in 3 learning activities" in (
        legend["soft_skills"].meaning
    )
    assert legend["performance_boost"].levels == ("boost: +20 points", "leap: +40 points")
    assert "one skill at 70 or more" in legend["versatile"].meaning
    assert legend["versatile"].levels[0] == "t-shaped: 3 categories"
    assert legend["role_ready"].levels == ("one per role; ladders: every ladder in the catalog",)
    assert all(e.label and e.meaning and e.enabled for e in legend.values())


def test_the_legend_follows_a_changed_threshold() -> None:
    changed = _rules(
        **{
            "skill_level_reached.levels.0.proficiency": 0.55,
            "networker.window_days": 30,
            "networker.levels.0.count": 4,
            "soft_skills.min_exposure": None,
            "performance_boost.levels.1.margin": 0.35,
        }
    )
    legend = {e.kind: e for e in milestone_legend(changed)}
    assert legend["skill_level_reached"].levels[0] == "practitioner: 55"
    assert "within 30 days" in legend["networker"].meaning
    assert legend["networker"].levels[0] == "connector: 4 events"
    assert "activities" not in legend["soft_skills"].meaning
    assert legend["performance_boost"].levels[1] == "leap: +35 points"
    page = _report(rules=changed)
    assert "practitioner: 55" in page
    assert "practitioner: 50" not in page
    assert "within 30 days" in page


def test_the_legend_of_a_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  deep_skills:\n"
        "    kind: skill_level_reached\n"
        "    levels: [{name: solid, proficiency: 0.6}, {name: master, proficiency: 0.9}]\n"
        "  networker:\n"
        "    enabled: false\n"
        "    levels: [{name: connector, count: 2}]\n"
        "  role_ready:\n"
        "    ladders: [data]\n",
        encoding="utf-8",
    )
    legend = milestone_legend(load_rules(path))
    assert [e.label for e in legend] == [
        "Skill level reached (deep_skills)",
        "Networker",
        "Role ready",
    ]
    assert legend[0].levels == ("solid: 60", "master: 90")
    assert "within 90 days" in legend[1].meaning  # the global window, as the rule sets none
    assert not legend[1].enabled
    assert legend[2].levels == ("one per role; ladders: data",)
    html = legend_html(load_rules(path), {"networker": 5})
    assert "switched off" in html
    assert "solid: 60" in html


def test_the_proficiency_note_follows_the_half_life() -> None:
    data = Rules.load(None).model_dump()
    data["half_life_days"] = 90
    assert "half as much after 90 days" in legend_html(Rules.from_data(data))
    assert "half as much after 180 days" in legend_html(Rules.load(None))


def test_points() -> None:
    assert points(0.85) == "85"
    assert points(0.555) == "55.5"
    assert points(0.7) == "70"
    assert points(1.0) == "100"


# --- names -------------------------------------------------------------------


def test_names_are_shown_when_given() -> None:
    page = _report()
    assert "One learner's journey: Amara Okafor" in page
    assert "Lars Berg" in page
    assert page.count(ANN) >= 2  # the key is still there, small, to match the console
    assert "<th>learner</th>" in page


def test_learner_keys_without_names() -> None:
    page = _report(names=None)
    assert "Amara Okafor" not in page
    assert "Lars Berg" not in page
    assert f"One learner's journey: <code>{ANN}</code>" in page
    assert f"<code>{BOB}</code>" in page
    assert "<th>learner key</th>" in page


def test_learner_label() -> None:
    assert learner_label(ANN, {ANN: "Amara Okafor"}) == "Amara Okafor"
    assert learner_label(BOB, {ANN: "Amara Okafor"}) == BOB
    assert learner_label(ANN, None) == ANN


def test_names_are_escaped() -> None:
    page = _report(names={ANN: "Seán <O'Brien>"})
    assert "Seán &lt;O&#x27;Brien&gt;" in page
    assert "<O'Brien>" not in page


def test_skill_names_and_levels_in_the_profile() -> None:
    page = _report()
    assert ">Python<" in page
    assert ">Communication<" in page
    assert ">81.2<" in page  # proficiency 0.8123 as points
    assert "practitioner</text>" in page  # the rules' skill levels mark the bars
    assert ">sql<" not in page  # no proficiency: not drawn
