from __future__ import annotations

import copy
import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.catalog import ActivityMapping, Catalog, CompetencyTypes, Skill
from schemas.events import EventKind, LearningEvent
from schemas.identity import learner_keys
from schemas.normalize import (
    SKILLS_EXTENSION,
    Ignored,
    duration_seconds,
    normalize,
    parse_time,
    skill_of_iri,
    statement_id_of,
)
from schemas.vocabulary import Vocabulary
from schemas.xapi.problems import VOIDED_VERB
from tools.simulate import SAMPLE_CATALOG, Simulation

SECRET = b"test-secret"
ADL = "http://adlnet.gov/expapi/verbs/"
ACT = "http://adlnet.gov/expapi/activities/"
COURSE_IRI = "https://lms.example.com/courses/python-fundamentals"
COMPETENCY = "https://w3id.org/xapi/tla/activity-types/competency"
ANN = "mailto:ann@example.com"
ANN_SHA1 = hashlib.sha1(ANN.encode()).hexdigest()
ANN_KEY = learner_keys({"mbox": ANN}, SECRET)[0]
STATEMENT_ID = "6A1F5F0E-3C2B-4D5E-8F90-A1B2C3D4E5F6"
CONFORMANCE = Path(__file__).resolve().parents[4] / "shared" / "xapi-conformance"


def skill(id_: str, category: str = "technical") -> Skill:
    return Skill(id=id_, name=id_.title(), category=category)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(
        [
            skill("python"),
            skill("sql"),
            skill("testing"),
            skill("communication", "soft"),
            skill("mentoring", "leadership"),
            ActivityMapping(activity_id=COURSE_IRI, skills=("python",)),
            ActivityMapping(
                activity_id="https://lms.example.com/competencies/data", skills=("sql", "python")
            ),
            ActivityMapping(
                activity_id="https://lms.example.com/events/devconf",
                skills=("communication",),
                kind=EventKind.EVENT_ATTENDED,
            ),
            ActivityMapping(
                activity_id="https://lms.example.com/assessments/python",
                skills=("python",),
                kind=EventKind.SKILL_ASSESSED,
            ),
        ]
    )


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.default()


def statement(
    verb: str = "completed",
    activity: str = COURSE_IRI,
    activity_type: str | None = ACT + "course",
    **extra: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {"objectType": "Activity", "id": activity}
    if activity_type is not None:
        obj["definition"] = {"type": activity_type}
    body: dict[str, Any] = {
        "id": STATEMENT_ID,
        "actor": {"objectType": "Agent", "mbox": ANN, "name": "Ann Example"},
        "verb": {"id": verb if ":" in verb else ADL + verb, "display": {"en-US": verb}},
        "object": obj,
        "timestamp": "2026-01-05T09:30:00.250Z",
    }
    body.update(extra)
    return body


def one(outcome: tuple[LearningEvent, ...] | Ignored) -> LearningEvent:
    assert not isinstance(outcome, Ignored), outcome
    assert len(outcome) == 1
    return outcome[0]


def run(st: dict[str, Any], catalog: Catalog, vocabulary: Vocabulary, **kw: Any) -> LearningEvent:
    return one(normalize(st, catalog, vocabulary, SECRET, **kw))


def test_a_completed_course(catalog: Catalog, vocabulary: Vocabulary) -> None:
    event = run(statement(result={"completion": True, "duration": "PT1H30M"}), catalog, vocabulary)
    assert event.kind is EventKind.COURSE_COMPLETED
    assert event.statement_id == STATEMENT_ID.lower()
    assert event.learner == ANN_KEY
    assert event.time == datetime(2026, 1, 5, 9, 30, 0, 250000, tzinfo=UTC)
    assert event.verb == ADL + "completed"
    assert (event.activity_id, event.activity_type) == (COURSE_IRI, ACT + "course")
    assert event.skills == ("python",)
    assert event.completion is True
    assert event.success is None
    assert (event.duration, event.duration_seconds) == ("PT1H30M", 5400.0)
    assert event.score is None
    assert event.voided_statement_id is None


@pytest.mark.parametrize(
    ("verb", "activity", "activity_type", "kind"),
    [
        ("passed", COURSE_IRI, ACT + "course", EventKind.COURSE_PASSED),
        ("failed", COURSE_IRI, ACT + "course", EventKind.COURSE_FAILED),
        (
            "attended",
            "https://lms.example.com/workshops/x",
            ACT + "meeting",
            EventKind.EVENT_ATTENDED,
        ),
        ("passed", "https://lms.example.com/quiz/1", ACT + "assessment", EventKind.SKILL_ASSESSED),
        (
            "http://id.tincanapi.com/verb/earned",
            "https://lms.example.com/certifications/x",
            "http://id.tincanapi.com/activitytype/certificate",
            EventKind.CERTIFICATION_EARNED,
        ),
        ("shared", "https://lms.example.com/notes/1", None, EventKind.COLLABORATION),
        ("experienced", "https://lms.example.com/page/1", None, EventKind.OTHER),
    ],
)
def test_each_kind(
    catalog: Catalog,
    vocabulary: Vocabulary,
    verb: str,
    activity: str,
    activity_type: str | None,
    kind: EventKind,
) -> None:
    assert run(statement(verb, activity, activity_type), catalog, vocabulary).kind is kind


def test_mentoring_a_colleague_credits_the_actor_only(
    catalog: Catalog, vocabulary: Vocabulary
) -> None:
    st = statement("http://id.tincanapi.com/verb/mentored")
    st["object"] = {"objectType": "Agent", "mbox": "mailto:bob@example.com"}
    st["context"] = {
        "contextActivities": {
            "other": [
                {"id": "https://skills.example.com/mentoring", "definition": {"type": COMPETENCY}}
            ]
        }
    }
    event = run(st, catalog, vocabulary)
    assert event.kind is EventKind.COLLABORATION
    assert event.learner == ANN_KEY
    assert event.activity_id is None
    assert event.activity_type is None
    assert event.skills == ("mentoring",)
    assert "bob" not in event.model_dump_json()


def test_a_voiding_statement(catalog: Catalog, vocabulary: Vocabulary) -> None:
    target = str(uuid.uuid4()).upper()
    st = statement(VOIDED_VERB)
    st["object"] = {"objectType": "StatementRef", "id": target}
    event = run(st, catalog, vocabulary)
    assert event.kind is EventKind.VOIDING
    assert event.voided_statement_id == target.lower()
    assert event.skills == ()
    assert event.activity_id is None


@pytest.mark.parametrize(
    ("st_changes", "code", "words"),
    [
        ({"verb": {"id": ADL + "launched"}}, "ignored_verb", "lifecycle"),
        ({"verb": {"id": ADL + "progressed"}}, "ignored_verb", "completion"),
        ({"verb": {"id": "https://lms.example.com/verbs/wiggled"}}, "unknown_verb", "wiggled"),
        (
            {
                "object": {
                    "objectType": "SubStatement",
                    "actor": {"mbox": ANN},
                    "verb": {"id": ADL + "completed"},
                    "object": {"id": COURSE_IRI},
                }
            },
            "sub_statement",
            "plan",
        ),
        (
            {"object": {"objectType": "StatementRef", "id": STATEMENT_ID}},
            "statement_ref",
            "another statement",
        ),
    ],
)
def test_statements_that_credit_nobody_say_why(
    catalog: Catalog,
    vocabulary: Vocabulary,
    st_changes: dict[str, Any],
    code: str,
    words: str,
) -> None:
    outcome = normalize({**statement(), **st_changes}, catalog, vocabulary, SECRET)
    assert isinstance(outcome, Ignored)
    assert outcome.code == code
    assert words in outcome.reason


def test_a_group_actor_credits_each_member_once(catalog: Catalog, vocabulary: Vocabulary) -> None:
    st = statement(
        "attended",
        "https://lms.example.com/workshops/team",
        ACT + "meeting",
        actor={
            "objectType": "Group",
            "name": "Team Atlas",
            "member": [
                {"mbox": ANN},
                {"mbox_sha1sum": ANN_SHA1},
                {"account": {"homePage": "https://lms.example.com", "name": "u2"}},
            ],
        },
    )
    outcome = normalize(st, catalog, vocabulary, SECRET)
    assert not isinstance(outcome, Ignored)
    assert len(outcome) == 2
    assert outcome[0].learner == ANN_KEY
    assert outcome[0].learner != outcome[1].learner
    assert {e.statement_id for e in outcome} == {STATEMENT_ID.lower()}
    assert all(e.kind is EventKind.EVENT_ATTENDED for e in outcome)


class TestSkills:
    def test_from_the_catalog_mapping_of_the_object(
        self, catalog: Catalog, vocabulary: Vocabulary
    ) -> None:
        assert run(statement(), catalog, vocabulary).skills == ("python",)

    def test_from_competency_context_activities(
        self, catalog: Catalog, vocabulary: Vocabulary
    ) -> None:
        st = statement(activity="https://lms.example.com/unmapped", activity_type=None)
        st["context"] = {
            "contextActivities": {
                "parent": [{"id": "https://lms.example.com/courses/x"}],
                "grouping": [
                    {
                        "id": "https://skills.example.com/fw/Testing/",
                        "definition": {"type": COMPETENCY},
                    }
                ],
                "other": [
                    {
                        "id": "https://lms.example.com/competencies/data",
                        "definition": {"type": "http://adlnet.gov/expapi/activities/objective"},
                    },
                    {
                        "id": "https://skills.example.com/fw/rust",
                        "definition": {"type": COMPETENCY},
                    },
                    {
                        "id": "https://skills.example.com/fw/sql",
                        "definition": {"type": ACT + "course"},
                    },
                ],
            }
        }
        assert run(st, catalog, vocabulary).skills == ("python", "sql", "testing")

    def test_a_single_context_activity_object_as_xapi_1_0_allows(
        self, catalog: Catalog, vocabulary: Vocabulary
    ) -> None:
        st = statement(activity="https://lms.example.com/unmapped", activity_type=None)
        st["context"] = {
            "contextActivities": {
                "other": {
                    "id": "https://skills.example.com/sql",
                    "definition": {"type": COMPETENCY},
                }
            }
        }
        assert run(st, catalog, vocabulary).skills == ("sql",)

    def test_competency_types_come_from_the_catalog(self, vocabulary: Vocabulary) -> None:
        custom = "https://lms.example.com/types/skill"
        catalog = Catalog([skill("sql"), CompetencyTypes(types=(custom,))])
        st = statement(activity="https://lms.example.com/unmapped", activity_type=None)
        st["context"] = {
            "contextActivities": {
                "other": [
                    {"id": "https://skills.example.com/sql", "definition": {"type": custom}},
                ]
            }
        }
        assert run(st, catalog, vocabulary).skills == ("sql",)
        st["context"]["contextActivities"]["other"][0]["definition"]["type"] = COMPETENCY
        assert run(st, catalog, vocabulary).skills == ()

    def test_from_the_skills_extension_in_context_and_result(
        self, catalog: Catalog, vocabulary: Vocabulary
    ) -> None:
        st = statement(
            context={"extensions": {SKILLS_EXTENSION: ["sql", "unknown-skill", 7]}},
            result={"extensions": {SKILLS_EXTENSION: "communication"}},
        )
        assert run(st, catalog, vocabulary).skills == ("communication", "python", "sql")

    def test_nothing_known_gives_no_skills(self, catalog: Catalog, vocabulary: Vocabulary) -> None:
        st = statement(
            activity="https://lms.example.com/unmapped",
            context={"extensions": {SKILLS_EXTENSION: ["rust"]}},
        )
        assert run(st, catalog, vocabulary).skills == ()

    @pytest.mark.parametrize(
        ("iri", "skill_id"),
        [
            ("https://skills.example.com/competencies/python", "python"),
            ("https://skills.example.com/competencies/Python/", "python"),
            ("https://skills.example.com/c/sql?v=2#top", "sql"),
            ("urn:skills:data-privacy", "data-privacy"),
        ],
    )
    def test_last_path_segment(self, iri: str, skill_id: str) -> None:
        assert skill_of_iri(iri) == skill_id


class TestScore:
    @pytest.mark.parametrize(
        ("score", "expected"),
        [
            ({"scaled": 0.75}, 0.75),
            ({"scaled": 1}, 1.0),
            ({"scaled": -1}, -1.0),
            ({"scaled": 0}, 0.0),
            ({"scaled": 0.5, "raw": 10, "min": 0, "max": 100}, 0.5),
            ({"raw": 80, "min": 0, "max": 100}, 0.8),
            ({"raw": 5, "min": 5, "max": 15}, 0.0),
            ({"raw": 0, "min": 0, "max": 4}, 0.0),
            ({"raw": 15, "min": 5, "max": 15}, 1.0),
            ({"raw": -5, "min": -10, "max": 10}, 0.25),
            ({"raw": 150, "min": 0, "max": 100}, 1.0),
            ({"raw": 80}, None),
            ({"raw": 80, "max": 100}, None),
            ({"raw": 5, "min": 5, "max": 5}, None),
            ({}, None),
            ({"raw": 1e308, "min": -1e308, "max": 1e308}, 1.0),  # a span past the float limit
            ({"raw": 0, "min": -1e308, "max": 1e308}, 0.5),
            ({"raw": 5e-324, "min": 0, "max": 5e-324}, 1.0),  # the smallest span still scales
        ],
    )
    def test_scaling(
        self,
        catalog: Catalog,
        vocabulary: Vocabulary,
        score: dict[str, float],
        expected: float | None,
    ) -> None:
        event = run(
            statement("passed", result={"score": score, "success": True}), catalog, vocabulary
        )
        assert event.score == expected
        assert event.score is None or type(event.score) is float
        assert event.success is True


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        ("PT1H30M", 5400.0),
        ("PT45M12S", 2712.0),
        ("PT0.5S", 0.5),
        ("PT1,5H", 5400.0),
        ("P1DT2H", 93600.0),
        ("P2W", 1209600.0),
        ("P1Y", 365 * 86400.0),
        ("P1M", 30 * 86400.0),
        ("PT0S", 0.0),
        ("PT", None),
        ("P", None),
        ("P1DT", None),
        ("1H", None),
        ("P" + "9" * 400 + "Y", None),  # past the float limit: no length, not infinity
    ],
)
def test_durations(duration: str, seconds: float | None) -> None:
    assert duration_seconds(duration) == seconds


class TestTime:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-01-05T09:30:00Z", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
            ("2026-01-05T10:30:00+01:00", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
            ("2026-01-05T04:30:00-05:00", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
            ("2026-01-05T09:30:00.123456789Z", datetime(2026, 1, 5, 9, 30, 0, 123456, tzinfo=UTC)),
            ("20260105T093000Z", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
            ("2026-01-05T09:30", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
            ("2026-01-05t09:30:00z", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
            ("2026-01-04T24:00:00Z", datetime(2026, 1, 5, tzinfo=UTC)),
            ("yesterday", None),
        ],
    )
    def test_parse(self, text: str, expected: datetime | None) -> None:
        parsed = parse_time(text)
        assert parsed == expected
        assert parsed is None or parsed.tzinfo is UTC

    def test_stored_when_no_timestamp(self, catalog: Catalog, vocabulary: Vocabulary) -> None:
        st = statement()
        del st["timestamp"]
        st["stored"] = "2026-02-01T08:00:00+02:00"
        assert run(st, catalog, vocabulary).time == datetime(2026, 2, 1, 6, 0, tzinfo=UTC)

    def test_fallback_when_neither(self, catalog: Catalog, vocabulary: Vocabulary) -> None:
        st = statement()
        del st["timestamp"]
        record_time = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
        event = run(st, catalog, vocabulary, fallback_time=record_time)
        assert event.time == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
        assert event.time.tzinfo is UTC
        naive = run(st, catalog, vocabulary, fallback_time=datetime(2026, 3, 1, 12, 0))
        assert naive.time == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        # a Kafka record's time, in milliseconds since the epoch
        ms = run(st, catalog, vocabulary, fallback_time=1_772_366_400_123)
        assert ms.time == datetime(2026, 3, 1, 12, 0, 0, 123_000, tzinfo=UTC)
        assert ms.time.tzinfo is UTC

    def test_a_record_time_is_not_used_when_the_statement_has_one(
        self, catalog: Catalog, vocabulary: Vocabulary
    ) -> None:
        st = statement()
        own = run(st, catalog, vocabulary).time
        assert run(st, catalog, vocabulary, fallback_time=1_772_366_400_123).time == own

    def test_no_time_at_all_is_ignored(self, catalog: Catalog, vocabulary: Vocabulary) -> None:
        st = statement()
        del st["timestamp"]
        outcome = normalize(st, catalog, vocabulary, SECRET)
        assert isinstance(outcome, Ignored)
        assert outcome.code == "no_time"


class TestStatementId:
    def test_a_given_id_is_lower_cased(self) -> None:
        assert statement_id_of(statement()) == STATEMENT_ID.lower()

    def test_a_missing_id_is_derived_deterministically(
        self, catalog: Catalog, vocabulary: Vocabulary
    ) -> None:
        st = statement()
        del st["id"]
        derived = statement_id_of(st)
        assert uuid.UUID(derived).version == 5
        reordered = dict(reversed(list(orjson.loads(orjson.dumps(st)).items())))
        assert statement_id_of(reordered) == derived
        relayed = {**st, "stored": "2026-01-06T00:00:00Z", "version": "1.0.3"}
        relayed["authority"] = {"mbox": "mailto:lrs@example.com"}
        assert statement_id_of(relayed) == derived
        assert run(st, catalog, vocabulary).statement_id == derived
        changed = copy.deepcopy(st)
        changed["timestamp"] = "2026-01-05T09:30:01Z"
        assert statement_id_of(changed) != derived


class TestCatalogKind:
    def test_relabels_a_credited_verb(self, catalog: Catalog, vocabulary: Vocabulary) -> None:
        st = statement("completed", "https://lms.example.com/events/devconf", ACT + "course")
        assert run(st, catalog, vocabulary).kind is EventKind.EVENT_ATTENDED

    def test_never_credits_an_ignored_verb(self, catalog: Catalog, vocabulary: Vocabulary) -> None:
        st = statement("launched", "https://lms.example.com/events/devconf")
        outcome = normalize(st, catalog, vocabulary, SECRET)
        assert isinstance(outcome, Ignored)

    def test_never_promotes_other(self, catalog: Catalog, vocabulary: Vocabulary) -> None:
        st = statement("experienced", "https://lms.example.com/events/devconf")
        assert run(st, catalog, vocabulary).kind is EventKind.OTHER

    def test_a_failure_stays_a_failure_unless_assessed(
        self, catalog: Catalog, vocabulary: Vocabulary
    ) -> None:
        assessed = statement("failed", "https://lms.example.com/assessments/python")
        assert run(assessed, catalog, vocabulary).kind is EventKind.SKILL_ASSESSED
        attended = statement("failed", "https://lms.example.com/events/devconf")
        assert run(attended, catalog, vocabulary).kind is EventKind.COURSE_FAILED


def test_no_address_reaches_an_event(catalog: Catalog, vocabulary: Vocabulary) -> None:
    for actor in ({"mbox": ANN, "name": "Ann"}, {"mbox_sha1sum": ANN_SHA1}):
        text = run(statement(actor=actor), catalog, vocabulary).model_dump_json()
        assert "ann" not in text.lower().replace("annotation", "")
        assert ANN_SHA1 not in text


def test_events_hold_the_model_invariants_over_a_simulated_run() -> None:
    catalog = Catalog.from_file(SAMPLE_CATALOG)
    vocabulary = Vocabulary.default()
    kinds: set[EventKind] = set()
    events = 0
    for line, invalid in Simulation(60, 28, seed=11).labelled():
        if invalid is not None:
            continue
        outcome = normalize(orjson.loads(line), catalog, vocabulary, SECRET)
        if isinstance(outcome, Ignored):
            continue
        for event in outcome:
            assert LearningEvent.model_validate(event.model_dump()) == event
            wire = LearningEvent.model_validate_json(event.model_dump_json())
            assert wire == event
            assert hash(wire) == hash(event)
            assert list(event.skills) == sorted(set(event.skills))
            assert event.statement_id == event.statement_id.lower()
            kinds.add(event.kind)
            events += 1
    assert events > 500
    assert {EventKind.COURSE_COMPLETED, EventKind.SKILL_ASSESSED, EventKind.VOIDING} <= kinds


def test_events_can_be_copied_with_changes(catalog: Catalog, vocabulary: Vocabulary) -> None:
    event = run(statement(), catalog, vocabulary)
    changed = event.model_copy(update={"skills": ("sql",)})
    assert changed.skills == ("sql",)
    assert event.skills == ("python",)
    assert run(statement(), catalog, vocabulary).model_fields_set >= {"skills", "learner"}


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="shared/xapi-conformance not present")
def test_every_statement_a_conformant_lrs_accepts_normalizes_without_error(
    catalog: Catalog, vocabulary: Vocabulary
) -> None:
    record_time = datetime(2026, 1, 1, tzinfo=UTC)
    seen = 0
    for path in sorted(CONFORMANCE.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            case = orjson.loads(line)
            if case["expect"] != 200:
                continue
            outcome = normalize(case["statement"], catalog, vocabulary, SECRET, record_time)
            assert isinstance(outcome, Ignored | tuple)
            seen += 1
    assert seen > 600


# --- competencies named in statements (catalog skills' framework IRIs) --------------------

ESCO_SKILL = "http://data.europa.eu/esco/skill/00000000-0000-4000-8000-0000000000a1"
"""An IRI in ESCO's skill form (a fixture, not a real ESCO concept)."""


def framework_catalog() -> Catalog:
    return Catalog(
        [
            Skill(id="esco.sql", name="SQL", category="technical", iris=(ESCO_SKILL,)),
            skill("python"),
            ActivityMapping(activity_id=COURSE_IRI, skills=("python",)),
        ]
    )


@pytest.mark.parametrize("group", ["category", "other", "parent", "grouping"])
def test_a_context_activity_naming_a_skill_iri_credits_it_without_a_mapping(
    vocabulary: Vocabulary, group: str
) -> None:
    unmapped = "https://lms.example.com/courses/databases-101"
    st = statement(activity=unmapped, context={"contextActivities": {group: [{"id": ESCO_SKILL}]}})
    assert run(st, framework_catalog(), vocabulary).skills == ("esco.sql",)
    alone = statement(activity=unmapped)
    assert run(alone, framework_catalog(), vocabulary).skills == ()


def test_a_skill_iri_joins_the_object_mapping(vocabulary: Vocabulary) -> None:
    st = statement(context={"contextActivities": {"category": {"id": ESCO_SKILL}}})
    assert run(st, framework_catalog(), vocabulary).skills == ("esco.sql", "python")


def test_an_iri_no_skill_claims_credits_nothing(vocabulary: Vocabulary) -> None:
    other = "http://data.europa.eu/esco/skill/00000000-0000-4000-8000-0000000000ff"
    st = statement(
        activity="https://lms.example.com/x",
        context={"contextActivities": {"other": [{"id": other}]}},
    )
    assert run(st, framework_catalog(), vocabulary).skills == ()


def test_an_object_that_is_a_skill_iri_or_a_competency_credits_it(
    catalog: Catalog, vocabulary: Vocabulary
) -> None:
    st = statement(activity=ESCO_SKILL, activity_type=None)
    assert run(st, framework_catalog(), vocabulary).skills == ("esco.sql",)
    competency = statement(
        verb="passed",
        activity="https://skills.example.com/competencies/SQL",
        activity_type=COMPETENCY,
    )
    assert run(competency, catalog, vocabulary).skills == ("sql",)
    unknown = statement(
        verb="passed",
        activity="https://skills.example.com/competencies/cobol",
        activity_type=COMPETENCY,
    )
    assert run(unknown, catalog, vocabulary).skills == ()


def test_the_catalog_follows_a_skills_iris_as_it_changes() -> None:
    catalog = framework_catalog()
    assert catalog.skill_iris == {ESCO_SKILL: "esco.sql"}
    moved = "http://data.europa.eu/esco/skill/00000000-0000-4000-8000-0000000000b2"
    catalog.put(Skill(id="esco.sql", name="SQL", category="technical", iris=(moved,)))
    assert catalog.skill_iris == {moved: "esco.sql"}
    catalog.remove("skill:esco.sql")
    assert catalog.skill_iris == {}


# --- cmi5: the LMS's satisfied is the completion; an AU's completed/passed do not count again

CMI5 = {
    "contextActivities": {
        "category": [{"id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"}]
    }
}
SATISFIED = "https://w3id.org/xapi/adl/verbs/satisfied"


@pytest.mark.parametrize(
    ("verb", "in_session", "kind"),
    [
        ("completed", True, EventKind.OTHER),
        ("passed", True, EventKind.SKILL_ASSESSED),
        ("failed", True, EventKind.COURSE_FAILED),
        (SATISFIED, True, EventKind.COURSE_COMPLETED),
        ("completed", False, EventKind.COURSE_COMPLETED),
        ("passed", False, EventKind.COURSE_PASSED),
    ],
)
def test_cmi5_session_verbs(
    catalog: Catalog, vocabulary: Vocabulary, verb: str, in_session: bool, kind: EventKind
) -> None:
    extra: dict[str, Any] = {"context": CMI5} if in_session else {}
    event = run(
        statement(verb=verb, result={"score": {"scaled": 0.9}}, **extra), catalog, vocabulary
    )
    assert event.kind is kind
    assert event.skills == ("python",)
    assert event.score == 0.9


def test_a_cmi5_unit_counts_as_one_course(vocabulary: Vocabulary) -> None:
    from streams.core import Rules
    from streams.offline import run_offline

    au = "https://lms.example.com/courses/python-fundamentals"
    records = [
        orjson.dumps(
            statement(
                verb=verb,
                activity=au,
                id=str(uuid.UUID(int=n + 1)),
                result={"score": {"scaled": 0.9}, "success": True}
                if verb == "passed"
                else {"completion": True},
                context=CMI5,
                timestamp=f"2026-01-05T09:3{n}:00Z",
            )
        )
        for n, verb in enumerate(["completed", "passed", SATISFIED])
    ]
    result = run_offline(
        records,
        catalog=Catalog.from_file(SAMPLE_CATALOG),
        vocabulary=vocabulary,
        rules=Rules.load(None),
        secret=SECRET,
    )
    (profile,) = result.profiles.values()
    assert profile.courses_completed == 1
    assert profile.assessments == 1  # the AU's passed, with its score as evidence
    (python,) = [s for s in profile.skills if s.skill == "python"]
    assert python.courses_completed == 1
    assert python.latest_score == 0.9


# --- the video profile: a video's skills are exposure, once per video, never per player event

VIDEO_TYPE = "https://w3id.org/xapi/video/activity-type/video"
VIDEO_VERBS = "https://w3id.org/xapi/video/verbs/"


def test_a_video_exposes_its_skills_once_however_often_it_is_watched(
    catalog: Catalog, vocabulary: Vocabulary
) -> None:
    from streams.core import Rules
    from streams.offline import run_offline

    intro = "https://videos.example.com/python-intro"
    other = "https://videos.example.com/python-testing"
    catalog.put(ActivityMapping(activity_id=intro, skills=("python",)))
    catalog.put(ActivityMapping(activity_id=other, skills=("python", "testing")))
    viewing = [
        (VIDEO_VERBS + "played", intro),
        (VIDEO_VERBS + "paused", intro),
        (VIDEO_VERBS + "seeked", intro),
        ("completed", intro),
        (VIDEO_VERBS + "played", intro),  # watched again, days later
        ("completed", intro),
        ("completed", other),
        ("completed", intro),
    ]
    records = [
        orjson.dumps(
            statement(
                verb=verb,
                activity=video,
                activity_type=VIDEO_TYPE,
                id=str(uuid.UUID(int=n + 1)),
                result={"completion": True},
                timestamp=f"2026-01-{n + 5:02d}T09:30:00Z",
            )
        )
        for n, (verb, video) in enumerate(viewing)
    ]
    rules = Rules.load(None)
    result = run_offline(
        records, catalog=catalog, vocabulary=vocabulary, rules=rules, secret=SECRET
    )
    (profile,) = result.profiles.values()
    assert profile.statements == 4  # the completions: activity each time
    assert profile.courses_completed == 0
    (state,) = result.states.values()
    python = next(s for s in profile.skills if s.skill == "python")
    # the other video's first viewing; the intro's repeats (the 10th, the 12th) expose nothing
    assert python.last_activity == datetime(2026, 1, 11, 9, 30, tzinfo=UTC)
    assert {s.skill for s in profile.skills} == {"python", "testing"}
    assert dict(zip(state.skills.names, state.skills.touches, strict=True)) == {
        "python": 2,
        "testing": 1,
    }
