"""The building blocks of a rule's configuration in the rules file.

Every rule kind's configuration subclasses ``RuleConfig`` (``kind`` as a ``Literal`` of
its name, then its own fields); the level models here are shared by the kinds whose
levels are thresholds on one number (``streams.core.kinds``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleConfig(ConfigModel):
    """One rule of the rules file; ``enabled: false`` keeps it checked and never run."""

    kind: str
    enabled: bool = True


class ProficiencyLevel(ConfigModel):
    name: Name
    proficiency: float = Field(gt=0.0, le=1.0)


class WeeksLevel(ConfigModel):
    name: Name
    weeks: int = Field(ge=1, le=520)


class CountLevel(ConfigModel):
    name: Name
    count: int = Field(ge=1, le=100_000)


class MarginLevel(ConfigModel):
    name: Name
    margin: float = Field(gt=0.0, le=1.0)


class CategoriesLevel(ConfigModel):
    name: Name
    categories: int = Field(ge=1, le=1_000)


def rule_config(
    module: str,
    name: str,
    kind: str,
    doc: str,
    /,
    *,
    checks: dict[str, Any] | None = None,
    **fields: Any,
) -> type[RuleConfig]:
    """A kind's configuration model, made by a call rather than a ``class`` statement.

    The same model as ``class <name>(RuleConfig)`` with ``kind: Literal[kind]`` and each of
    ``fields`` given as ``(type, default or Field(...))``; ``checks`` are validators
    (``not_below``). The built-in kinds declare theirs this way because ``make compile``
    builds their modules with mypyc, which keeps no annotations a pydantic model could read
    in a compiled ``class`` body; a kind of a deployment's own may use either form."""
    literal: Any = Literal.__getitem__(kind)
    model: type[RuleConfig] = create_model(
        name,
        __base__=RuleConfig,
        __doc__=doc,
        __module__=module,
        __validators__=checks,
        kind=(literal, ...),
        **fields,
    )
    return model


def not_below(high: str, low: str) -> Any:
    """A check for ``rule_config``: field ``high`` is not below field ``low``."""

    def check(model: Any) -> Any:
        if getattr(model, high) < getattr(model, low):
            raise ValueError(f"{high} is below {low}")
        return model

    return model_validator(mode="after")(check)
