"""The rules compiled for the core: what ``apply`` and the rule kinds read per statement.

``Rules.plan`` builds one ``Plan`` per ``Rules``. A compiled module (``make compile``): the
core reads a plan's attributes many times per statement, and a compiled class's are read
from the object itself, where a Python class's go through attribute look-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streams.core import kinds as kind_registry
from streams.core.milestones import RuleKind, Scope

if TYPE_CHECKING:
    from streams.core.rules import Rules


class Plan:
    """Rules compiled to plain values and one ``RuleKind`` per kind in use: what
    ``apply`` reads per statement."""

    __slots__ = (
        "always",
        "cap",
        "certification_score",
        "course_passed_score",
        "dedupe",
        "evidence_window",
        "exposures",
        "half_life_days",
        "has_rules",
        "history",
        "keep",
        "kinds",
        "learner_calls",
        "learner_kinds",
        "max_evidence",
        "on_evidence",
        "on_kinds",
        "on_new_week",
        "prior_weight",
        "profile_kinds",
        "skill_kinds",
        "window_days",
        "window_max_days",
    )

    def __init__(self, rules: Rules) -> None:
        self.half_life_days: float = float(rules.half_life_days)
        self.prior_weight: float = float(rules.prior_weight)
        self.window_days: int = rules.window_days
        self.cap: int = rules.evidence_cap
        self.keep: int = min(self.cap - self.cap // 8, self.cap - 1)
        """Statements kept after a fold (which makes room for one more)."""
        self.evidence_window: int = max(1, self.cap // 2)
        """A milestone cites statements among the newest this many up to the one that
        crossed its threshold (see ``milestones``)."""
        self.dedupe: int = rules.dedupe_memory
        self.history: int = rules.score_history
        self.certification_score: float | None = rules.certification_score
        self.course_passed_score: float | None = rules.course_passed_score
        self.max_evidence: int = rules.max_evidence
        known = kind_registry.kinds()
        grouped: dict[str, list[tuple[str, Any]]] = {}
        for rule_id, rule in rules.rules.items():
            if rule.enabled:
                grouped.setdefault(rule.kind, []).append((rule_id, rule))
        classes = sorted(
            (known[name] for name in grouped), key=lambda k: (k.scope, k.order, k.name)
        )
        self.kinds: tuple[RuleKind, ...] = tuple(k(grouped[k.name], rules) for k in classes)
        """One instance per kind in use, in the order they are evaluated."""
        self.learner_kinds: tuple[RuleKind, ...] = tuple(
            k for k in self.kinds if k.scope is Scope.LEARNER
        )
        self.skill_kinds: tuple[RuleKind, ...] = tuple(
            k for k in self.kinds if k.scope is Scope.SKILL
        )
        self.profile_kinds: tuple[RuleKind, ...] = tuple(
            k for k in self.kinds if k.scope is Scope.PROFILE
        )
        self.window_max_days: int = max((w for k in self.kinds for w in k.windows), default=0)
        self.window_max_days = max(self.window_max_days, rules.window_days)
        self.on_evidence: bool = any(k.on_evidence for k in self.kinds)
        self.on_new_week: bool = any(k.on_new_week for k in self.kinds)
        self.on_kinds: frozenset[int] = frozenset(c for k in self.kinds for c in k.on_kinds)
        self.exposures: frozenset[int] = frozenset(c for k in self.kinds for c in k.touch_counts)
        """Statement counts per skill at which a kind may newly count the skill."""
        self.has_rules: bool = bool(self.kinds)
        self.always: bool = any(k.always for k in self.learner_kinds)
        self.learner_calls: tuple[tuple[RuleKind, ...], ...] = tuple(
            tuple(
                k
                for k in self.learner_kinds
                if (new_week and k.on_new_week) or code in k.on_kinds or k.always
            )
            for new_week in (False, True)
            for code in range(16)
        )
        """The learner-scope kinds a statement in order wakes, at ``code | new_week << 4``
        (its kind code, and whether it made its week active)."""

    def kind(self, name: str) -> RuleKind | None:
        """The compiled kind ``name``, if a rule of it is enabled."""
        return next((k for k in self.kinds if k.name == name), None)
