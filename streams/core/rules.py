"""Milestone rules and the profile knobs, read from one YAML file into ``Rules``.

The file (``streams/default_rules.yaml`` ships the defaults) has the profile
knobs at the top level and a ``rules`` mapping from rule id to rule::

    half_life_days: 180
    window_days: 90
    rules:
      networker:            # the rule id; it names the milestone's ``rule``
        kind: networker     # optional when the id is the kind's name
        window_days: 90
        levels:
          - {name: connector, count: 3}

A rule id is part of every milestone id it fires, so renaming a rule (or a
level) makes its achievements new ones; changing a threshold does not. Levels
are listed in increasing order of their threshold. A rule with
``enabled: false`` is loaded, checked and never run.

``Rules.load`` refuses a bad file with a ``RulesError`` (a ``ValueError``)
whose message names each offending field the way it is written in the file,
for example ``rules.networker.levels[1].count: Input should be greater than
or equal to 1``.

The profile stage reads the compiled ``plan`` (plain tuples), never the
pydantic models, on its hot path.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.milestones import MilestoneKind

DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "default_rules.yaml"

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]


class RulesError(ValueError):
    """A rules file that cannot be used; ``problems`` lists each one as ``path: message``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(f"invalid rules ({source}): " + "; ".join(problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProficiencyLevel(_Model):
    name: Name
    proficiency: float = Field(gt=0.0, le=1.0)


class WeeksLevel(_Model):
    name: Name
    weeks: int = Field(ge=1, le=520)


class CountLevel(_Model):
    name: Name
    count: int = Field(ge=1, le=100_000)


class MarginLevel(_Model):
    name: Name
    margin: float = Field(gt=0.0, le=1.0)


class CategoriesLevel(_Model):
    name: Name
    categories: int = Field(ge=1, le=1_000)


class _Rule(_Model):
    enabled: bool = True


class SkillLevelRule(_Rule):
    """A skill's proficiency reached a level (practitioner, specialist, expert ...)."""

    kind: Literal["skill_level_reached"]
    levels: tuple[ProficiencyLevel, ...] = Field(min_length=1)


class ContinuousLearnerRule(_Rule):
    """Active in N consecutive ISO weeks."""

    kind: Literal["continuous_learner"]
    levels: tuple[WeeksLevel, ...] = Field(min_length=1)


class NetworkerRule(_Rule):
    """Events attended within the rolling window (``window_days``, default the global one)."""

    kind: Literal["networker"]
    window_days: int | None = Field(default=None, ge=1, le=3_660)
    levels: tuple[CountLevel, ...] = Field(min_length=1)


class SoftSkillsRule(_Rule):
    """Breadth: how many distinct skills of the soft categories the learner holds.

    A skill is held when its proficiency reaches ``min_proficiency`` or, unless
    ``min_exposure`` is null, when at least that many statements touched it
    (soft skills are often practised rather than scored).
    """

    kind: Literal["soft_skills"]
    categories: tuple[Name, ...] = Field(default=("soft",), min_length=1)
    min_proficiency: float = Field(default=0.5, gt=0.0, le=1.0)
    min_exposure: int | None = Field(default=3, ge=1)
    levels: tuple[CountLevel, ...] = Field(min_length=1)


class TrendAdopterRule(_Rule):
    """A catalog skill flagged emerging reached a level while the event time is in its period."""

    kind: Literal["trend_adopter"]
    levels: tuple[ProficiencyLevel, ...] = Field(min_length=1)


class PerformanceBoostRule(_Rule):
    """An assessed score on a skill rose by ``margin`` over the lowest recent one in the window."""

    kind: Literal["performance_boost"]
    window_days: int | None = Field(default=None, ge=1, le=3_660)
    levels: tuple[MarginLevel, ...] = Field(min_length=1)


class VersatileRule(_Rule):
    """T-shaped: one skill at ``deep_proficiency`` plus breadth across categories.

    Breadth counts the catalog categories holding a skill at
    ``breadth_proficiency`` or more (the deep skill's category included).
    """

    kind: Literal["versatile"]
    deep_proficiency: float = Field(default=0.7, gt=0.0, le=1.0)
    breadth_proficiency: float = Field(default=0.5, gt=0.0, le=1.0)
    levels: tuple[CategoriesLevel, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _deep_not_below_breadth(self) -> VersatileRule:
        if self.deep_proficiency < self.breadth_proficiency:
            raise ValueError("deep_proficiency is below breadth_proficiency")
        return self


class RoleReadyRule(_Rule):
    """Every requirement of the next role on a career ladder met (``ladders``: empty = all)."""

    kind: Literal["role_ready"]
    ladders: tuple[Name, ...] = ()


Rule = Annotated[
    SkillLevelRule
    | ContinuousLearnerRule
    | NetworkerRule
    | SoftSkillsRule
    | TrendAdopterRule
    | PerformanceBoostRule
    | VersatileRule
    | RoleReadyRule,
    Field(discriminator="kind"),
]

_KINDS = frozenset(k.value for k in MilestoneKind)
_THRESHOLD_FIELD = {
    "skill_level_reached": "proficiency",
    "trend_adopter": "proficiency",
    "continuous_learner": "weeks",
    "networker": "count",
    "soft_skills": "count",
    "performance_boost": "margin",
    "versatile": "categories",
}


class Rules(_Model):
    """The profile knobs and the milestone rules; ``Rules()`` has the knobs and no rules."""

    version: Literal[1] = 1
    half_life_days: float = Field(default=180.0, gt=0.0, le=36_500.0)
    """Assessment evidence loses half its weight in this many days of event time."""
    prior_weight: float = Field(default=1.0, gt=0.0, le=1_000.0)
    """Weight of the implicit zero score every skill starts with."""
    window_days: int = Field(default=90, ge=1, le=3_660)
    """The rolling window of the snapshot (and of rules that set none)."""
    evidence_cap: int = Field(default=48, ge=1, le=100_000)
    """Statements kept whole per learner; older ones live on only in aggregates."""
    dedupe_memory: int = Field(default=64, ge=0, le=1_000_000)
    """Ids remembered per learner beyond the kept statements (folded, voided, voiding)."""
    score_history: int = Field(default=8, ge=1, le=1_000)
    """Newest evidence scores kept per skill (latest score, performance boost)."""
    certification_score: float | None = Field(default=0.9, ge=0.0, le=1.0)
    """Evidence score of a certification sent without a score; null: no evidence."""
    course_passed_score: float | None = Field(default=None, ge=0.0, le=1.0)
    """Evidence score of a passed course sent without a score; null: no evidence."""
    max_evidence: int = Field(default=10, ge=1, le=1_000)
    """Statement ids carried by one milestone."""
    rules: dict[Name, Rule] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _infer_kinds(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("rules"), Mapping):
            return data
        rules: dict[Any, Any] = {}
        for rule_id, body in data["rules"].items():
            if isinstance(body, Mapping) and "kind" not in body and rule_id in _KINDS:
                rules[rule_id] = {"kind": rule_id, **body}
            else:
                rules[rule_id] = body
        return {**data, "rules": rules}

    @model_validator(mode="after")
    def _levels_ordered(self) -> Rules:
        problems: list[str] = []
        for rule_id, rule in self.rules.items():
            levels = getattr(rule, "levels", ())
            field = _THRESHOLD_FIELD.get(rule.kind)
            seen: set[str] = set()
            for i, level in enumerate(levels):
                if level.name in seen:
                    problems.append(
                        f"rules.{rule_id}.levels[{i}].name: {level.name!r} is used twice"
                    )
                seen.add(level.name)
                if i and field and getattr(level, field) <= getattr(levels[i - 1], field):
                    problems.append(
                        f"rules.{rule_id}.levels[{i}].{field}: must be greater than the level "
                        f"before it ({getattr(levels[i - 1], field)}); "
                        "list levels in increasing order"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @functools.cached_property
    def plan(self) -> Plan:
        """The compiled form the profile stage runs (built once per ``Rules``)."""
        return Plan(self)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Rules:
        """A copy; an updated copy is validated again (``RulesError``) and compiles its plan."""
        if update:
            return type(self).from_data({**self.model_dump(), **update}, "updated rules")
        return super().model_copy(deep=deep)

    @classmethod
    def load(cls, path: Path | None) -> Rules:
        """Read a rules file (YAML or JSON); ``None`` gives the shipped defaults.

        Raises ``RulesError`` (a ``ValueError``) naming every offending field.
        """
        if path is None:
            return _defaults()
        return cls._load_file(path)

    @classmethod
    def from_data(cls, data: object, source: str = "rules") -> Rules:
        """Validate already-parsed rules (a mapping), reporting problems like ``load``."""
        if not isinstance(data, Mapping):
            raise RulesError(
                source, [f"$: expected a mapping of settings and rules, got {type(data).__name__}"]
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise RulesError(source, _describe(exc)) from None

    @classmethod
    def _load_file(cls, path: Path) -> Rules:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RulesError(
                str(path), [f"$: cannot read the file: {exc.strerror or exc}"]
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RulesError(str(path), [f"$: not valid YAML: {exc}"]) from None
        return cls.from_data(data, str(path))


@functools.cache
def _defaults() -> Rules:
    return Rules._load_file(DEFAULT_RULES_PATH)


def _describe(exc: ValidationError) -> list[str]:
    found: list[tuple[str, str, str]] = []
    for err in exc.errors():
        loc = list(err["loc"])
        if len(loc) >= 3 and loc[0] == "rules" and loc[2] in _KINDS:
            del loc[2]
        path = ""
        for part in loc:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part == "[key]":
                path += " (the rule id)"
            else:
                path += f".{part}" if path else str(part)
        if err["type"] == "value_error":
            message = str(err.get("ctx", {}).get("error", err["msg"]))
        elif err["type"] == "union_tag_invalid":
            message = f"unknown kind; expected one of {', '.join(sorted(_KINDS))}"
        elif err["type"] == "union_tag_not_found":
            message = "needs a kind (one of " + ", ".join(sorted(_KINDS)) + ")"
        else:
            message = err["msg"]
        found.append((path, err["type"], message))
    out: list[str] = []
    for path, kind, message in found:
        if kind == "too_short" and any(p.startswith(f"{path}[") for p, _, _ in found):
            continue
        if path and message.startswith(("rules.", f"{path}.")):
            out.append(message)
        else:
            out.append(f"{path}: {message}" if path else message)
    return out


class LevelRule:
    """A compiled rule whose levels are thresholds on one number."""

    __slots__ = ("first", "kind", "learner_keys", "levels", "prefix", "rule", "rule_id", "suffixes")

    def __init__(
        self,
        rule_id: str,
        rule: SkillLevelRule
        | ContinuousLearnerRule
        | NetworkerRule
        | SoftSkillsRule
        | TrendAdopterRule
        | PerformanceBoostRule
        | VersatileRule,
        field: str,
    ) -> None:
        self.rule_id = rule_id
        self.rule = rule
        self.kind = MilestoneKind(rule.kind)
        self.levels: tuple[tuple[str, float], ...] = tuple(
            (lvl.name, float(getattr(lvl, field))) for lvl in rule.levels
        )
        self.first = self.levels[0][1]
        self.prefix = f"{rule_id}\x1f"
        self.suffixes = tuple(f"\x1f{name}" for name, _ in self.levels)
        """A level's key in ``ProfileState.fired`` is ``prefix + (skill or '') + suffix``."""
        self.learner_keys = tuple(self.prefix + suffix for suffix in self.suffixes)
        """The keys of the levels when the milestone names no skill."""


class Plan:
    """Rules compiled to plain values: what ``apply`` reads per statement."""

    __slots__ = (
        "boost",
        "cap",
        "certification_score",
        "continuous",
        "course_passed_score",
        "dedupe",
        "evidence_window",
        "exposures",
        "half_life_days",
        "has_rules",
        "history",
        "keep",
        "max_evidence",
        "multi_skill",
        "networker",
        "prior_weight",
        "role_ready",
        "skill_level",
        "soft_categories",
        "soft_skills",
        "trend",
        "uses_levels",
        "versatile",
        "window_days",
        "window_max_days",
    )

    def __init__(self, rules: Rules) -> None:
        self.half_life_days = rules.half_life_days
        self.prior_weight = rules.prior_weight
        self.window_days = rules.window_days
        self.cap = rules.evidence_cap
        self.keep = min(self.cap - self.cap // 8, self.cap - 1)
        """Statements kept after a fold (which makes room for one more)."""
        self.evidence_window = max(1, self.cap // 2)
        """A milestone cites statements among the newest this many up to the one that
        crossed its threshold (see ``milestones``)."""
        self.dedupe = rules.dedupe_memory
        self.history = rules.score_history
        self.certification_score = rules.certification_score
        self.course_passed_score = rules.course_passed_score
        self.max_evidence = rules.max_evidence
        self.skill_level: list[LevelRule] = []
        self.continuous: list[LevelRule] = []
        self.networker: list[tuple[LevelRule, int]] = []
        self.soft_skills: list[tuple[LevelRule, SoftSkillsRule]] = []
        self.trend: list[LevelRule] = []
        self.boost: list[tuple[LevelRule, int]] = []
        self.versatile: list[tuple[LevelRule, VersatileRule]] = []
        self.role_ready: list[tuple[str, RoleReadyRule]] = []
        windows = [rules.window_days]
        for rule_id, rule in rules.rules.items():
            if not rule.enabled:
                continue
            if isinstance(rule, SkillLevelRule):
                self.skill_level.append(LevelRule(rule_id, rule, "proficiency"))
            elif isinstance(rule, ContinuousLearnerRule):
                self.continuous.append(LevelRule(rule_id, rule, "weeks"))
            elif isinstance(rule, NetworkerRule):
                window = rule.window_days or rules.window_days
                windows.append(window)
                self.networker.append((LevelRule(rule_id, rule, "count"), window))
            elif isinstance(rule, SoftSkillsRule):
                self.soft_skills.append((LevelRule(rule_id, rule, "count"), rule))
            elif isinstance(rule, TrendAdopterRule):
                self.trend.append(LevelRule(rule_id, rule, "proficiency"))
            elif isinstance(rule, PerformanceBoostRule):
                self.boost.append(
                    (LevelRule(rule_id, rule, "margin"), rule.window_days or rules.window_days)
                )
            elif isinstance(rule, VersatileRule):
                self.versatile.append((LevelRule(rule_id, rule, "categories"), rule))
            else:
                self.role_ready.append((rule_id, rule))
        self.window_max_days = max(windows)
        self.soft_categories = frozenset(c for _, rule in self.soft_skills for c in rule.categories)
        self.exposures = frozenset(
            rule.min_exposure for _, rule in self.soft_skills if rule.min_exposure is not None
        )
        """Statement counts per skill at which a soft-skills rule may newly count the skill."""
        self.multi_skill = bool(self.versatile or self.role_ready or self.soft_skills)
        self.uses_levels = bool(self.skill_level or self.trend or self.multi_skill)
        """Rules that look at a skill's proficiency after each assessment of it."""
        """Rules that need a skill's proficiency just before a statement, to see crossings."""
        self.has_rules = any(
            (
                self.skill_level,
                self.continuous,
                self.networker,
                self.soft_skills,
                self.trend,
                self.boost,
                self.versatile,
                self.role_ready,
            )
        )
