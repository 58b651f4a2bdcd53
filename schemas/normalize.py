"""From a valid xAPI statement to the learning events the profile stage folds.

``normalize`` is on the hot path of the whole pipeline, so it reads the
statement as the plain ``dict`` the validator accepted (``validate_statement``
has already guaranteed every shape and format relied on here) and never
re-validates it with pydantic. What it decides:

* **Who**: one event per learner the actor credits (``schemas.identity``):
  an Agent is one learner, a Group with members is each identified member.
* **What** (``kind``): by the vocabulary and the catalog, in the precedence
  documented in ``schemas.vocabulary`` (catalog ActivityMapping.kind >
  verb + activity-type rule > verb > ignored).
  ``http://adlnet.gov/expapi/verbs/voided`` with a ``StatementRef`` object is
  a ``voiding`` event carrying ``voided_statement_id``.
* **cmi5**: an AU's own *completed* and *passed* in a cmi5 session (the cmi5 context
  category) are not course completions: the LMS's *satisfied*, sent once the AU's
  ``moveOn`` is met, is; *completed* becomes ``other`` and *passed* ``skill_assessed``
  (see ``schemas.vocabulary``).
* **Skills**: the union, de-duplicated and sorted, of
  (a) context activities (in any of ``parent``, ``grouping``, ``category``,
  ``other``) whose id is an IRI a catalog skill claims (``Skill.iris``: an
  ESCO skill, a competency framework's entry), each crediting that skill; or
  whose ``definition.type`` is one of the catalog's competency types, each
  mapped through the catalog's ActivityMapping for that IRI, else to the skill
  whose id is the IRI's last path segment (lower-cased);
  (b) the skill ids listed in the extension
  ``https://w3id.org/skillstream/extensions/skills`` of ``context`` or
  ``result``; (c) for the object's activity id, the catalog's ActivityMapping,
  else the skill that claims the IRI, else (an object of a competency type) the
  skill its last path segment names.
  A skill the catalog does not know is dropped: without the catalog it has no
  category and no ladder, and a typo must not grow profiles without bound. Add
  it to the catalog and replay to credit it.
* **Score**: ``result.score.scaled``, else ``(raw - min) / (max - min)`` when
  ``raw``, ``min`` and ``max`` are all given, clamped to [-1, 1]; else none.
* **When**: ``timestamp``, else ``stored``, else ``fallback_time`` (the caller
  passes the Kafka record time, as a datetime or as its milliseconds since the
  epoch, turned into a datetime only when needed), else the statement is ignored. A time without
  a zone is read as UTC, as xAPI asks of consumers.
* **Which statement**: the id, lower-cased; a statement without an id gets a
  UUIDv5 of its canonical JSON (``statement_id_of``), so a replay of the same
  statement yields the same id and the profile's de-duplication holds.

Not credited, with a reason (``Ignored``): verbs on the vocabulary's ignored
list or unknown to it; a **SubStatement** object (it describes something
planned, predicted or observed, not done by the actor: xAPI's own examples are
plans, and crediting them would count intentions as learning); a
``StatementRef`` object under any verb other than *voided* (a comment or a
rating of another statement, not a learning activity); a statement with no
time. An **Agent or Group object** (e.g. *mentored* a colleague) is credited
by its verb, with no activity id or type; only the actor is credited, the
object person sends their own statements.

Events are built without pydantic validation (that would cost more than the
rest of normalisation together); this module guarantees the model's
invariants itself: ``kind`` is an ``EventKind``, ``time`` is aware and in
UTC, ``score`` is a float in [-1, 1], ``duration_seconds`` a float >= 0,
``skills`` a sorted tuple of str, ids lower-case. The unit tests re-validate
the events of a whole simulated run to hold it to that; ``build_event`` in
``schemas.events`` says how the construction itself is checked.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import isfinite
from typing import Any, Final, cast

import orjson

from schemas.catalog import ActivityMapping, Catalog
from schemas.events import BUILT_TRUSTED, EventKind, LearningEvent, build_event
from schemas.identity import learner_keys
from schemas.trusted import closed_fields, trusted
from schemas.vocabulary import CMI5_CATEGORY, SATISFIED, Vocabulary
from schemas.xapi.parse import default_rules, native
from schemas.xapi.problems import VOIDED_VERB, XapiVersion

SKILLS_EXTENSION: Final = "https://w3id.org/skillstream/extensions/skills"
"""Context or result extension holding a list of catalog skill ids."""

STATEMENT_ID_NAMESPACE: Final = uuid.uuid5(
    uuid.NAMESPACE_URL, "https://w3id.org/skillstream/statement-id"
)
"""UUIDv5 namespace of ids given to statements sent without one. Fixed forever."""

LRS_ASSIGNED: Final = ("id", "stored", "authority", "version")
"""Properties a receiver may add to a statement; left out of a derived id."""

_UTC: Final = UTC


@dataclass(frozen=True, slots=True)
class Ignored:
    """A valid statement that credits nobody: counted under ``code``, never dead-lettered.

    ``code`` is one of ``ignored_verb``, ``unknown_verb``, ``sub_statement``,
    ``statement_ref``, ``no_time`` and ``no_learner``.
    """

    code: str
    reason: str


_ignored_verbs: Final[dict[str, Ignored]] = {}
_NO_TIME: Final = Ignored("no_time", "no timestamp, no stored time and no record time")


def _ignored_verb(reason: str) -> Ignored:
    outcome = _ignored_verbs.get(reason)
    if outcome is None:
        outcome = _ignored_verbs[reason] = Ignored("ignored_verb", reason)
        if len(_ignored_verbs) > 256:
            _ignored_verbs.clear()
    return outcome


def _unknown_verb(verb: str) -> Ignored:
    return Ignored("unknown_verb", f"verb {verb} is not in the vocabulary")


def statement_id_of(statement: Mapping[str, Any]) -> str:
    """The statement's id in lower case, or a deterministic UUIDv5 if it has none.

    The derived id hashes the statement's JSON with sorted keys and without
    the properties a receiver assigns (``LRS_ASSIGNED``), so the same statement
    gets the same id however it was serialised, replayed or relayed.
    """
    given = statement.get("id")
    if given is not None:
        return str(given).lower()
    body = {k: v for k, v in statement.items() if k not in LRS_ASSIGNED}
    digest = hashlib.sha1(  # noqa: S324 - UUIDv5 is defined on SHA-1
        STATEMENT_ID_NAMESPACE.bytes + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    ).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def credits(events: tuple[LearningEvent, ...]) -> bool | None:
    """Whether a statement's events credit a skill; ``None`` when the statement does not
    count in the credited share (no events, or a voiding statement). The one rule of the
    share, for the stream's counts and ``catalog gaps`` (compiled: ingest asks it of every
    statement)."""
    if not events:
        return None
    fields = events[0].__dict__  # one attribute look-up where two fields are read
    if fields["kind"] is _VOIDING:
        return None
    return bool(fields["skills"])


def normalize(
    statement: Mapping[str, Any],
    catalog: Catalog,
    vocabulary: Vocabulary,
    secret: bytes,
    fallback_time: datetime | int | None = None,
) -> tuple[LearningEvent, ...] | Ignored:
    """The learning events of one valid statement, or why it credits nobody.

    See the module docstring for every rule. ``statement`` must have passed
    ``validate_statement``: a malformed one may raise ``KeyError`` or
    ``TypeError`` instead of being reported.
    """
    verb: str = statement["verb"]["id"]
    obj = statement["object"]
    object_type = obj.get("objectType", "Activity")
    activity_id: str | None = None
    activity_type: str | None = None
    voided: str | None = None
    kind: EventKind | None
    if object_type == "StatementRef":
        if verb != VOIDED_VERB:
            return Ignored(
                "statement_ref", "the object is another statement, not a learning activity"
            )
        kind = EventKind.VOIDING
        voided = obj["id"].lower()
    elif object_type == "SubStatement":
        return Ignored(
            "sub_statement", "a SubStatement describes a plan or observation, not something done"
        )
    else:
        reason = vocabulary.ignored.get(verb)
        if reason is not None:
            return _ignored_verb(reason)
        kind = None
        if object_type == "Activity":
            activity_id = obj["id"]
            definition = obj.get("definition")
            if definition is not None:
                activity_type = definition.get("type")
                if activity_type is not None:
                    kind = vocabulary.pair_kinds.get((verb, activity_type))
        if kind is None:
            kind = vocabulary.verbs.get(verb)
            if kind is None:
                return _unknown_verb(verb)
        if (kind is EventKind.COURSE_COMPLETED or kind is EventKind.COURSE_PASSED) and (
            verb != SATISFIED and _in_cmi5_session(statement)
        ):
            kind = (
                EventKind.OTHER if kind is EventKind.COURSE_COMPLETED else EventKind.SKILL_ASSESSED
            )

    time = event_time(statement.get("timestamp"), statement.get("stored"), fallback_time)
    if time is None:
        return _NO_TIME
    keys = learner_keys(statement["actor"], secret)
    if not keys:
        return Ignored("no_learner", "the actor identifies no learner")

    score: float | None = None
    success: bool | None = None
    completion: bool | None = None
    duration: str | None = None
    seconds: float | None = None
    skills: tuple[str, ...] = ()
    if voided is None:
        mapping = catalog.activities.get(activity_id) if activity_id is not None else None
        if mapping is not None and mapping.kind is not None and mapping.kind is not kind:
            kind = _catalog_kind(kind, mapping.kind)
        result = statement.get("result")
        if result is not None:
            given = result.get("score")
            if given is not None:
                scaled = given.get("scaled")
                if scaled is not None and -1 <= scaled <= 1:
                    score = float(scaled)
                else:
                    score = _scaled(given)
            success = result.get("success")
            completion = result.get("completion")
            duration = result.get("duration")
            if duration is not None:
                seconds = duration_seconds(duration)
        skills = _skills(
            statement, result, _object_skills(mapping, activity_id, activity_type, catalog), catalog
        )

    statement_id = statement.get("id")
    values = {
        "schema_version": 1,
        "statement_id": (
            statement_id.lower() if statement_id is not None else statement_id_of(statement)
        ),
        "learner": "",
        "kind": kind,
        "time": time,
        "verb": verb,
        "activity_id": activity_id,
        "activity_type": activity_type,
        "skills": skills,
        "score": score,
        "success": success,
        "completion": completion,
        "duration": duration,
        "duration_seconds": seconds,
        "voided_statement_id": voided,
    }
    if len(keys) == 1:
        values["learner"] = keys[0]
        return (_build(values),)
    return _each_learner(values, keys)


def _in_cmi5_session(statement: Mapping[str, Any]) -> bool:
    """Whether an AU sent this in a cmi5 session (the cmi5 context category)."""
    context = statement.get("context")
    activities = context.get("contextActivities") if context is not None else None
    category = activities.get("category") if activities else None
    if not category:
        return False
    for activity in (category,) if type(category) is dict else category:
        if activity["id"] == CMI5_CATEGORY:
            return True
    return False


def _catalog_kind(inferred: EventKind, declared: EventKind) -> EventKind:
    """Step 6 of the vocabulary's precedence: the catalog re-labels, within limits."""
    if inferred is EventKind.OTHER or declared is EventKind.VOIDING:
        return inferred
    if inferred is EventKind.COURSE_FAILED:
        return declared if declared is EventKind.SKILL_ASSESSED else inferred
    return declared


def _scaled(score: Mapping[str, Any] | None) -> float | None:
    if score is None:
        return None
    scaled = score.get("scaled")
    if scaled is None:
        raw = score.get("raw")
        low = score.get("min")
        high = score.get("max")
        if raw is None or low is None or high is None or high <= low:
            return None
        span = high - low
        if isfinite(span):
            scaled = (raw - low) / span
        else:  # min and max near the float limits: halved, the span stays finite
            scaled = (raw / 2 - low / 2) / (high / 2 - low / 2)
    value = float(scaled)
    if not isfinite(value):
        return None  # no score is better than one JSON cannot carry (it writes NaN as null)
    if value > 1.0:
        return 1.0
    if value < -1.0:
        return -1.0
    return value


def _object_skills(
    mapping: ActivityMapping | None,
    activity_id: str | None,
    activity_type: str | None,
    catalog: Catalog,
) -> tuple[str, ...]:
    """What the object activity credits: its mapping, else the skill that claims its IRI,
    else, for an activity of a competency type, the skill its last segment names."""
    if mapping is not None:
        return mapping.skills
    if activity_id is None:
        return ()
    named = catalog.skill_iris.get(activity_id)
    if named is not None:
        return (named,)
    if activity_type is not None and activity_type in catalog.competency_types:
        return (skill_of_iri(activity_id),)
    return ()


def _skills(
    statement: Mapping[str, Any],
    result: Mapping[str, Any] | None,
    credited: tuple[str, ...],
    catalog: Catalog,
) -> tuple[str, ...]:
    found: list[str] | None = None
    context = statement.get("context")
    if context is not None:
        activities = context.get("contextActivities")
        if activities:
            competency_types = catalog.competency_types
            skill_iris = catalog.skill_iris
            for group in activities.values():
                for activity in (group,) if type(group) is dict else group:
                    iri = activity["id"]
                    named = skill_iris.get(iri)
                    if named is not None:
                        if found is None:
                            found = []
                        found.append(named)
                        continue
                    definition = activity.get("definition")
                    if definition is not None and definition.get("type") in competency_types:
                        if found is None:
                            found = []
                        mapped = catalog.activities.get(iri)
                        if mapped is not None:
                            found.extend(mapped.skills)
                        else:
                            found.append(skill_of_iri(iri))
        extensions = context.get("extensions")
        if extensions is not None:
            listed = extensions.get(SKILLS_EXTENSION)
            if listed is not None:
                found = _listed(found, listed)
    if result is not None:
        extensions = result.get("extensions")
        if extensions is not None:
            listed = extensions.get(SKILLS_EXTENSION)
            if listed is not None:
                found = _listed(found, listed)
    if found is None:
        return _known_sorted(credited, catalog.skills) if credited else ()
    found.extend(credited)
    return _known_sorted(found, catalog.skills)


def _known_sorted(found: Sequence[str], known: Mapping[str, Any]) -> tuple[str, ...]:
    """The distinct ids of ``found`` that ``known`` holds, sorted (short lists fast)."""
    count = len(found)
    if count == 1:
        only = found[0]
        return (only,) if only in known else ()
    if count == 2:
        first, second = found
        if first in known:
            if second in known and second != first:
                return (first, second) if first < second else (second, first)
            return (first,)
        return (second,) if second in known else ()
    kept = [s for s in set(found) if s in known]
    kept.sort()
    return tuple(kept)


def _listed(found: list[str] | None, value: Any) -> list[str]:
    """``found`` plus the skill ids of a skills extension (a list of ids, or one id)."""
    if found is None:
        found = []
    if type(value) is str:
        found.append(value)
    elif type(value) is list:
        found.extend(v for v in value if type(v) is str)
    return found


_segment_cache: Final[dict[str, str]] = {}


def skill_of_iri(iri: str) -> str:
    """The skill id a competency IRI names by its last path segment, lower-cased.

    ``https://skills.example.com/competencies/Python/`` names ``python``; a query
    or fragment is not part of the segment; an IRI without a ``/`` path (a URN)
    uses the text after its last ``:``.
    """
    cached = _segment_cache.get(iri)
    if cached is not None:
        return cached
    base = iri.split("#", 1)[0].split("?", 1)[0].rstrip("/")
    scheme_end = base.find(":")
    path = base[scheme_end + 1 :]
    segment = path.rsplit("/", 1)[-1] if "/" in path else path.rsplit(":", 1)[-1]
    skill = segment.lower()
    if len(_segment_cache) >= 4096:
        _segment_cache.clear()
    _segment_cache[iri] = skill
    return skill


_DURATION_RE: Final = re.compile(
    r"P(?:(?P<weeks>\d+(?:[.,]\d+)?)W"
    r"|(?:(?P<years>\d+(?:[.,]\d+)?)Y)?(?:(?P<months>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<days>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?)"
)
_UNIT_SECONDS: Final = {
    "weeks": 604_800.0,
    "years": 365 * 86_400.0,
    "months": 30 * 86_400.0,
    "days": 86_400.0,
    "hours": 3_600.0,
    "minutes": 60.0,
    "seconds": 1.0,
}
_duration_cache: Final[dict[str, float | None]] = {}


def duration_seconds(duration: str) -> float | None:
    """Seconds in an ISO 8601 duration (``PT1H30M`` is 5400.0), ``None`` if not one.

    A year counts 365 days and a month 30: a learning activity that long is
    rare, and an exact length would need a start date the duration lacks.
    """
    cached = _duration_cache.get(duration, -1.0)
    if cached != -1.0:
        return cached
    match = _DURATION_RE.fullmatch(duration)
    total: float | None = None
    if match is not None and duration not in ("P", "PT") and not duration.endswith("T"):
        total = 0.0
        for unit, text in match.groupdict().items():
            if text is not None:
                total += float(text.replace(",", ".")) * _UNIT_SECONDS[unit]
        if not isfinite(total):
            total = None  # more digits than a float holds: no length rather than infinity
    if len(_duration_cache) >= 4096:
        _duration_cache.clear()
    _duration_cache[duration] = total
    return total


_fromisoformat: Final = datetime.fromisoformat


def _as_utc(parsed: datetime) -> datetime:
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=_UTC)
    return parsed.astimezone(_UTC)


def event_time(
    timestamp: str | None, stored: str | None, fallback: datetime | int | None
) -> datetime | None:
    """The event's time: ``timestamp``, else ``stored``, else ``fallback``, in UTC."""
    if timestamp is not None:
        time: datetime | None
        try:
            time = _fromisoformat(timestamp)
        except ValueError:
            time = _parse_time_slowly(timestamp)
        else:
            if time.tzinfo is not _UTC:
                time = _as_utc(time)
        if time is not None:
            return time
    return _time_otherwise(stored, fallback)


def _time_otherwise(stored: str | None, fallback: datetime | int | None) -> datetime | None:
    """The event time when ``timestamp`` is absent (or, against the validator, unreadable)."""
    if stored is not None:
        parsed = parse_time(stored)
        if parsed is not None:
            return parsed
    if fallback is None:
        return None
    if isinstance(fallback, int):  # milliseconds since the epoch (a Kafka record time)
        return datetime.fromtimestamp(fallback / 1000, _UTC)
    if fallback.tzinfo is None or fallback.utcoffset() is None:
        return fallback.replace(tzinfo=_UTC)
    return fallback if fallback.tzinfo is _UTC else fallback.astimezone(_UTC)


def parse_time(text: str) -> datetime | None:
    """An xAPI timestamp as an aware UTC ``datetime``; ``None`` if it is not one.

    ``datetime.fromisoformat`` reads every form the validator accepts; the slow
    path covers lower-case ``t``/``z``, hour 24 and a missing zone (read as UTC).
    """
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return _parse_time_slowly(text)
    tz = parsed.tzinfo
    if tz is _UTC:
        return parsed
    if tz is None:
        return parsed.replace(tzinfo=_UTC)
    return parsed.astimezone(_UTC)


_HOUR_24_RE: Final = re.compile(r"(\d{4}-?\d{2}-?\d{2})T24(:?00(?::?00(?:[.,]0+)?)?)?(.*)")


def _parse_time_slowly(text: str) -> datetime | None:
    upper = text.strip().upper()
    extra = timedelta(0)
    match = _HOUR_24_RE.fullmatch(upper)
    if match is not None:
        upper = f"{match.group(1)}T00:00:00{match.group(3)}"
        extra = timedelta(days=1)
    try:
        parsed = datetime.fromisoformat(upper)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_UTC)
    return parsed.astimezone(_UTC) + extra


_build: Final = build_event
_V2: Final = XapiVersion.V2_0
_VOIDING: Final = EventKind.VOIDING
"""Read from the module where compiled code would look it up on the enum every time."""


class NativeIngest:
    """``parse_statement`` and ``normalize`` in one native read (``native/src/ingest.rs``),
    for the records it takes: a valid statement of an Agent or a Group, in the common
    shapes (one without an id gets the id ``statement_id_of`` derives from its parsed
    JSON). ``take`` returns what ``normalize`` would, or None: then the caller
    takes the Python path. The native side holds a copy of the catalog and vocabulary,
    made again when the catalog's ``revision`` moves.
    """

    __slots__ = (
        "_default",
        "_header",
        "_ingest",
        "_native",
        "_revision",
        "_rules",
        "catalog",
        "secret",
        "vocabulary",
    )

    def __init__(self, catalog: Catalog, vocabulary: Vocabulary, secret: bytes) -> None:
        self.catalog = catalog
        self.vocabulary = vocabulary
        self.secret = secret
        self._revision = -1
        self._native: Any = None
        # the normalizer's ingest method, bound once: called as a function, where a call of
        # the method looks it up on the normalizer's type every time
        self._ingest: Callable[[bytes, bool], Any] | None = None
        # the versions of the last record and their rules: a record's are nearly always the
        # ones the record before it had (no header or the same, the settings' default)
        self._header: str | None = None
        self._default: str | None = None
        self._rules: XapiVersion | None = None

    @staticmethod
    def available(secret: bytes) -> bool:
        """Whether the native module is built and loaded here (and the secret is one
        ``schemas.identity`` takes: else the Python path reports it)."""
        return (
            native is not None
            and getattr(native, "SKILLS_EXTENSION", None) == SKILLS_EXTENSION
            and isinstance(secret, bytes)
            and len(secret) > 0
        )

    def _build(self) -> Any:
        catalog, vocabulary = self.catalog, self.vocabulary
        assert native is not None
        previous = self._native
        self._native = native.Normalizer(
            list(EventKind),
            [
                EventKind.OTHER,
                EventKind.VOIDING,
                EventKind.COURSE_FAILED,
                EventKind.SKILL_ASSESSED,
                EventKind.COURSE_COMPLETED,
                EventKind.COURSE_PASSED,
            ],
            dict(vocabulary.verbs),
            dict(vocabulary.pair_kinds),
            {verb: _ignored_verb(reason) for verb, reason in vocabulary.ignored.items()},
            {iri: (m.kind, list(m.skills)) for iri, m in catalog.activities.items()},
            dict(catalog.skill_iris),
            set(catalog.competency_types),
            list(catalog.skills),
            CMI5_CATEGORY,
            SATISFIED,
            self.secret,
            list(LearningEvent.model_fields),
            _native_built(),
        )
        if previous is not None:
            self._native.adopt_keys(previous)
        self._revision = catalog.revision
        self._ingest = self._native.ingest
        return self._native

    def take(
        self,
        raw: bytes,
        header_version: str | None,
        default_version: str,
        fallback_time: datetime | int | None,
    ) -> tuple[LearningEvent, ...] | Ignored | None:
        """One record's events, its ``Ignored`` outcome, or None. A method, not ``__call__``:
        compiled callers call it directly, where a call of the instance goes through
        Python's calling convention."""
        if header_version == self._header and default_version == self._default:
            rules = self._rules  # asked of default_rules (an lru_cache) only when they change
        else:
            rules = self._rules = default_rules(header_version, default_version)
            self._header, self._default = header_version, default_version
        if rules is None:
            return None
        ingest = self._ingest
        if self._revision != self.catalog.revision or ingest is None:
            self._build()
            ingest = self._ingest
            assert ingest is not None
        got: Any = ingest(raw, rules is _V2)
        if type(got) is not tuple:  # None (the Python path decides), or an ignored verb's
            return cast("Ignored | None", got)
        if len(got) == 1:  # the event, built natively: every value was final
            return cast("tuple[LearningEvent]", got)
        pair: tuple[Any, Any] = got  # typed: indexed, where an untyped pair is iterated
        values, second = pair
        if type(values) is not dict:  # (1, verb): a verb the vocabulary does not know
            return _unknown_verb(second)
        if type(values["time"]) is not datetime:  # the timestamp as sent (or None)
            time = event_time(values["time"], second, fallback_time)
            if time is None:
                return _NO_TIME
            values["time"] = time
        if values["statement_id"] is None:  # derived from the statement, as normalize does
            values["statement_id"] = statement_id_of(orjson.loads(raw))
        learner = values["learner"]
        if type(learner) is tuple:  # a Group's members: an event each
            return _each_learner(values, learner)
        if BUILT_TRUSTED:
            return (trusted(LearningEvent, values),)  # a direct call, compiled to compiled
        return (_build(values),)


def _native_built() -> tuple[type[LearningEvent], set[str]] | None:
    """What the native ingest needs to build an event itself, as ``trusted`` builds it; None
    when events are not built by ``trusted`` (``schemas.events.BUILT_TRUSTED``)."""
    fields = closed_fields(LearningEvent)
    return (LearningEvent, fields) if BUILT_TRUSTED and fields is not None else None


def _each_learner(values: dict[str, Any], learners: tuple[str, ...]) -> tuple[LearningEvent, ...]:
    """One statement's events, one per learner a Group credits: ``values`` copied for each
    (``normalize`` and the native ingest both make a Group's events here)."""
    events = []
    for key in learners:
        one = values.copy()
        one["learner"] = key
        events.append(trusted(LearningEvent, one) if BUILT_TRUSTED else _build(one))
    return tuple(events)
