"""What the role_ready kind keeps of a catalog's ladders between statements."""

from __future__ import annotations

import pytest

from schemas.catalog import Catalog, Ladder, Requirement, Role, Skill
from streams.core.kinds import role_ready
from streams.core.kinds.role_ready import ladder_levels, ladders_of


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
    assert role_ready._LADDERS[0] is again
    assert ladder_levels(catalog(0.9)) == {"sql": (0.4, 0.9)}
    assert ladder_levels(Catalog()) == {}


def test_the_levels_follow_a_ladder_put_or_removed_in_the_same_catalog() -> None:
    """A catalog updated in place (a worker following the catalog topic) is the same
    object: its ladders' changes are seen all the same."""
    live = catalog(0.8)
    assert ladder_levels(live) == {"sql": (0.4, 0.8)}
    live.put(ladder(0.7))
    assert ladder_levels(live) == {"sql": (0.4, 0.7)}
    assert ladders_of(live)[0].roles[1].requires == (("sql", 0.7),)
    live.remove("ladder:data")
    assert ladder_levels(live) == {}
    assert ladders_of(live) == ()


def test_the_ladders_as_role_ready_reads_them_follow_the_catalog() -> None:
    """What ``_ladder`` walks: each ladder's id and name, and its roles' ids, names and
    requirements, in the catalog's order; a catalog with other levels gives them."""
    (flat,) = ladders_of(catalog(0.8))
    assert (flat.id, flat.name) == ("data", "Data")
    assert [(r.id, r.name, r.requires) for r in flat.roles] == [
        ("analyst", "Analyst", (("sql", 0.4),)),
        ("lead", "Lead", (("sql", 0.8),)),
    ]
    (other,) = ladders_of(catalog(0.9))
    assert other.roles[1].requires == (("sql", 0.9),)
    assert ladders_of(Catalog()) == ()
