"""Skills frameworks into catalog skills and career ladders: ``skillstream catalog import``.

**ESCO** (``--format esco``), the European classification's CSV distribution, in one
language (English file names below; ``--language`` picks the suffix). The files and the
columns read, by header name (the order does not matter, other columns are ignored):

==================================== =================================================
``skills_en.csv`` (required)         ``conceptUri``, ``preferredLabel``, ``altLabels``
                                     (one per line), ``skillType``, ``reuseLevel``,
                                     ``status``
``skillGroups_en.csv``               ``conceptUri``, ``preferredLabel``
``broaderRelationsSkillPillar_en.csv`` ``conceptUri``, ``broaderUri``
``occupations_en.csv``               ``conceptUri``, ``preferredLabel``
``occupationSkillRelations_en.csv``  ``occupationUri``, ``relationType``
                                     (``essential``/``optional``), ``skillUri``
==================================== =================================================

Each released skill becomes a catalog skill: id ``esco:<the IRI's last segment>``, its
preferred label as name, its alternative labels as ``labels`` and its IRI in ``iris``
(so a statement naming it credits it, see ``schemas.normalize``). Its category is the
group just under the top of the skills hierarchy above it (``broader`` relations, the
first listed at each step), as an identifier: ``communication-collaboration-and-creativity``
for a skill under *communication, collaboration and creativity*; ``esco`` when the
hierarchy files are absent or the skill has no group. Career ladders come from a ladders
file naming occupations in order, junior first::

    ladders:
      - id: data-careers
        name: Data careers
        occupations:
          - http://data.europa.eu/esco/occupation/<junior occupation>
          - http://data.europa.eu/esco/occupation/<senior occupation>

Each occupation becomes a role (id ``esco:<last segment>``, its preferred label) that
requires every skill ESCO marks *essential* for it at ``level`` (ESCO has no levels of
its own; default 0.5, the default rules' *practitioner*).

**O*NET** (``--format onet``), the database's text distribution (tab-separated, with a
header): ``Occupation Data.txt`` (``O*NET-SOC Code``, ``Title``), ``Skills.txt`` and
``Knowledge.txt`` (``O*NET-SOC Code``, ``Element ID``, ``Element Name``, ``Scale ID``,
``Data Value``). Each element becomes a skill (id ``onet:<element id>``, lower-cased;
category ``skills`` or ``knowledge``); a ladders file names occupations by their
O*NET-SOC codes, and a role requires each element whose importance (scale ``IM``, 1-5)
is at least ``min_importance`` (default 3.5), at its level (scale ``LV``, 0-7) divided
by 7.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from schemas.catalog import CatalogFile

csv.field_size_limit(10_000_000)  # ESCO descriptions and label lists are long


class FrameworkError(ValueError):
    """A framework directory or ladders file that cannot be imported; says which and why."""


@dataclass(frozen=True)
class LadderSpec:
    id: str
    name: str
    occupations: tuple[str, ...]


def read_ladders(path: Path | None) -> list[LadderSpec]:
    """The ladders file (YAML or JSON): ``ladders: [{id, name, occupations: [...]}]``."""
    if path is None:
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise FrameworkError(f"ladders file {path}: {exc}") from None
    listed = data.get("ladders") if isinstance(data, dict) else None
    if not isinstance(listed, list):
        raise FrameworkError(f"ladders file {path}: expected a `ladders:` list")
    specs = []
    for index, entry in enumerate(listed):
        where = f"ladders file {path}, ladders[{index}]"
        if not isinstance(entry, dict):
            raise FrameworkError(f"{where}: expected id, name and occupations")
        occupations = entry.get("occupations")
        if not isinstance(occupations, list) or not occupations:
            raise FrameworkError(f"{where}: `occupations` lists at least one occupation")
        specs.append(
            LadderSpec(
                str(entry.get("id", "")), str(entry.get("name", "")), tuple(map(str, occupations))
            )
        )
    return specs


def _rows(path: Path, needed: tuple[str, ...], delimiter: str = ",") -> Iterator[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f, delimiter=delimiter)
            missing = [c for c in needed if c not in (reader.fieldnames or ())]
            if missing:
                raise FrameworkError(f"{path}: the header lacks {', '.join(missing)}")
            yield from reader
    except OSError as exc:
        raise FrameworkError(f"{path}: {exc.strerror}") from None


def _last_segment(iri: str) -> str:
    return iri.rstrip("/").rsplit("/", 1)[-1].lower()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:100] or "esco"


def _catalog(skills: list[dict[str, Any]], ladders: list[dict[str, Any]]) -> CatalogFile:
    try:
        return CatalogFile.model_validate_json(orjson.dumps({"skills": skills, "ladders": ladders}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FrameworkError(
            f"the import does not make a valid catalog: {where}: {first['msg']}"
        ) from None


def import_esco(
    folder: Path, ladders: list[LadderSpec], level: float = 0.5, language: str = "en"
) -> CatalogFile:
    """A catalog of the ESCO distribution in ``folder`` (see the module docstring)."""
    name = f"_{language}.csv"
    skills_file = folder / f"skills{name}"
    if not skills_file.is_file():
        raise FrameworkError(f"{folder}: no skills{name}; point at the unpacked ESCO CSV folder")
    labels: dict[str, str] = {}
    groups = folder / f"skillGroups{name}"
    if groups.is_file():
        for row in _rows(groups, ("conceptUri", "preferredLabel")):
            labels[row["conceptUri"]] = row["preferredLabel"]
    broader: dict[str, str] = {}
    relations = folder / f"broaderRelationsSkillPillar{name}"
    if relations.is_file():
        for row in _rows(relations, ("conceptUri", "broaderUri")):
            broader.setdefault(row["conceptUri"], row["broaderUri"])

    def category(iri: str) -> str:
        chain = []
        seen = {iri}
        at = broader.get(iri)
        while at is not None and at not in seen:
            seen.add(at)
            chain.append(at)
            at = broader.get(at)
        grouped = [g for g in chain if g in labels]
        if not grouped:
            return "esco"
        return _slug(labels[grouped[-2] if len(grouped) > 1 else grouped[-1]])

    skills: list[dict[str, Any]] = []
    ids: dict[str, str] = {}
    for row in _rows(skills_file, ("conceptUri", "preferredLabel", "altLabels")):
        if row.get("status", "released") not in ("released", ""):
            continue
        iri = row["conceptUri"]
        skill_id = f"esco:{_last_segment(iri)}"
        ids[iri] = skill_id
        alternative = [a.strip() for a in (row["altLabels"] or "").splitlines() if a.strip()]
        skills.append(
            {
                "id": skill_id,
                "name": row["preferredLabel"] or skill_id,
                "category": category(iri),
                "iris": [iri],
                "labels": list(dict.fromkeys(a for a in alternative if a != row["preferredLabel"])),
            }
        )
    built: list[dict[str, Any]] = []
    if ladders:
        occupations_file = folder / f"occupations{name}"
        relations_file = folder / f"occupationSkillRelations{name}"
        for needed in (occupations_file, relations_file):
            if not needed.is_file():
                raise FrameworkError(f"{folder}: ladders need {needed.name}, which is missing")
        titles = {
            row["conceptUri"]: row["preferredLabel"]
            for row in _rows(occupations_file, ("conceptUri", "preferredLabel"))
        }
        wanted = {o for spec in ladders for o in spec.occupations}
        essential: dict[str, list[str]] = {o: [] for o in wanted}
        for row in _rows(relations_file, ("occupationUri", "relationType", "skillUri")):
            if row["occupationUri"] in wanted and row["relationType"] == "essential":
                required = ids.get(row["skillUri"])
                if required is not None:
                    essential[row["occupationUri"]].append(required)
        for spec in ladders:
            roles = []
            for occupation in spec.occupations:
                if occupation not in titles:
                    raise FrameworkError(
                        f"ladder {spec.id!r}: occupation {occupation} is not in {occupations_file.name}"
                    )
                requires = [
                    {"skill": s, "level": level} for s in dict.fromkeys(essential[occupation])
                ]
                roles.append(
                    {
                        "id": f"esco:{_last_segment(occupation)}",
                        "name": titles[occupation],
                        "requires": requires,
                    }
                )
            built.append({"id": spec.id, "name": spec.name, "roles": roles})
    return _catalog(skills, built)


def import_onet(
    folder: Path, ladders: list[LadderSpec], min_importance: float = 3.5
) -> CatalogFile:
    """A catalog of the O*NET text distribution in ``folder`` (see the module docstring)."""
    needed = ("O*NET-SOC Code", "Element ID", "Element Name", "Scale ID", "Data Value")
    skills: dict[str, dict[str, Any]] = {}
    importance: dict[tuple[str, str], float] = {}
    levels: dict[tuple[str, str], float] = {}
    found = False
    for file_name, category in (("Skills.txt", "skills"), ("Knowledge.txt", "knowledge")):
        path = folder / file_name
        if not path.is_file():
            continue
        found = True
        for row in _rows(path, needed, delimiter="\t"):
            skill_id = f"onet:{row['Element ID'].lower()}"
            skills.setdefault(
                skill_id, {"id": skill_id, "name": row["Element Name"], "category": category}
            )
            key = (row["O*NET-SOC Code"], skill_id)
            try:
                value = float(row["Data Value"])
            except ValueError:
                raise FrameworkError(
                    f"{path}: Data Value {row['Data Value']!r} is not a number"
                ) from None
            if row["Scale ID"] == "IM":
                importance[key] = value
            elif row["Scale ID"] == "LV":
                levels[key] = value
    if not found:
        raise FrameworkError(
            f"{folder}: neither Skills.txt nor Knowledge.txt; point at the unpacked O*NET text folder"
        )
    built: list[dict[str, Any]] = []
    if ladders:
        titles = {
            row["O*NET-SOC Code"]: row["Title"]
            for row in _rows(
                folder / "Occupation Data.txt", ("O*NET-SOC Code", "Title"), delimiter="\t"
            )
        }
        for spec in ladders:
            roles = []
            for code in spec.occupations:
                if code not in titles:
                    raise FrameworkError(
                        f"ladder {spec.id!r}: occupation {code} is not in Occupation Data.txt"
                    )
                requires = [
                    {
                        "skill": skill,
                        "level": round(min(max(levels.get((code, skill), 0.0) / 7, 0.0), 1.0), 4),
                    }
                    for (occupation, skill), weight in sorted(importance.items())
                    if occupation == code and weight >= min_importance
                ]
                roles.append(
                    {"id": f"onet:{code.lower()}", "name": titles[code], "requires": requires}
                )
            built.append({"id": spec.id, "name": spec.name, "roles": roles})
    return _catalog(list(skills.values()), built)


def merge(base: CatalogFile, imported: CatalogFile) -> CatalogFile:
    """``base`` with the imported skills and ladders added; an id in both is refused."""
    clash = {s.id for s in base.skills} & {s.id for s in imported.skills}
    clash |= {f"ladder {x.id}" for x in base.ladders} & {f"ladder {x.id}" for x in imported.ladders}
    if clash:
        raise FrameworkError(f"the base catalog already has {', '.join(sorted(clash)[:5])}")
    data = base.model_dump(mode="json")
    data["skills"] += [s.model_dump(mode="json") for s in imported.skills]
    data["ladders"] += [x.model_dump(mode="json") for x in imported.ladders]
    return CatalogFile.model_validate_json(orjson.dumps(data))


def write_catalog(catalog: CatalogFile, path: Path) -> None:
    """The catalog as YAML (``.yaml``/``.yml``) or JSON, loadable by ``catalog load``."""
    data = catalog.model_dump(mode="json", exclude_defaults=True)
    data = {"schema_version": catalog.schema_version, **data}
    if path.suffix in (".yaml", ".yml"):
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        text = yaml.dump(data, Dumper=dumper, allow_unicode=True, sort_keys=False, width=100)
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
