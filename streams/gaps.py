"""Catalog gaps: the activities learners use that credit no skill, and what might close them.

An organisation's traffic names thousands of activities; the catalog maps some of them to
skills. :class:`GapTally` watches normalised statements and keeps, for every activity
that no catalog mapping covers and whose statements credited no skill, what the
statements say about it: how many statements and learners, its types, its
``definition.name`` and ``description`` in each language present, the verbs used, and one
statement id to look at. It also counts credited against uncredited statements, the
share an operator watches to see a catalog going stale.

Memory is bounded: at most ``limit`` activities are tracked (the first seen keep their
place; statements of activities beyond it are still counted in the share, and in
``untracked``), and each activity keeps at most ``LEARNERS_KEPT`` learner keys (the
learner count saturates there, and says so).

:class:`Suggester` proposes catalog skills for a gap
from the catalog's own words: a skill is suggested when every word of its name, of one of
its alternative labels, or of its id appears among the words of the activity's names,
descriptions and IRI. Each suggestion says which words matched; nothing is learned or
weighted, so the same catalog and the same gap always give the same suggestions.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from schemas.catalog import Catalog
from schemas.events import LearningEvent
from schemas.normalize import credits

LEARNERS_KEPT: Final = 10_000
"""Learner keys kept per activity; beyond, the count shows as at least this many."""

_WORD: Final = re.compile(r"[^\W_]+")
_STOP: Final = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "for",
        "in",
        "on",
        "to",
        "with",
        "by",
        "at",
        "from",
        "into",
        "your",
        "our",
        "its",
        "is",
        "are",
        "be",
        "how",
        "what",
        "course",
        "module",
        "lesson",
        "session",
        "introduction",
        "intro",
        "basics",
        "part",
        "unit",
        "video",
        "chapter",
    ]
)


@dataclass(slots=True)
class Gap:
    """One activity that credited no skill, as its statements describe it."""

    activity_id: str
    statements: int = 0
    learners: set[str] = field(default_factory=set)
    types: Counter[str] = field(default_factory=Counter)
    verbs: Counter[str] = field(default_factory=Counter)
    names: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    example: str = ""

    @property
    def learner_count(self) -> int:
        return len(self.learners)

    @property
    def learners_saturated(self) -> bool:
        return len(self.learners) >= LEARNERS_KEPT

    def text(self) -> str:
        """Everything the statements say about it, for matching: names, descriptions, IRI."""
        return " ".join([*self.names.values(), *self.descriptions.values(), self.activity_id])


class GapTally:
    """Counts what normalised statements credit, and describes the activities that credit
    nothing (see the module docstring)."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self.credited = 0
        """Statements that credited at least one skill."""
        self.uncredited = 0
        """Statements that credited no skill (voiding statements are neither)."""
        self.untracked = 0
        """Uncredited statements of activities past ``limit``."""
        self.gaps: dict[str, Gap] = {}

    @property
    def credited_share(self) -> float | None:
        """Credited statements over all counted; None before any."""
        total = self.credited + self.uncredited
        return self.credited / total if total else None

    def add(
        self, statement: Mapping[str, Any], events: tuple[LearningEvent, ...], catalog: Catalog
    ) -> None:
        """Count one statement and its events (``normalize``'s tuple, not an ``Ignored``)."""
        credited = credits(events)
        if credited is None:
            return
        if credited:
            self.credited += 1
            return
        self.uncredited += 1
        first = events[0]
        activity = first.activity_id
        if activity is None or activity in catalog.activities:
            return  # a person as the object, or a mapping that names unknown skills
        gap = self.gaps.get(activity)
        if gap is None:
            if len(self.gaps) >= self.limit:
                self.untracked += 1
                return
            gap = self.gaps[activity] = Gap(activity, example=first.statement_id)
        gap.statements += 1
        if len(gap.learners) < LEARNERS_KEPT:
            gap.learners.update(event.learner for event in events)
        gap.verbs[first.verb] += 1
        if first.activity_type is not None:
            gap.types[first.activity_type] += 1
        definition = statement["object"].get("definition")
        if definition is not None:
            for key, into in (("name", gap.names), ("description", gap.descriptions)):
                texts = definition.get(key)
                if texts:
                    for language, text in texts.items():
                        into.setdefault(language, text)

    def ranked(self) -> list[Gap]:
        """The gaps by learners, then statements, then IRI."""
        gaps = list(self.gaps.values())
        gaps.sort(key=lambda g: (-g.learner_count, -g.statements, g.activity_id))
        return gaps


@dataclass(frozen=True, slots=True)
class Suggestion:
    skill: str
    matched: tuple[str, ...]
    """The words of the skill's name, label or id found in the activity's text."""
    by: str
    """Which of the skill's names matched: ``name``, ``label "..."`` or ``id``."""


def words(text: str) -> list[str]:
    """Lower-cased words of ``text``, without the words every course title has."""
    return [w for w in _WORD.findall(text.casefold()) if w not in _STOP]


_Phrase = tuple[str, str, tuple[str, ...]]
"""(skill id, which of its names, the words of that name)."""
_PREFERENCE: Final = {"name": 0, "id": 2}
"""Between names of as many words: the name, then a label, then the id."""


class Suggester:
    """Suggestions from one catalog's skills (see the module docstring), indexed once: each
    word of a skill's name, labels or id leads to the phrases that hold it, so a gap costs
    its own words, not the size of the catalog (a framework's is tens of thousands)."""

    def __init__(self, catalog: Catalog) -> None:
        phrases: list[_Phrase] = []
        frequency: Counter[str] = Counter()
        for skill in catalog.skills.values():
            names = [("name", skill.name)]
            names += [(f'label "{label}"', label) for label in skill.labels]
            names.append(("id", skill.id.replace("-", " ").replace("_", " ")))
            for by, text in names:
                needed = tuple(dict.fromkeys(words(text)))
                if needed:
                    phrases.append((skill.id, by, needed))
                    frequency.update(needed)
        # A phrase matches only when all its words are present: file it under its rarest
        # word alone, so a gap looks at few phrases for each of its words.
        self.index: dict[str, list[tuple[str, str, tuple[str, ...], frozenset[str]]]] = {}
        for skill_id, by, needed in phrases:
            rarest = min(needed, key=lambda w: (frequency[w], w))
            self.index.setdefault(rarest, []).append((skill_id, by, needed, frozenset(needed)))

    def __call__(self, gap: Gap, limit: int = 3) -> list[Suggestion]:
        present = set(words(gap.text()))
        best: dict[str, tuple[tuple[int, int, str], Suggestion]] = {}
        for word in present:
            for skill, by, needed, all_of in self.index.get(word, ()):
                if not all_of <= present:
                    continue
                rank = (len(needed), -_PREFERENCE.get(by, 1), by)
                found = best.get(skill)
                if found is None or rank > found[0]:
                    best[skill] = (rank, Suggestion(skill, needed, by))
        ranked = sorted((s for _, s in best.values()), key=lambda s: (-len(s.matched), s.skill))
        return ranked[:limit]
