"""The building blocks of a rule's configuration in the rules file.

Every rule kind's configuration subclasses ``RuleConfig`` (``kind`` as a ``Literal`` of
its name, then its own fields); the level models here are shared by the kinds whose
levels are thresholds on one number (``streams.core.kinds``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

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
