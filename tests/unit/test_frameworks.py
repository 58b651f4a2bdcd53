"""``skillstream catalog import``: ESCO and O*NET distributions into catalog skills and ladders.

The fixtures in ``tests/fixtures/esco`` and ``tests/fixtures/onet`` are a few rows in the
published column layouts (their READMEs say which files and that the values are made up).
The end-to-end case: a catalog imported from ESCO fires ``role_ready`` for a learner whose
completed courses name the occupation's essential skills by their ESCO IRIs, with no
activity mapping at all.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from schemas.catalog import Catalog, CatalogFile
from skillstream.cli import main
from skillstream.config import load_rules, load_vocabulary
from skillstream.frameworks import (
    FrameworkError,
    LadderSpec,
    import_esco,
    import_onet,
    write_catalog,
)
from streams.offline import run_offline

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ESCO = "http://data.europa.eu/esco/"


def skill_iri(n: int) -> str:
    return f"{ESCO}skill/00000000-0000-4000-8000-{n:012x}"


def occupation_iri(n: int) -> str:
    return f"{ESCO}occupation/00000000-0000-4000-8000-{0x100 + n:012x}"


def esco_id(iri: str) -> str:
    return "esco:" + iri.rsplit("/", 1)[-1]


LADDER = LadderSpec("data-careers", "Data careers", (occupation_iri(1), occupation_iri(2)))


def test_esco_skills_keep_their_iris_labels_and_hierarchy() -> None:
    catalog = import_esco(FIXTURES / "esco", [])
    skills = {s.id: s for s in catalog.skills}
    assert sorted(skills) == sorted(esco_id(skill_iri(n)) for n in (1, 2, 3, 4, 5))  # 6 obsolete
    sql = skills[esco_id(skill_iri(1))]
    assert sql.name == "use SQL"
    assert sql.iris == (skill_iri(1),)
    assert sql.labels == ("write SQL queries", "query relational databases")
    categories = {n: skills[esco_id(skill_iri(n))].category for n in (1, 2, 3, 4, 5)}
    assert categories == {
        1: "working-with-computers",  # its group's group, just under the top
        2: "working-with-computers",
        3: "working-with-computers",  # through its broader skill
        4: "communication-collaboration-and-creativity",
        5: "esco",  # no group
    }
    assert catalog.ladders == ()


def test_esco_occupations_become_roles_requiring_their_essential_skills() -> None:
    catalog = import_esco(FIXTURES / "esco", [LADDER], level=0.6)
    (ladder,) = catalog.ladders
    assert [(r.id, r.name) for r in ladder.roles] == [
        (esco_id(occupation_iri(1)), "data analyst"),
        (esco_id(occupation_iri(2)), "database designer"),
    ]
    required = [{(q.skill, q.level) for q in role.requires} for role in ladder.roles]
    assert required == [
        {(esco_id(skill_iri(1)), 0.6), (esco_id(skill_iri(4)), 0.6)},  # optional ones left out
        {(esco_id(skill_iri(1)), 0.6), (esco_id(skill_iri(3)), 0.6)},  # the obsolete one too
    ]


def test_an_unknown_occupation_or_a_missing_file_is_named(tmp_path: Path) -> None:
    wrong = LadderSpec("x", "X", (occupation_iri(9),))
    with pytest.raises(FrameworkError, match=r"occupation .* is not in occupations_en\.csv"):
        import_esco(FIXTURES / "esco", [wrong])
    with pytest.raises(FrameworkError, match=r"no skills_en\.csv"):
        import_esco(tmp_path, [])
    (tmp_path / "skills_en.csv").write_text("conceptUri,preferredLabel\n")
    with pytest.raises(FrameworkError, match="the header lacks altLabels"):
        import_esco(tmp_path, [])


def test_onet_elements_and_roles_by_importance() -> None:
    ladder = LadderSpec("data", "Data", ("15-2051.00", "15-1243.00"))
    catalog = import_onet(FIXTURES / "onet", [ladder], min_importance=3.5)
    skills = {s.id: (s.name, s.category) for s in catalog.skills}
    assert skills["onet:2.a.1.a"] == ("Reading Comprehension", "skills")
    assert skills["onet:2.c.4.a"] == ("Mathematics", "knowledge")
    (built,) = catalog.ladders
    required = [{q.skill: q.level for q in role.requires} for role in built.roles]
    assert required == [
        {
            "onet:2.a.1.a": round(4.38 / 7, 4),
            "onet:2.a.2.a": round(4.75 / 7, 4),
            "onet:2.c.4.a": 0.75,
        },
        {"onet:2.b.3.e": round(4.62 / 7, 4), "onet:2.c.3.a": 0.8},
    ]  # Programming (importance 3.25) is not required of data scientists


def _completion(n: int, skills: list[str], day: int) -> bytes:
    statement: dict[str, Any] = {
        "id": str(uuid.UUID(int=n + 1)),
        "actor": {"mbox": "mailto:ada@example.com"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {
            "id": f"https://lms.example.com/courses/unmapped-{n}",
            "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
        },
        "result": {"completion": True, "score": {"scaled": 0.95}},
        "context": {"contextActivities": {"category": [{"id": iri} for iri in skills]}},
        "timestamp": f"2026-03-{day:02d}T10:00:00Z",
    }
    return orjson.dumps(statement)


def _role_ready(catalog: CatalogFile, records: list[bytes]) -> list[tuple[str | None, str]]:
    result = run_offline(
        records,
        catalog=Catalog(catalog.items()),
        vocabulary=load_vocabulary(None),
        rules=load_rules(None),
        secret=b"frameworks-test",
    )
    return [(m.data.skill, m.data.level) for m in result.milestones if m.data.kind == "role_ready"]


def test_a_learner_covering_an_occupations_essential_skills_becomes_role_ready() -> None:
    catalog = import_esco(FIXTURES / "esco", [LADDER])
    analyst = [skill_iri(1), skill_iri(4)]  # the data analyst's essential skills
    records = [_completion(n, analyst, 1 + n) for n in range(6)]
    fired = _role_ready(catalog, records)
    assert [skill for skill, _ in fired] == [f"{LADDER.id}/{esco_id(occupation_iri(1))}"]
    # The designer also needs skill 3: with it, the next rung follows.
    more = [_completion(10 + n, [skill_iri(3)], 10 + n) for n in range(6)]
    fired = _role_ready(catalog, records + more)
    assert [skill for skill, _ in fired] == [
        f"{LADDER.id}/{esco_id(occupation_iri(n))}" for n in (1, 2)
    ]
    # Without the IRIs in the catalog the same statements credit nothing.
    bare = catalog.model_copy(
        update={"skills": tuple(s.model_copy(update={"iris": ()}) for s in catalog.skills)}
    )
    assert _role_ready(bare, records + more) == []


def test_the_command_writes_a_catalog_that_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ladders = tmp_path / "ladders.yaml"
    ladders.write_text(
        yaml.safe_dump(
            {
                "ladders": [
                    {"id": LADDER.id, "name": LADDER.name, "occupations": list(LADDER.occupations)}
                ]
            }
        )
    )
    out = tmp_path / "catalog.yaml"
    argv = ["catalog", "import", str(FIXTURES / "esco"), "--format", "esco", "--out", str(out)]
    with pytest.raises(SystemExit) as done:
        main([*argv, "--ladders", str(ladders)])
    assert done.value.code == 0, capsys.readouterr().err
    assert "5 skills and 1 ladders imported from esco" in capsys.readouterr().err
    assert CatalogFile.load(out) == import_esco(FIXTURES / "esco", [LADDER])
    with pytest.raises(SystemExit) as done:
        main([*argv[:-4], "--format", "eskoe", "--out", str(out)])
    assert done.value.code == 2
    assert "--format must be esco or onet" in capsys.readouterr().err


def test_write_catalog_round_trips(tmp_path: Path) -> None:
    catalog = import_onet(FIXTURES / "onet", [LadderSpec("d", "D", ("15-2051.00",))])
    for name in ("c.yaml", "c.json"):
        write_catalog(catalog, tmp_path / name)
        assert CatalogFile.load(tmp_path / name) == catalog
