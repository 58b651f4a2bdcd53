"""`skillstream forget` without a broker: naming the learner, the erasure event, SQL or not,
and the list of what it cannot reach."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from schemas.identity import learner_keys
from schemas.topology import Topics, changelog_topic
from skillstream.errors import UsageError
from skillstream.operations.display import forget_report
from skillstream.operations.forget import (
    ForgetReport,
    duration,
    erased_event,
    learner_key,
    remains,
    sql_configured,
)
from skillstream.settings import load_settings

SECRET = b"test-secret"


def test_an_ifi_gives_the_key_the_pipeline_uses() -> None:
    mbox = "mailto:Ann@example.com"
    by_actor = learner_keys({"mbox": mbox}, SECRET)[0]
    assert learner_key(mbox, None, SECRET) == by_actor
    sha1 = hashlib.sha1(mbox.encode()).hexdigest()
    assert learner_key(f"sha1:{sha1}", None, SECRET) == by_actor
    account = "account:https://lms.example.com|u00042"
    by_account = {"account": {"homePage": "https://lms.example.com", "name": "u00042"}}
    assert learner_key(account, None, SECRET) == learner_keys(by_account, SECRET)[0]
    assert learner_key("Ann@example.com", None, SECRET) == by_actor  # as learner-key takes it


def test_a_key_is_taken_as_it_is() -> None:
    key = learner_key("mailto:ann@example.com", None, SECRET)
    assert learner_key(None, f" {key} ", SECRET) == key


@pytest.mark.parametrize(("ifi", "key"), [(None, None), ("mailto:a@example.com", "lrn_x")])
def test_the_learner_is_named_exactly_once(ifi: str | None, key: str | None) -> None:
    with pytest.raises(UsageError, match="name the learner once"):
        learner_key(ifi, key, SECRET)


def test_a_bad_key_is_refused() -> None:
    with pytest.raises(UsageError, match="not a learner key"):
        learner_key(None, "ann@example.com", SECRET)


@pytest.mark.parametrize(
    "ifi", ["mailto:ann at example.com", "sha1:abc", "account:nobar", "tel:123", "ann"]
)
def test_a_bad_identifier_is_refused_without_repeating_it(ifi: str) -> None:
    with pytest.raises(UsageError) as refused:
        learner_key(ifi, None, SECRET)
    message = str(refused.value)
    assert "an e-mail address" in message
    assert ifi not in message


def test_the_erasure_event_holds_the_key_and_time_only() -> None:
    at = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    doc = orjson.loads(erased_event("lrn_abc", at))
    assert doc == {"version": 1, "learner": "lrn_abc", "erased_at": "2026-03-01T09:30:15.123Z"}


def test_sql_is_on_when_a_database_is_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SKILLSTREAM_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    assert sql_configured(load_settings()) is False  # the default SQLite file does not exist
    assert sql_configured(load_settings(database_url="sqlite:///x.db")) is True
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "skillstream.db").write_bytes(b"")
    assert sql_configured(load_settings()) is True
    monkeypatch.setenv("SKILLSTREAM_DATABASE_URL", "postgresql://u@h/db")
    assert sql_configured(load_settings()) is True


# --- what forget cannot reach ----------------------------------------------------------------

DELETE = {
    "cleanup.policy": "delete",
    "retention.ms": "604800000",
    "retention.bytes": "-1",
    "segment.ms": "604800000",
    "segment.bytes": "1073741824",
}
COMPACT = {
    "cleanup.policy": "compact",
    "retention.ms": "-1",
    "segment.ms": "604800000",
    "segment.bytes": "1073741824",
    "min.cleanable.dirty.ratio": "0.1",
    "delete.retention.ms": "86400000",
    "max.compaction.lag.ms": "9223372036854775807",
}


def configs(topics: Topics, group: str) -> dict[str, dict[str, str]]:
    found = {name: dict(DELETE) for name in topics.all_names()}
    for name in (topics.profiles, topics.catalog, changelog_topic(group)):
        found[name] = dict(COMPACT)
    return found


def test_every_place_forget_cannot_reach_is_listed_with_its_own_settings() -> None:
    topics = Topics()
    places = {r.where: r for r in remains(topics, "g", 2, True, configs(topics, "g"))}
    assert set(places) == {
        "xapi.statements",
        "xapi.statements.dlq",
        "learning.events",
        "career.milestones",
        "career.milestones.dlq",
        "learner.profiles",
        "g-profiles-changelog",
        "other workers' disks",
        "the disks themselves",
        "webhook subscribers",
        "backups and exports",
    }
    statements = places["xapi.statements"]
    assert "identifier" in statements.what
    assert "retention.ms = 7 d" in statements.until
    assert "at most 14 d" in statements.until  # retention counts from a segment's newest record
    for compacted in ("learner.profiles", "g-profiles-changelog"):
        until = places[compacted].until
        assert "min.cleanable.dirty.ratio = 0.1" in until
        assert "segment.ms = 7 d" in until
        assert "delete.retention.ms = 1 d" in until
        assert "max.compaction.lag.ms" not in until  # the default: no bound
    assert "partition-2" in places["other workers' disks"].what


def test_settings_that_bound_the_wait_are_read_as_such() -> None:
    topics = Topics()
    found = configs(topics, "g")
    found[topics.statements].update({"retention.ms": "-1", "retention.bytes": "1048576"})
    found[changelog_topic("g")]["max.compaction.lag.ms"] = "3600000"
    found[topics.profiles]["cleanup.policy"] = "compact,delete"
    del found[topics.events]  # could not be read
    places = {r.where: r for r in remains(topics, "g", 0, True, found)}
    assert "no time limit" in places["xapi.statements"].until
    assert "retention.bytes = 1 MiB" in places["xapi.statements"].until
    assert "max.compaction.lag.ms = 1 h forces it" in places["g-profiles-changelog"].until
    assert "also deletes by age" in places["learner.profiles"].until
    assert "could not be read" in places["learning.events"].until


def test_a_pending_erasure_says_the_worker_still_holds_the_state() -> None:
    topics = Topics()
    first = remains(topics, "g", 3, False, {})[0]
    assert "learning.events[3]" in first.where
    assert "whole profile state" in first.what
    assert all("worker that owns" not in r.where for r in remains(topics, "g", 3, True, {}))


@pytest.mark.parametrize(
    ("ms", "shown"),
    [
        ("604800000", "7 d"),
        ("86400000", "1 d"),
        ("5400000", "1.5 h"),
        ("-1", "never"),
        ("x", "unknown"),
        ("250", "250 ms"),
    ],
)
def test_durations_are_shown_for_people(ms: str, shown: str) -> None:
    assert duration(ms) == shown


def test_the_report_prints_every_place_and_until_when() -> None:
    topics = Topics()
    report = ForgetReport(
        "lrn_x",
        2,
        17,
        True,
        True,
        datetime(2026, 3, 1, tzinfo=UTC),
        topics.erased,
        None,
        remains(topics, "g", 2, True, configs(topics, "g")),
    )
    lines = list(forget_report(report, topics.events, "g"))
    assert "purged from the local files" in lines[1]
    text = "\n".join(lines)
    assert "not erased by this command" in text
    for place in report.remains:
        assert f"- {place.where}:" in text
    assert all(len(line) <= 100 for line in lines[4:])
    assert text.count("until: ") == len(report.remains)
