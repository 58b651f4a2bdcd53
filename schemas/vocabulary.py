"""Which xAPI verbs (and verb + activity-type pairs) count, and as what.

A valid statement is credited with an ``EventKind``, or skipped ("ignored")
with a reason that is counted, never dead-lettered. The kind is decided in
this order, the first that applies winning:

1. **Voiding** is structural, not vocabulary: the verb
   ``http://adlnet.gov/expapi/verbs/voided`` with a ``StatementRef`` object is
   always ``voiding``, and a vocabulary file may not mention that verb.
2. A verb listed under ``ignored`` is skipped, whatever the activity (a course
   *launched* is not a course completed, even if the catalog says the course
   is worth a completion).
3. A **verb + activity-type rule** (``rules``): *completed* on an assessment
   is ``skill_assessed``, *completed* on a meeting is ``event_attended``.
4. The **verb** alone (``verbs``): *completed* is ``course_completed``.
5. Anything else is skipped as an unknown verb.
6. Then the **catalog** has the last word: an ``ActivityMapping`` with a
   ``kind`` for the object's activity id re-labels what steps 3–4 credited,
   except that a kind of ``other`` (a view, a comment) is never promoted and
   a failure (``course_failed``) only becomes ``skill_assessed`` (a failed
   assessment is still an assessment), never a success.

In short: catalog ActivityMapping.kind > verb + activity-type rule > verb >
ignored.

**cmi5.** In a cmi5 session the LMS, not the AU, says when a unit is done: it sends
*satisfied* once the AU's ``moveOn`` criteria are met (and once for the course when
all of its are). So *satisfied* is the completion that counts, once per unit; an AU's
own *completed* and *passed* (marked with the cmi5 context category
``CMI5_CATEGORY``) do not count as courses again: *completed* is activity only
(``other``), *passed* an assessment (``skill_assessed``, its score is evidence).

The defaults below cover the ADL vocabulary, the cmi5 verbs, the TLA profile, the
Tin Can registry verbs and activity types used for events, mentoring and credentials,
Open Badges and the xAPI video profile.

Operators extend or replace the defaults with a YAML (or JSON) file,
``SKILLSTREAM_VOCABULARY_FILE``::

    schema_version: 1
    replace_defaults: false          # true: start from an empty vocabulary
    verbs:
      https://lms.example.com/verbs/finished: course_completed
    ignored:
      http://adlnet.gov/expapi/verbs/experienced: page views are too noisy here
    rules:
      - verbs: [https://lms.example.com/verbs/finished]
        activity_types: [http://adlnet.gov/expapi/activities/meeting]
        kind: event_attended

Entries of the file win over the defaults: a verb the file credits is no longer
ignored and the other way round, and the file's rules are consulted first.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, ValidationError, model_validator

from schemas._base import Contract
from schemas.catalog import DEFAULT_COMPETENCY_TYPES
from schemas.events import EventKind
from schemas.xapi.problems import VOIDED_VERB

VOCABULARY_SCHEMA_VERSION: Final = 1

_IRI_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")


def _iri(value: str) -> str:
    if _IRI_RE.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not an absolute IRI")
    return value


Iri = Annotated[str, AfterValidator(_iri)]


class VerbActivityRule(Contract):
    """Each verb listed, on an activity of each type listed, counts as ``kind``."""

    verbs: tuple[Iri, ...] = Field(min_length=1)
    activity_types: tuple[Iri, ...] = Field(min_length=1)
    kind: EventKind


class Vocabulary(Contract):
    """The verb tables the normalizer reads; see the module docstring for precedence."""

    schema_version: Literal[1] = VOCABULARY_SCHEMA_VERSION
    verbs: dict[Iri, EventKind] = Field(default_factory=dict)
    rules: tuple[VerbActivityRule, ...] = ()
    ignored: dict[Iri, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict, description="Verb IRI -> why statements with it are skipped."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Vocabulary:
        problems: list[str] = []
        for verb, kind in self.verbs.items():
            if kind is EventKind.VOIDING:
                problems.append(f"verbs: {verb} cannot be 'voiding' (voiding is built in)")
            if verb in self.ignored:
                problems.append(f"verb {verb} is both credited (verbs) and ignored")
        for i, rule in enumerate(self.rules):
            if rule.kind is EventKind.VOIDING:
                problems.append(f"rules[{i}]: kind cannot be 'voiding' (voiding is built in)")
            if VOIDED_VERB in rule.verbs:
                problems.append(f"rules[{i}]: the voided verb is built in")
        if VOIDED_VERB in self.verbs or VOIDED_VERB in self.ignored:
            problems.append(f"{VOIDED_VERB} is built in and cannot be configured")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def pair_kinds(self) -> dict[tuple[str, str], EventKind]:
        """``rules`` flattened to (verb, activity type) -> kind, the first rule winning."""
        table: dict[tuple[str, str], EventKind] = {}
        for rule in self.rules:
            for verb in rule.verbs:
                for activity_type in rule.activity_types:
                    table.setdefault((verb, activity_type), rule.kind)
        return table

    def kind_for(self, verb: str, activity_type: str | None) -> EventKind | None:
        """The kind of a verb on an activity type (steps 3–4), ``None`` if not credited."""
        if activity_type is not None:
            kind = self.pair_kinds.get((verb, activity_type))
            if kind is not None:
                return kind
        return self.verbs.get(verb)

    def ignored_reason(self, verb: str) -> str | None:
        """Why a verb is skipped (step 2), ``None`` if it is not on the ignored list."""
        return self.ignored.get(verb)

    @classmethod
    def default(cls) -> Vocabulary:
        """The built-in vocabulary."""
        return Vocabulary(
            verbs=dict(_DEFAULT_VERBS), rules=_DEFAULT_RULES, ignored=dict(_DEFAULT_IGNORED)
        )

    @classmethod
    def load(cls, path: Path | None) -> Vocabulary:
        """The defaults, extended or replaced by the file at ``path`` (YAML or JSON).

        A file that does not hold a valid vocabulary raises ``ValueError``
        whose message names the file and each offending field.
        """
        if path is None:
            return cls.default()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{path}: cannot read the vocabulary file: {exc.strerror}") from exc
        import orjson
        import yaml

        try:
            data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else orjson.loads(text)
        except (yaml.YAMLError, orjson.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not valid YAML/JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(  # noqa: TRY004 - every bad file is a ValueError to callers
                f"{path}: a vocabulary file holds a mapping (verbs, rules, ignored)"
            )
        try:
            overlay = VocabularyFile.model_validate_json(orjson.dumps(data))
        except ValidationError as exc:
            raise ValueError(f"{path}: {_describe(exc)}") from exc
        if overlay.replace_defaults:
            return cls(verbs=overlay.verbs, rules=overlay.rules, ignored=overlay.ignored)
        return cls.default().extended(overlay)

    def extended(self, overlay: Vocabulary) -> Vocabulary:
        """This vocabulary with ``overlay``'s entries winning over its own."""
        verbs = {v: k for v, k in self.verbs.items() if v not in overlay.ignored}
        verbs.update(overlay.verbs)
        ignored = {v: r for v, r in self.ignored.items() if v not in overlay.verbs}
        ignored.update(overlay.ignored)
        return Vocabulary(verbs=verbs, rules=(*overlay.rules, *self.rules), ignored=ignored)


class VocabularyFile(Vocabulary):
    """What an operator writes: a vocabulary plus whether it replaces the defaults."""

    replace_defaults: bool = False


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "(file)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


_ADL: Final = "http://adlnet.gov/expapi/verbs/"
_ADL_W3ID: Final = "https://w3id.org/xapi/adl/verbs/"
_TINCAN: Final = "http://id.tincanapi.com/verb/"
_TLA: Final = "https://w3id.org/xapi/tla/verbs/"
_STREAMS: Final = "http://activitystrea.ms/schema/1.0/"
_VIDEO: Final = "https://w3id.org/xapi/video/verbs/"

CMI5_CATEGORY: Final = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
"""The context category an AU's statements carry in a cmi5 session (see above)."""
SATISFIED: Final = _ADL_W3ID + "satisfied"

ASSESSMENT_TYPES: Final = (
    "http://adlnet.gov/expapi/activities/assessment",
    "https://w3id.org/xapi/tla/activity-types/assessment",
    *DEFAULT_COMPETENCY_TYPES,
)
EVENT_TYPES: Final = (
    "http://adlnet.gov/expapi/activities/meeting",
    "http://id.tincanapi.com/activitytype/conference",
    "http://id.tincanapi.com/activitytype/conference-session",
    "http://id.tincanapi.com/activitytype/webinar",
    "http://id.tincanapi.com/activitytype/tutor-session",
    "http://activitystrea.ms/schema/1.0/event",
    "https://w3id.org/xapi/virtual-classroom/activity-types/virtual-classroom",
)
CREDENTIAL_TYPES: Final = (
    "https://w3id.org/xapi/tla/activity-types/credential",
    "https://w3id.org/xapi/tla/activity-types/badge",
    "http://activitystrea.ms/schema/1.0/badge",
    "http://id.tincanapi.com/activitytype/certificate",
    "https://www.opigno.org/en/tincan_registry/activity_type/certificate",
)
MEDIA_TYPES: Final = (
    "https://w3id.org/xapi/video/activity-type/video",
    "http://adlnet.gov/expapi/activities/media",
)

_LIFECYCLE = "session lifecycle: says nothing about what was learned"
_QUESTION = "question-level interaction: the assessment's own result is what counts"

_DEFAULT_VERBS: Final[dict[str, EventKind]] = {
    _ADL + "completed": EventKind.COURSE_COMPLETED,
    _ADL + "passed": EventKind.COURSE_PASSED,
    _ADL + "failed": EventKind.COURSE_FAILED,
    _ADL + "attended": EventKind.EVENT_ATTENDED,
    _ADL + "scored": EventKind.SKILL_ASSESSED,
    _ADL + "mastered": EventKind.SKILL_ASSESSED,
    _ADL + "shared": EventKind.COLLABORATION,
    _ADL + "experienced": EventKind.OTHER,
    _ADL + "commented": EventKind.OTHER,
    _ADL_W3ID + "satisfied": EventKind.COURSE_COMPLETED,
    _TINCAN + "mentored": EventKind.COLLABORATION,
    _TINCAN + "earned": EventKind.CERTIFICATION_EARNED,
    _TINCAN + "viewed": EventKind.OTHER,
    _TLA + "assessed": EventKind.SKILL_ASSESSED,
    _TLA + "asserted": EventKind.SKILL_ASSESSED,
    _TLA + "certified": EventKind.CERTIFICATION_EARNED,
    _STREAMS + "attend": EventKind.EVENT_ATTENDED,
    _STREAMS + "complete": EventKind.COURSE_COMPLETED,
    _STREAMS + "share": EventKind.COLLABORATION,
    "http://specification.openbadges.org/xapi/verbs/earned": EventKind.CERTIFICATION_EARNED,
}

_DEFAULT_IGNORED: Final[dict[str, str]] = {
    _ADL + "launched": _LIFECYCLE,
    _ADL + "initialized": _LIFECYCLE,
    _ADL + "terminated": _LIFECYCLE,
    _ADL + "suspended": _LIFECYCLE,
    _ADL + "resumed": _LIFECYCLE,
    _ADL + "exited": _LIFECYCLE,
    _ADL_W3ID + "abandoned": _LIFECYCLE,
    _ADL_W3ID + "logged-in": _LIFECYCLE,
    _ADL_W3ID + "logged-out": _LIFECYCLE,
    _ADL + "attempted": "an attempt started: its outcome arrives as passed, failed or completed",
    _ADL + "progressed": "partial progress: the completion is what counts",
    _ADL + "interacted": "user-interface interaction: no learning outcome",
    _ADL + "answered": _QUESTION,
    _ADL + "responded": _QUESTION,
    _ADL + "asked": _QUESTION,
    _ADL + "registered": "enrolment: nothing learned yet",
    _ADL + "imported": "content administration, not learning",
    _ADL + "preferred": "a learner preference, not learning",
    _ADL_W3ID + "waived": "requirement waived by the LMS: no evidence of learning",
    _TLA + "qualified": "criteria of a credential met but not awarded: the award is credited",
    _VIDEO + "played": "media player event: the video's completion is what counts",
    _VIDEO + "paused": "media player event: the video's completion is what counts",
    _VIDEO + "seeked": "media player event: the video's completion is what counts",
}

_DEFAULT_RULES: Final = (
    VerbActivityRule(
        verbs=(
            _ADL + "completed",
            _ADL + "passed",
            _ADL + "failed",
            _ADL + "scored",
            _ADL + "mastered",
            _ADL_W3ID + "satisfied",
            _STREAMS + "complete",
        ),
        activity_types=ASSESSMENT_TYPES,
        kind=EventKind.SKILL_ASSESSED,
    ),
    VerbActivityRule(
        verbs=(_ADL + "completed", _STREAMS + "complete", _ADL_W3ID + "satisfied"),
        activity_types=EVENT_TYPES,
        kind=EventKind.EVENT_ATTENDED,
    ),
    VerbActivityRule(
        verbs=(_ADL + "completed", _ADL + "passed", _STREAMS + "complete", _ADL_W3ID + "satisfied"),
        activity_types=CREDENTIAL_TYPES,
        kind=EventKind.CERTIFICATION_EARNED,
    ),
    VerbActivityRule(
        verbs=(_ADL + "completed", _STREAMS + "complete"),
        activity_types=MEDIA_TYPES,
        kind=EventKind.OTHER,
    ),
)
