"""`skillstream learner-key`: every form an operator holds gives the key the pipeline derives."""

from __future__ import annotations

import hashlib
import json

import pytest

from schemas.catalog import Catalog
from schemas.events import LearningEvent
from schemas.identity import is_learner_key
from schemas.normalize import normalize
from schemas.vocabulary import Vocabulary
from skillstream.cli import main
from skillstream.operations.forget import learner_key as forget_key

SECRET = "learner-key-cmd-test-secret"
MBOX = "mailto:ada@example.com"
SHA1 = hashlib.sha1(MBOX.encode()).hexdigest()
HOME = "https://lms.example.com"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


def key_of(ifi: str, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run(["learner-key", ifi], capsys)
    assert code == 0, err
    assert out.count("\n") == 1
    key = out.strip()
    assert is_learner_key(key)
    return key


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment's own secret, and no broker or database to reach (none is needed)."""
    monkeypatch.setenv("SKILLSTREAM_LEARNER_KEY_SECRET", SECRET)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("SKILLSTREAM_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("SKILLSTREAM_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("COLUMNS", "200")


def pipeline_key(actor: dict[str, object]) -> str:
    """The learner the worker credits for a statement by ``actor`` (the ingest normalizer)."""
    statement = {
        "id": "6f1c0f4e-8a7b-4c1d-9e2f-0a1b2c3d4e5f",
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"objectType": "Activity", "id": "https://lms.example.com/courses/kafka-101"},
        "timestamp": "2026-03-02T09:00:00.000Z",
    }
    events = normalize(statement, Catalog(), Vocabulary.default(), SECRET.encode())
    assert isinstance(events, tuple), events
    assert all(isinstance(e, LearningEvent) for e in events)
    return events[0].learner


@pytest.mark.parametrize(
    "ifi",
    [
        "ada@example.com",
        MBOX,
        "MAILTO:ada@example.com",
        f"  {MBOX}  ",
        SHA1,
        SHA1.upper(),
        f"sha1:{SHA1}",
        f"mbox_sha1sum:{SHA1}",
        json.dumps({"mbox": MBOX}),
        json.dumps({"objectType": "Agent", "name": "Ada", "mbox": MBOX}),
        json.dumps({"mbox_sha1sum": SHA1}),
    ],
)
def test_mbox_and_its_sha1sum_give_the_pipelines_key(
    ifi: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert key_of(ifi, capsys) == pipeline_key({"mbox": MBOX})
    assert key_of(ifi, capsys) == pipeline_key({"mbox_sha1sum": SHA1})


@pytest.mark.parametrize(
    ("ifi", "actor"),
    [
        (f"{HOME}|u00042", {"account": {"homePage": HOME, "name": "u00042"}}),
        (f"account:{HOME}|u00042", {"account": {"homePage": HOME, "name": "u00042"}}),
        (
            json.dumps({"account": {"homePage": HOME, "name": "u00042"}}),
            {"account": {"homePage": HOME, "name": "u00042"}},
        ),
        ("https://id.example.com/ada", {"openid": "https://id.example.com/ada"}),
        ("openid:https://id.example.com/ada", {"openid": "https://id.example.com/ada"}),
        (
            json.dumps({"openid": "https://id.example.com/ada"}),
            {"openid": "https://id.example.com/ada"},
        ),
    ],
    ids=["account", "account-scheme", "account-json", "openid", "openid-scheme", "openid-json"],
)
def test_account_and_openid_give_the_pipelines_key(
    ifi: str, actor: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    assert key_of(ifi, capsys) == pipeline_key(actor)


def test_same_key_as_forget(capsys: pytest.CaptureFixture[str]) -> None:
    """`skillstream forget` names the same learner for every identifier."""
    for ifi in (MBOX, f"sha1:{SHA1}", f"account:{HOME}|u00042", "openid:https://id.example.com/a"):
        assert key_of(ifi, capsys) == forget_key(ifi, None, SECRET.encode())


def test_json_output_names_the_identifier(capsys: pytest.CaptureFixture[str]) -> None:
    for ifi, kind in (
        ("ada@example.com", "mbox"),
        (SHA1, "mbox_sha1sum"),
        (f"{HOME}|u00042", "account"),
        ("https://id.example.com/ada", "openid"),
    ):
        code, out, _ = run(["learner-key", "--json", ifi], capsys)
        assert code == 0
        assert json.loads(out) == {"ifi": kind, "learner": key_of(ifi, capsys)}


def test_the_secret_changes_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = key_of(MBOX, capsys)
    monkeypatch.setenv("SKILLSTREAM_LEARNER_KEY_SECRET", "another-deployment-secret")
    assert key_of(MBOX, capsys) != first


def test_warns_on_the_built_in_secret_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(["learner-key", MBOX], capsys)
    assert code == 0
    assert err == ""
    monkeypatch.delenv("SKILLSTREAM_LEARNER_KEY_SECRET")
    code, out, err = run(["learner-key", MBOX], capsys)
    assert code == 0
    assert is_learner_key(out.strip())
    assert err.count("\n") == 1
    assert "SKILLSTREAM_LEARNER_KEY_SECRET" in err
    assert "default" in err


@pytest.mark.parametrize(
    ("ifi", "names"),
    [
        ("nonsense", "neither an e-mail address"),
        ("grace@", "mbox must be"),
        ("mailto:grace@example.org?subject=x", "mbox must be"),
        ("sha1:grace@example.org", "40 hex digits"),
        ("0" * 39 + "g", "40 hex digits"),
        (f"{HOME}|", "homePage URL and its name"),
        ("|u00042", "homePage URL and its name"),
        ("account:grace@example.org|grace", "homePage"),
        ('{"mbox": "grace@example.org"}', "mbox must be"),
        (
            '{"mbox": "mailto:grace@example.org", "openid": "https://id.example.com/a"}',
            "2 are given",
        ),
        ('{"email": "grace@example.org"}', "unknown property"),
        ('{"objectType": "Group", "member": [{"mbox": "mailto:grace@example.org"}]}', "Group"),
        ('{"mbox": "mailto:grace@example.org"', "not JSON"),
        ('["mailto:grace@example.org"]', "JSON object"),
        ("lrn_aaaaaaaaaaaaaaaaaaaaaaaaaa", "already a learner key"),
        ("", "neither an e-mail address"),
    ],
)
def test_misuse_is_exit_2_with_one_line_naming_the_problem(
    ifi: str, names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["learner-key", ifi], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert err.count("\n") == 1, err
    assert names in err
    assert "Traceback" not in err
    assert "grace" not in err  # the identifier is never repeated


def test_refusal_lists_the_accepted_forms(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run(["learner-key", "nonsense"], capsys)
    for form in ("e-mail address", "mbox_sha1sum", "openid", "HOMEPAGE|NAME", "JSON Agent"):
        assert form in err


def test_missing_argument_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["learner-key"], capsys)
    assert code == 2
    assert "IFI" in err


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["learner-key", "--help"], capsys)
    assert code == 0
    assert "Examples" in out
    assert "skillstream learner-key ada@example.com" in out
    assert "SKILLSTREAM_LEARNER_KEY_SECRET" in out
