"""The rules file: defaults, validation errors that name the field, the compiled plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from core_helpers import default_data

from schemas.milestones import MilestoneKind
from streams.core import DEFAULT_RULES_PATH, Rules, RulesError


def test_defaults_load_every_kind_and_match_the_model_defaults() -> None:
    rules = Rules.load(None)
    kinds = {rule.kind for rule in rules.rules.values()}
    assert kinds == {k.value for k in MilestoneKind}
    assert all(rule.enabled for rule in rules.rules.values())
    knobs = Rules()
    for name in (
        "half_life_days",
        "prior_weight",
        "window_days",
        "evidence_cap",
        "dedupe_memory",
        "score_history",
        "certification_score",
        "course_passed_score",
        "max_evidence",
    ):
        assert getattr(rules, name) == getattr(knobs, name), name
    assert Rules.load(None) is Rules.load(None)
    assert Rules.load(DEFAULT_RULES_PATH) == rules


def test_a_rule_id_that_is_a_kind_needs_no_kind_and_others_do() -> None:
    rules = Rules.from_data(
        {
            "rules": {
                "networker": {"levels": [{"name": "a", "count": 1}]},
                "meetup-regular": {"kind": "networker", "levels": [{"name": "b", "count": 2}]},
            }
        }
    )
    assert [r.kind for r in rules.rules.values()] == ["networker", "networker"]
    assert rules.plan.window_max_days == 90


def _problems(data: Any) -> list[str]:
    with pytest.raises(RulesError) as caught:
        Rules.from_data(data)
    assert isinstance(caught.value, ValueError)
    return list(caught.value.problems)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {
                "rules": {
                    "networker": {"levels": [{"name": "a", "count": 3}, {"name": "b", "count": 0}]}
                }
            },
            "rules.networker.levels[1].count: Input should be greater than or equal to 1",
        ),
        (
            {
                "rules": {
                    "networker": {"levels": [{"name": "a", "count": 3}, {"name": "b", "count": 3}]}
                }
            },
            "rules.networker.levels[1].count: must be greater than the level before it (3)",
        ),
        (
            {
                "rules": {
                    "skill_level_reached": {
                        "levels": [
                            {"name": "a", "proficiency": 0.5},
                            {"name": "a", "proficiency": 0.7},
                        ]
                    }
                }
            },
            "rules.skill_level_reached.levels[1].name: 'a' is used twice",
        ),
        (
            {"rules": {"skill_level_reached": {"levels": [{"name": "a", "proficiency": 1.5}]}}},
            "rules.skill_level_reached.levels[0].proficiency: Input should be less than or equal",
        ),
        (
            {"rules": {"continuous_learner": {"levels": []}}},
            "rules.continuous_learner.levels: Tuple should have at least 1 item",
        ),
        (
            {"rules": {"networker": {"levels": [{"name": "a", "count": 1, "colour": "red"}]}}},
            "rules.networker.levels[0].colour: Extra inputs are not permitted",
        ),
        (
            {"rules": {"my-rule": {"levels": [{"name": "a", "count": 1}]}}},
            "rules.my-rule: needs a kind",
        ),
        ({"rules": {"x": {"kind": "astronaut"}}}, "rules.x: unknown kind"),
        ({"rules": {"Bad Id": {"kind": "role_ready"}}}, "rules.Bad Id (the rule id)"),
        ({"half_life_days": 0}, "half_life_days: Input should be greater than or equal to 0.001"),
        ({"half_life_days": 1e-300}, "half_life_days: Input should be greater than or equal to"),
        ({"half_life_days": 36_501}, "half_life_days: Input should be less than or equal to 36500"),
        ({"windo_days": 30}, "windo_days: Extra inputs are not permitted"),
        ({"version": 2}, "version: Input should be 1"),
        (
            {
                "rules": {
                    "versatile": {
                        "deep_proficiency": 0.3,
                        "breadth_proficiency": 0.5,
                        "levels": [{"name": "t", "categories": 2}],
                    }
                }
            },
            "rules.versatile: deep_proficiency is below breadth_proficiency",
        ),
        (
            {"rules": {"performance_boost": {"levels": [{"name": "b", "margin": 0}]}}},
            "rules.performance_boost.levels[0].margin: Input should be greater than 0",
        ),
        ([1, 2], "$: expected a mapping"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field(data: Any, expected: str) -> None:
    problems = _problems(data)
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems(
        {
            "half_life_days": -1,
            "rules": {
                "networker": {"levels": [{"name": "a", "count": 0}]},
                "continuous_learner": {"levels": [{"name": "a", "weeks": 0}]},
            },
        }
    )
    assert len(problems) == 3


def test_a_bad_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  networker:\n    levels:\n      - {name: a, count: 2}\n"
        "      - {name: b, count: -1}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"rules\.networker\.levels\[1\]\.count") as caught:
        Rules.load(path)
    assert str(path) in str(caught.value)


def test_unreadable_or_unparsable_files_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        Rules.load(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML"):
        Rules.load(broken)


def test_a_json_file_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(
        '{"window_days": 30, "rules": {"networker": {"levels": [{"name": "a", "count": 2}]}}}',
        encoding="utf-8",
    )
    rules = Rules.load(path)
    assert rules.window_days == 30
    networker = rules.plan.kind("networker")
    assert networker is not None
    assert networker.windows == (30,)


def test_disabled_rules_are_checked_but_not_compiled() -> None:
    data = default_data()
    data["rules"]["networker"]["enabled"] = False
    rules = Rules.from_data(data)
    assert rules.plan.kind("networker") is None
    assert "networker" not in {kind.name for kind in rules.plan.kinds}
    data["rules"]["networker"]["levels"][0]["count"] = 0
    assert any("networker" in p for p in _problems(data))


def test_an_updated_copy_compiles_its_own_plan() -> None:
    rules = Rules.load(None)
    assert rules.plan.half_life_days == 180
    faster = rules.model_copy(update={"half_life_days": 30})
    assert faster.plan.half_life_days == 30
    assert rules.plan.half_life_days == 180
    with pytest.raises(ValueError, match="half_life_days"):
        rules.model_copy(update={"half_life_days": -3})


def test_plan_window_covers_every_rule_window() -> None:
    data = default_data()
    data["rules"]["networker"]["window_days"] = 365
    assert Rules.from_data(data).plan.window_max_days == 365
