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

Each rule kind lives in its own module (``streams.core.kinds``); a rules file can
name further modules that define kinds under ``kind_modules`` (imported when the
file is loaded: the rules file is trusted like code)::

    kind_modules: [acme_skills.course_streak]

A rule id is part of every milestone id it fires, so renaming a rule (or a
level) makes its achievements new ones; changing a threshold does not. Levels
are listed in increasing order of their threshold. A rule with
``enabled: false`` is loaded, checked and never run.

``Rules.load`` refuses a bad file with a ``RulesError`` (a ``ValueError``)
whose message names each offending field the way it is written in the file,
for example ``rules.networker.levels[1].count: Input should be greater than
or equal to 1``.

The profile stage reads the compiled ``plan``: one ``RuleKind`` per kind in use, built
once per rules file with its rules (the kinds read their own rule models).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SerializeAsAny, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from streams.core import kinds as kind_registry
from streams.core.plan import Plan
from streams.core.rule_config import (
    CategoriesLevel,
    ConfigModel,
    CountLevel,
    MarginLevel,
    Name,
    ProficiencyLevel,
    RuleConfig,
    WeeksLevel,
)
from streams.core.state import HALF_LIFE_DAYS

__all__ = [
    "DEFAULT_RULES_PATH",
    "CategoriesLevel",
    "CountLevel",
    "MarginLevel",
    "ProficiencyLevel",
    "RuleConfig",
    "Rules",
    "RulesError",
    "WeeksLevel",
]

DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "default_rules.yaml"


class RulesError(ValueError):
    """A rules file that cannot be used; ``problems`` lists each one as ``path: message``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(f"invalid rules ({source}): " + "; ".join(problems))


class Rules(ConfigModel):
    """The profile knobs and the milestone rules; ``Rules()`` has the knobs and no rules."""

    version: Literal[1] = 1
    half_life_days: float = Field(default=180.0, ge=HALF_LIFE_DAYS[0], le=HALF_LIFE_DAYS[1])
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
    kind_modules: tuple[str, ...] = ()
    """Modules defining further rule kinds (``KIND``), imported when the file is loaded."""
    rules: dict[Name, SerializeAsAny[RuleConfig]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _load_kind_modules(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("kind_modules"), list | tuple):
            problems = []
            for n, module in enumerate(data["kind_modules"]):
                if isinstance(module, str):
                    try:
                        kind_registry.load(module)
                    except ValueError as exc:
                        problems.append(f"kind_modules[{n}]: {exc}")
            if problems:
                raise ValueError("; ".join(problems))
        return data

    @field_validator("rules", mode="before")
    @classmethod
    def _each_by_its_kind(cls, data: Any) -> Any:
        """Validate each rule with the configuration model of its kind (the rule id is
        the kind when the rule names none and the id is a kind's name)."""
        if not isinstance(data, Mapping):
            return data
        known = kind_registry.kinds()
        names = ", ".join(sorted(known))
        rules: dict[Any, Any] = {}
        errors: list[InitErrorDetails] = []
        for rule_id, body in data.items():
            if not isinstance(body, Mapping):
                rules[rule_id] = body
                continue
            name = body.get("kind", rule_id if rule_id in known else None)
            if name is None:
                errors.append(_error(rule_id, "needs a kind (one of " + names + ")", body))
                continue
            kind = known.get(name) if isinstance(name, str) else None
            if kind is None:
                errors.append(_error(rule_id, f"unknown kind; expected one of {names}", body))
                continue
            try:
                rules[rule_id] = kind.config.model_validate({**body, "kind": name})
            except ValidationError as exc:
                errors.extend(
                    InitErrorDetails(
                        type=err["type"],
                        loc=(rule_id, *err["loc"]),
                        input=err["input"],
                        ctx=err.get("ctx", {}),
                    )
                    for err in exc.errors()
                )
        if errors:
            raise ValidationError.from_exception_data("rules", errors)
        return rules

    @model_validator(mode="after")
    def _levels_ordered(self) -> Rules:
        problems: list[str] = []
        for rule_id, rule in self.rules.items():
            levels = getattr(rule, "levels", ())
            field = kind_registry.kinds()[rule.kind].threshold
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


def _error(rule_id: Any, message: str, body: Any) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("rule_kind", message), loc=(rule_id,), input=body
    )


def _describe(exc: ValidationError) -> list[str]:
    found: list[tuple[str, str, str]] = []
    for err in exc.errors():
        path = ""
        for part in err["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part == "[key]":
                path += " (the rule id)"
            else:
                path += f".{part}" if path else str(part)
        if err["type"] == "value_error":
            message = str(err.get("ctx", {}).get("error", err["msg"]))
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
