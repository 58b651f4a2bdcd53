from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from schemas.catalog import KNOWN_CATEGORIES, Catalog, CatalogFile, Skill
from tools.simulate import LMS_HOME, SAMPLE_CATALOG


@pytest.fixture(scope="module")
def sample() -> CatalogFile:
    return CatalogFile.load(SAMPLE_CATALOG)


def test_the_sample_loads(sample: CatalogFile) -> None:
    assert 25 <= len(sample.skills) <= 35
    assert {s.category for s in sample.skills} == set(KNOWN_CATEGORIES)
    catalog = Catalog.from_file(SAMPLE_CATALOG)
    assert set(catalog.skills) == {s.id for s in sample.skills}
    assert len(catalog.activities) == len(sample.activities)


def test_the_sample_has_emerging_skills_over_2025_to_2027(sample: CatalogFile) -> None:
    emerging = [s for s in sample.skills if s.emerging is not None]
    assert 3 <= len(emerging) <= 5
    for s in emerging:
        assert s.emerging is not None
        assert s.emerging.covers(date(2026, 1, 5))
    assert any(s.emerging and s.emerging.covers(date(2025, 6, 1)) for s in emerging)
    assert any(s.emerging and s.emerging.covers(date(2027, 6, 1)) for s in emerging)


def test_the_sample_maps_every_kind_of_simulated_activity(sample: CatalogFile) -> None:
    kinds = {
        a.activity_id[len(LMS_HOME) + 1 :].split("/", 1)[0]
        for a in sample.activities
        if a.activity_id.startswith(LMS_HOME + "/")
    }
    assert kinds == {"courses", "workshops", "events", "assessments", "certifications"}


def test_every_ladder_requirement_can_be_assessed(sample: CatalogFile) -> None:
    assessed = {
        skill for a in sample.activities if "/assessments/" in a.activity_id for skill in a.skills
    }
    assert 2 <= len(sample.ladders) <= 3
    for ladder in sample.ladders:
        assert len(ladder.roles) >= 3
        for role in ladder.roles:
            assert role.requires
            for requirement in role.requires:
                assert requirement.skill in assessed, (ladder.id, role.id, requirement.skill)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    return path


SKILLS = """
skills:
  - {id: python, name: Python, category: technical}
"""


def test_an_activity_naming_an_unknown_skill_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        SKILLS
        + """
activities:
  - {activity_id: "https://lms.example.com/courses/rust", skills: [python, rust]}
""",
    )
    iri = "https://lms.example.com/courses/rust"
    with pytest.raises(ValueError, match=re.escape(iri)) as raised:
        CatalogFile.load(path)
    assert "'rust'" in str(raised.value)


def test_a_ladder_requiring_an_unknown_skill_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        SKILLS
        + """
ladders:
  - id: engineering
    name: Engineering
    roles:
      - id: senior
        name: Senior
        requires: [{skill: golang, level: 0.5}]
""",
    )
    with pytest.raises(ValueError, match="engineering") as raised:
        CatalogFile.load(path)
    message = str(raised.value)
    assert "'senior'" in message
    assert "'golang'" in message


def test_a_skill_defined_twice_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, SKILLS + "  - {id: python, name: Python again, category: technical}\n")
    with pytest.raises(ValueError, match="'python' is defined twice"):
        CatalogFile.load(path)


def test_an_emerging_period_ending_before_it_starts_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
skills:
  - id: genai
    name: GenAI
    category: technical
    emerging: {start: 2027-01-01, end: 2025-01-01}
""",
    )
    with pytest.raises(ValueError, match="emerging"):
        CatalogFile.load(path)


def test_two_skills_cannot_claim_one_iri() -> None:
    iri = "http://data.europa.eu/esco/skill/00000000-0000-4000-8000-0000000000a1"
    with pytest.raises(ValueError, match="skills 'a' and 'b' both claim the IRI"):
        CatalogFile(
            skills=(
                Skill(id="a", name="A", category="technical", iris=(iri,)),
                Skill(id="b", name="B", category="technical", iris=(iri,)),
            )
        )


def test_a_skills_category_follows_its_puts_and_its_tombstone() -> None:
    """``Catalog.categories`` (what the soft-skills kind reads) is each skill's category
    as the catalog holds it now: a skill put again with another category has the new
    one, and a removed skill has none."""
    catalog = Catalog([Skill(id="listening", name="Listening", category="soft")])
    assert catalog.categories["listening"] == "soft"
    catalog.put(Skill(id="listening", name="Listening", category="communication"))
    assert catalog.categories == {"listening": "communication"}
    catalog.remove("skill:listening")
    assert "listening" not in catalog.categories
    assert catalog.categories == {}
