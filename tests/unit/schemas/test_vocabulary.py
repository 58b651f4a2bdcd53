from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemas.events import EventKind
from schemas.vocabulary import Vocabulary
from schemas.xapi.problems import VOIDED_VERB

ADL = "http://adlnet.gov/expapi/verbs/"
ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"
MEETING = "http://adlnet.gov/expapi/activities/meeting"
COURSE = "http://adlnet.gov/expapi/activities/course"
CUSTOM = "https://lms.example.com/verbs/finished"


@pytest.fixture(scope="module")
def default() -> Vocabulary:
    return Vocabulary.default()


@pytest.mark.parametrize(
    ("verb", "activity_type", "kind"),
    [
        (ADL + "completed", COURSE, EventKind.COURSE_COMPLETED),
        (ADL + "completed", None, EventKind.COURSE_COMPLETED),
        (ADL + "passed", COURSE, EventKind.COURSE_PASSED),
        (ADL + "failed", COURSE, EventKind.COURSE_FAILED),
        (ADL + "completed", ASSESSMENT, EventKind.SKILL_ASSESSED),
        (ADL + "failed", ASSESSMENT, EventKind.SKILL_ASSESSED),
        (ADL + "scored", None, EventKind.SKILL_ASSESSED),
        (ADL + "attended", MEETING, EventKind.EVENT_ATTENDED),
        (ADL + "completed", MEETING, EventKind.EVENT_ATTENDED),
        (
            ADL + "completed",
            "http://id.tincanapi.com/activitytype/certificate",
            EventKind.CERTIFICATION_EARNED,
        ),
        ("http://id.tincanapi.com/verb/earned", None, EventKind.CERTIFICATION_EARNED),
        ("https://w3id.org/xapi/tla/verbs/asserted", None, EventKind.SKILL_ASSESSED),
        ("http://id.tincanapi.com/verb/mentored", None, EventKind.COLLABORATION),
        (ADL + "shared", None, EventKind.COLLABORATION),
        (ADL + "experienced", None, EventKind.OTHER),
        (
            ADL + "completed",
            "https://w3id.org/xapi/video/activity-type/video",
            EventKind.OTHER,
        ),
        ("https://w3id.org/xapi/adl/verbs/satisfied", COURSE, EventKind.COURSE_COMPLETED),
    ],
)
def test_default_kinds(
    default: Vocabulary, verb: str, activity_type: str | None, kind: EventKind
) -> None:
    assert default.kind_for(verb, activity_type) is kind
    assert default.ignored_reason(verb) is None


@pytest.mark.parametrize(
    "verb",
    [
        ADL + "launched",
        ADL + "initialized",
        ADL + "terminated",
        ADL + "suspended",
        ADL + "resumed",
        ADL + "interacted",
        ADL + "progressed",
        ADL + "attempted",
        ADL + "answered",
        "https://w3id.org/xapi/adl/verbs/abandoned",
        "https://w3id.org/xapi/adl/verbs/waived",
        "https://w3id.org/xapi/video/verbs/played",
    ],
)
def test_default_ignored_verbs_have_reasons(default: Vocabulary, verb: str) -> None:
    reason = default.ignored_reason(verb)
    assert reason
    assert len(reason) > 10
    assert default.kind_for(verb, COURSE) is None


def test_defaults_are_consistent(default: Vocabulary) -> None:
    iri = re.compile(r"https?://\S+")
    assert all(iri.fullmatch(v) for v in (*default.verbs, *default.ignored))
    assert not set(default.verbs) & set(default.ignored)
    assert VOIDED_VERB not in default.verbs
    assert EventKind.VOIDING not in default.verbs.values()
    assert default.kind_for("https://lms.example.com/verbs/unheard-of", None) is None


def test_load_none_is_the_default(default: Vocabulary) -> None:
    assert Vocabulary.load(None) == default


def test_a_file_extends_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "vocabulary.yaml"
    path.write_text(
        f"""
schema_version: 1
verbs:
  {CUSTOM}: course_completed
  {ADL}launched: other
ignored:
  {ADL}experienced: page views are too noisy here
rules:
  - verbs: [{ADL}completed]
    activity_types: [{ASSESSMENT}]
    kind: course_completed
""",
        encoding="utf-8",
    )
    vocabulary = Vocabulary.load(path)
    assert vocabulary.kind_for(CUSTOM, None) is EventKind.COURSE_COMPLETED
    assert vocabulary.kind_for(ADL + "launched", None) is EventKind.OTHER
    assert vocabulary.ignored_reason(ADL + "launched") is None
    assert vocabulary.ignored_reason(ADL + "experienced") == "page views are too noisy here"
    assert vocabulary.kind_for(ADL + "experienced", None) is None
    assert vocabulary.kind_for(ADL + "completed", ASSESSMENT) is EventKind.COURSE_COMPLETED
    assert vocabulary.kind_for(ADL + "passed", ASSESSMENT) is EventKind.SKILL_ASSESSED
    assert vocabulary.kind_for(ADL + "completed", MEETING) is EventKind.EVENT_ATTENDED


def test_a_file_may_replace_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "vocabulary.json"
    path.write_text(
        f'{{"replace_defaults": true, "verbs": {{"{CUSTOM}": "event_attended"}}}}',
        encoding="utf-8",
    )
    vocabulary = Vocabulary.load(path)
    assert vocabulary.verbs == {CUSTOM: EventKind.EVENT_ATTENDED}
    assert vocabulary.kind_for(ADL + "completed", None) is None
    assert vocabulary.ignored == {}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (f"verbs:\n  {CUSTOM}: graduated\n", ["verbs", CUSTOM, "Input should be"]),
        (f"verbs:\n  {CUSTOM}: voiding\n", [CUSTOM, "voiding"]),
        (f"verbs:\n  {VOIDED_VERB}: other\n", [VOIDED_VERB, "built in"]),
        ("verbs:\n  not an iri: other\n", ["verbs", "not an iri", "not an absolute IRI"]),
        (
            f"verbs:\n  {CUSTOM}: other\nignored:\n  {CUSTOM}: noisy\n",
            [CUSTOM, "both credited", "ignored"],
        ),
        (f"ignored:\n  {CUSTOM}: ''\n", ["ignored", CUSTOM]),
        (f"verb:\n  {CUSTOM}: other\n", ["verb", "Extra inputs are not permitted"]),
        (
            f"rules:\n  - verbs: [{CUSTOM}]\n    activity_types: []\n    kind: other\n",
            ["rules.0.activity_types"],
        ),
        (
            f"rules:\n  - verbs: [{CUSTOM}]\n    activity_types: [{MEETING}]\n    kind: voiding\n",
            ["rules[0]", "voiding"],
        ),
        ("schema_version: 2\n", ["schema_version"]),
        ("- just a list\n", ["mapping"]),
        ("verbs: [unclosed\n", ["not valid YAML"]),
    ],
)
def test_a_bad_file_is_refused_naming_the_field(
    tmp_path: Path, text: str, names: list[str]
) -> None:
    path = tmp_path / "vocabulary.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(str(path))) as raised:
        Vocabulary.load(path)
    for name in names:
        assert name in str(raised.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the vocabulary file"):
        Vocabulary.load(tmp_path / "absent.yaml")
