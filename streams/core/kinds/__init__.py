"""The milestone rule kinds: one module each, found here or named by the rules file.

A module of this package (or one a rules file lists under ``kind_modules``) defines
``KIND``, a ``streams.core.milestones.RuleKind`` subclass. ``kinds()`` lists every kind
known, in the order the profile stage evaluates them within a scope (``order``, then
name); ``load(module)`` imports a further module and registers its kind. The guide
``docs/rule-kinds.md`` walks through writing one.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import TYPE_CHECKING

from schemas.compiled import attach

if TYPE_CHECKING:
    from streams.core.milestones import RuleKind

COMPILED_MODULES = (
    "continuous_learner",
    "networker",
    "performance_boost",
    "role_ready",
    "skill_level_reached",
    "soft_skills",
    "trend_adopter",
    "versatile",
)
"""The built-in kinds ``make compile`` builds (a kind a rules file loads runs as Python)."""
COMPILED = attach(__name__, __path__, COMPILED_MODULES)

_KINDS: dict[str, type[RuleKind]] = {}


def _register(module: ModuleType) -> type[RuleKind]:
    from streams.core.milestones import RuleKind

    kind = getattr(module, "KIND", None)
    if not (isinstance(kind, type) and issubclass(kind, RuleKind)):
        raise ValueError(  # noqa: TRY004 - reported to the rules file as a problem
            f"module {module.__name__} defines no KIND (a RuleKind subclass)"
        )
    known = _KINDS.get(kind.name)
    if known is not None and known is not kind:
        raise ValueError(
            f"module {module.__name__}: kind {kind.name!r} is already defined by {known.__module__}"
        )
    _KINDS[kind.name] = kind
    return kind


def _built_in() -> None:
    if _KINDS:
        return
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            _register(importlib.import_module(f"{__name__}.{info.name}"))


def kinds() -> dict[str, type[RuleKind]]:
    """Every kind known: the built-in ones and those loaded, by name."""
    _built_in()
    return _KINDS


def load(module: str) -> type[RuleKind]:
    """Import ``module`` (a dotted name) and register its ``KIND``.

    Raises ``ValueError`` saying what is wrong (no such module, no KIND, a name taken)."""
    _built_in()
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        raise ValueError(f"cannot import {module!r}: {exc}") from None
    return _register(imported)
