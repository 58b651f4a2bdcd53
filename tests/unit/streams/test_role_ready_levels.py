"""What the role_ready kind keeps of a catalog's ladders between statements."""

from __future__ import annotations

import pytest

from schemas.catalog import Catalog, Ladder, Requirement, Role, Skill
from streams.core.kinds import role_ready
from streams.core.kinds.role_ready import ladder_levels


def ladder(level: float) -> Ladder:
    return Ladder(
        id="data",
        name="Data",
        roles=(
            Role(id="analyst", name="Analyst", requires=(Requirement(skill="sql", level=0.4),)),
            Role(id="lead", name="Lead", requires=(Requirement(skill="sql", level=level),)),
        ),
    )


def catalog(level: float) -> Catalog:
    return Catalog([Skill(id="sql", name="SQL", category="data"), ladder(level)])


def test_the_levels_follow_the_catalog_and_an_equal_one_is_not_compared_field_by_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = catalog(0.8)
    assert ladder_levels(first) == {"sql": (0.4, 0.8)}
    again = catalog(0.8)  # equal to the first, other objects: a catalog loaded once more
    assert again.ladders == first.ladders

    def compared(self: Ladder, other: object) -> bool:
        raise AssertionError("ladders compared field by field")

    monkeypatch.setattr(Ladder, "__eq__", compared)
    assert ladder_levels(again) == {"sql": (0.4, 0.8)}
    assert ladder_levels(again) == {"sql": (0.4, 0.8)}
    assert role_ready._LADDER_LEVELS[0][0] is again.ladders["data"]
    assert ladder_levels(catalog(0.9)) == {"sql": (0.4, 0.9)}
    assert ladder_levels(Catalog()) == {}
