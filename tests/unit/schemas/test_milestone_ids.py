"""Milestone ids: UUIDv5 of (learner, rule, skill, level), exactly as the uuid module makes them."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from schemas.milestones import _ID_NAMESPACE, achievement_number, milestone_id, uuid_text

texts = st.text(max_size=40)


@given(texts, texts, st.none() | texts, texts)
def test_an_id_is_the_uuid5_of_its_parts(
    learner: str, rule: str, skill: str | None, level: str
) -> None:
    expected = uuid.uuid5(_ID_NAMESPACE, f"{learner}\x1f{rule}\x1f{skill or ''}\x1f{level}")
    assert milestone_id(learner, rule, skill, level) == str(expected)
    assert achievement_number(learner, rule, skill, level) == expected.int


def test_known_ids_stay_as_they_were() -> None:
    # published ids never change: this one was made by uuid.uuid5 before ids had their own code
    assert (
        milestone_id("l-1", "specialist", "python", "expert")
        == "6dfa1f4c-0ea0-56aa-93ea-0176b485f6e5"
    )
    assert milestone_id("l-1", "weekly", None, "12-weeks") == milestone_id(
        "l-1", "weekly", "", "12-weeks"
    )
    assert milestone_id("l-1", "weekly", None, "12-weeks") != milestone_id(
        "l-2", "weekly", None, "12-weeks"
    )


@given(st.integers(min_value=0, max_value=(1 << 128) - 1))
def test_uuid_text_is_the_canonical_form(value: int) -> None:
    assert uuid_text(value) == str(uuid.UUID(int=value))
