"""The skills catalog: skills, activity-to-skill mappings and career ladders.

Operators keep the catalog in a YAML or JSON file (a sample ships as ``skillstream/samples/catalog.yaml``)
and publish it with ``skillstream catalog load``. On the compacted
``skills.catalog`` topic it travels as one record per item, keyed by
``CatalogItem.key``, so a change to one skill or one ladder is one record and
the stream applies it live. ``Catalog`` is the assembled, indexed view the
pure core reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import Field, model_validator

from schemas._base import Contract
from schemas.events import EventKind

CATALOG_SCHEMA_VERSION: Final = 1

Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.:-]*$", max_length=128)]
Level = Annotated[float, Field(ge=0.0, le=1.0)]

KNOWN_CATEGORIES = ("technical", "soft", "networking", "leadership", "domain")
"""Categories the default rules know; a catalog may add its own."""


class EmergingPeriod(Contract):
    """A skill counts as an emerging industry trend between these dates (inclusive)."""

    start: date
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> EmergingPeriod:
        if self.end is not None and self.end < self.start:
            raise ValueError("emerging.end is before emerging.start")
        return self

    def covers(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


class Skill(Contract):
    item: Literal["skill"] = "skill"
    id: Identifier
    name: str = Field(min_length=1)
    category: Identifier = Field(description="technical, soft, networking, leadership, ...")
    emerging: EmergingPeriod | None = None
    iris: tuple[Annotated[str, Field(min_length=1)], ...] = Field(
        default=(),
        description="IRIs that name this skill in statements (an ESCO skill, a competency "
        "framework's entry): a context activity or an object with one of these ids credits "
        "the skill without an activity mapping.",
    )
    labels: tuple[Annotated[str, Field(min_length=1)], ...] = Field(
        default=(),
        description="Alternative names (ESCO's alternative labels, synonyms), used with "
        "the name to suggest skills for unmapped activities.",
    )

    @property
    def key(self) -> str:
        return f"skill:{self.id}"


class ActivityMapping(Contract):
    """Which skills an activity trains or assesses (by activity IRI)."""

    item: Literal["activity"] = "activity"
    activity_id: str = Field(min_length=1, description="The xAPI activity IRI.")
    skills: tuple[Identifier, ...] = Field(min_length=1)
    kind: EventKind | None = Field(
        default=None, description="Overrides the kind inferred from verb and activity type."
    )

    @property
    def key(self) -> str:
        return f"activity:{self.activity_id}"


class Requirement(Contract):
    skill: Identifier
    level: Level = Field(description="Minimum proficiency in [0, 1].")


class Role(Contract):
    id: Identifier
    name: str = Field(min_length=1)
    requires: tuple[Requirement, ...] = ()


class Ladder(Contract):
    """A career ladder: roles from entry to senior; each role's next is the one after it."""

    item: Literal["ladder"] = "ladder"
    id: Identifier
    name: str = Field(min_length=1)
    roles: tuple[Role, ...] = Field(min_length=1)

    @property
    def key(self) -> str:
        return f"ladder:{self.id}"

    @model_validator(mode="after")
    def _unique_roles(self) -> Ladder:
        ids = [r.id for r in self.roles]
        if len(ids) != len(set(ids)):
            raise ValueError(f"ladder {self.id!r} lists a role twice")
        return self


class CompetencyTypes(Contract):
    """Activity types that mark a context activity as a competency (a skill)."""

    item: Literal["competency_types"] = "competency_types"
    types: tuple[str, ...]

    @property
    def key(self) -> str:
        return "competency_types"


CatalogItem = Annotated[
    Skill | ActivityMapping | Ladder | CompetencyTypes, Field(discriminator="item")
]

DEFAULT_COMPETENCY_TYPES = (
    "http://adlnet.gov/expapi/activities/objective",
    "https://w3id.org/xapi/tla/activity-types/competency",
    "http://id.tincanapi.com/activitytype/competency",
    "https://w3id.org/xapi/cmi5/activitytype/competency",
)


class CatalogFile(Contract):
    """The file an operator edits: ``skillstream catalog load FILE``."""

    schema_version: Literal[1] = CATALOG_SCHEMA_VERSION
    skills: tuple[Skill, ...] = ()
    activities: tuple[ActivityMapping, ...] = ()
    ladders: tuple[Ladder, ...] = ()
    competency_types: tuple[str, ...] = DEFAULT_COMPETENCY_TYPES

    @model_validator(mode="after")
    def _references_resolve(self) -> CatalogFile:
        known = {s.id for s in self.skills}
        problems: list[str] = []
        seen: set[str] = set()
        for s in self.skills:
            if s.id in seen:
                problems.append(f"skill {s.id!r} is defined twice")
            seen.add(s.id)
        named: dict[str, str] = {}
        for s in self.skills:
            for iri in s.iris:
                other = named.setdefault(iri, s.id)
                if other != s.id:
                    problems.append(f"skills {other!r} and {s.id!r} both claim the IRI {iri!r}")
        for a in self.activities:
            problems.extend(
                f"activity {a.activity_id!r} names unknown skill {sk!r}"
                for sk in a.skills
                if sk not in known
            )
        for ladder in self.ladders:
            for role in ladder.roles:
                problems.extend(
                    f"ladder {ladder.id!r} role {role.id!r} requires unknown skill {r.skill!r}"
                    for r in role.requires
                    if r.skill not in known
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def items(self) -> list[Skill | ActivityMapping | Ladder | CompetencyTypes]:
        out: list[Skill | ActivityMapping | Ladder | CompetencyTypes] = [
            *self.skills,
            *self.activities,
            *self.ladders,
        ]
        out.append(CompetencyTypes(types=self.competency_types))
        return out

    @classmethod
    def load(cls, path: Path) -> CatalogFile:
        """Read a catalog from YAML or JSON; a bad file raises ``ValueError`` naming the field."""
        text = path.read_text(encoding="utf-8")
        if path.suffix not in (".yaml", ".yml"):
            return cls.model_validate_json(text)
        import orjson
        import yaml

        # YAML gives Python values; going through JSON keeps the strict JSON-mode rules.
        # libyaml's loader when PyYAML has it: an imported framework's catalog is megabytes.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return cls.model_validate_json(orjson.dumps(yaml.load(text, Loader=loader)))  # noqa: S506


class Catalog:
    """The indexed catalog the core reads; built from items, updated item by item."""

    __slots__ = (
        "activities",
        "categories",
        "competency_types",
        "ladder_revision",
        "ladders",
        "revision",
        "skill_iris",
        "skills",
    )

    def __init__(self, items: Iterable[Skill | ActivityMapping | Ladder | CompetencyTypes] = ()):
        self.revision = 0
        """Moves with every ``put`` and ``remove`` of what normalisation reads (skills,
        activity mappings, competency types; not ladders): what a copy of it (the native
        ingest's) compares to know it is current. Change the catalog through them only."""
        self.ladder_revision = 0
        """The same for the ladders (what the role_ready kind works out from them)."""
        self.skills: dict[str, Skill] = {}
        self.categories: dict[str, str] = {}
        """Skill id -> its category: what the core reads per skill, in a plain dict."""
        self.skill_iris: dict[str, str] = {}
        """IRI a statement may name a skill by (``Skill.iris``) -> the skill's id."""
        self.activities: dict[str, ActivityMapping] = {}
        self.ladders: dict[str, Ladder] = {}
        self.competency_types: frozenset[str] = frozenset(DEFAULT_COMPETENCY_TYPES)
        for item in items:
            self.put(item)

    @classmethod
    def from_file(cls, path: Path) -> Catalog:
        return cls(CatalogFile.load(path).items())

    @classmethod
    def from_mapping(
        cls, items: Mapping[str, Skill | ActivityMapping | Ladder | CompetencyTypes]
    ) -> Catalog:
        return cls(items.values())

    def put(self, item: Skill | ActivityMapping | Ladder | CompetencyTypes) -> None:
        if isinstance(item, Ladder):
            self.ladder_revision += 1
        else:
            self.revision += 1
        if isinstance(item, Skill):
            self._forget_iris(item.id)
            self.skills[item.id] = item
            self.categories[item.id] = item.category
            for iri in item.iris:
                self.skill_iris[iri] = item.id
        elif isinstance(item, ActivityMapping):
            self.activities[item.activity_id] = item
        elif isinstance(item, Ladder):
            self.ladders[item.id] = item
        else:
            self.competency_types = frozenset(item.types)

    def remove(self, key: str) -> None:
        """Apply a tombstone (a compacted-topic delete) for an item key."""
        kind, _, ident = key.partition(":")
        if kind == "ladder":
            self.ladder_revision += 1
        else:
            self.revision += 1
        if kind == "skill":
            self._forget_iris(ident)
            self.skills.pop(ident, None)
            self.categories.pop(ident, None)
        elif kind == "activity":
            self.activities.pop(ident, None)
        elif kind == "ladder":
            self.ladders.pop(ident, None)
        elif key == "competency_types":
            self.competency_types = frozenset(DEFAULT_COMPETENCY_TYPES)

    def _forget_iris(self, skill: str) -> None:
        old = self.skills.get(skill)
        if old is not None:
            for iri in old.iris:
                if self.skill_iris.get(iri) == skill:
                    del self.skill_iris[iri]
