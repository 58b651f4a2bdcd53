"""`skillstream forget` without a broker: naming the learner, the erasure event, SQL or not."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from schemas.identity import learner_keys
from skillstream.errors import UsageError
from skillstream.operations.forget import erased_event, learner_key, sql_configured
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
