"""The Statement API's rules as pure functions (``skillstream.frontdoor.statements.accept``)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from frontdoor_builders import learner, new_id, statement

from schemas.normalize import statement_id_of
from skillstream.frontdoor.problems import Rejected
from skillstream.frontdoor.statements import Accepted, accept, negotiate
from skillstream.publishing import partition_key

SECRET = b"frontdoor-test-secret"


def run(body: Any, version: str | None = "2.0.0", **options: Any) -> Accepted:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return accept(raw, "application/json", version, secret=SECRET, **options)


def refused(body: Any, version: str | None = "2.0.0", **options: Any) -> Rejected:
    with pytest.raises(Rejected) as caught:
        run(body, version, **options)
    return caught.value


def stored(accepted: Accepted, index: int = 0) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(accepted.records[index].value)
    return value


# --- X-Experience-API-Version ---------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_version_header_is_refused_naming_it(header: str | None) -> None:
    rejected = refused(statement(), header)
    assert rejected.status == 400
    assert "X-Experience-API-Version" in rejected.error
    assert [p.code for p in rejected.problems] == ["version_header"]


@pytest.mark.parametrize("header", ["0.95", "0.9", "3.0.0", "1.1.0", "2.1", "latest", "1"])
def test_unsupported_version_header_is_refused_naming_it(header: str) -> None:
    rejected = refused(statement(), header)
    assert "X-Experience-API-Version" in rejected.error
    assert repr(header) in rejected.error


@pytest.mark.parametrize(
    ("header", "answer"),
    [
        ("1.0.0", "1.0.3"),
        ("1.0.3", "1.0.3"),
        ("1.0", "1.0.3"),
        ("2.0.0", "2.0.0"),
        ("2.0", "2.0.0"),
    ],
)
def test_supported_versions(header: str, answer: str) -> None:
    assert negotiate(header).response_version == answer


def test_header_version_selects_the_rules() -> None:
    """contextAgents exists in 2.0 only: the same statement passes 2.0 and fails 1.0.3."""
    context = {"contextAgents": [{"objectType": "contextAgent", "agent": learner(2)}]}
    assert run(statement(context=context), "2.0.0").ids
    rejected = refused(statement(context=context), "1.0.3")
    assert any(p.path == "$.context.contextAgents" for p in rejected.problems)


def test_statement_version_wins_over_the_header() -> None:
    context = {"contextAgents": [{"objectType": "contextAgent", "agent": learner(2)}]}
    rejected = refused(statement(context=context, version="1.0.3"), "2.0.0")
    assert rejected.problems[0].index == 0


# --- ids and receiver properties --------------------------------------------------------------


def test_ids_are_kept_or_assigned_in_order() -> None:
    given = new_id()
    accepted = run([statement(id=given), statement(actor=learner(1))])
    assert accepted.ids[0] == given
    assigned = accepted.ids[1]
    assert uuid.UUID(assigned)
    assert [r.statement_id for r in accepted.records] == accepted.ids
    assert stored(accepted, 1)["id"] == assigned


def test_assigned_id_is_the_content_id_the_worker_derives() -> None:
    """A retry of the same id-less statement gets the same id, so it is applied once."""
    body = statement(actor=learner(7))
    first = run(body).ids[0]
    assert run(body).ids[0] == first
    assert first == statement_id_of(body)
    assert run(statement(actor=learner(8))).ids[0] != first


def test_receiver_properties_are_added_after_validation() -> None:
    accepted = run(statement(timestamp=None))
    value = stored(accepted)
    assert value["stored"].endswith("Z")
    assert value["timestamp"] == value["stored"]
    assert value["version"] == "2.0.0"
    assert stored(run(statement(), "1.0.3"))["version"] == "1.0.0"


def test_sent_timestamp_and_version_are_kept_and_stored_is_overwritten() -> None:
    value = stored(run(statement(version="1.0.3", stored="2001-01-01T00:00:00Z"), "2.0.0"))
    assert value["timestamp"] == "2026-03-02T09:00:00.000Z"
    assert value["version"] == "1.0.3"
    assert value["stored"] != "2001-01-01T00:00:00Z"


def test_records_are_keyed_by_learner() -> None:
    accepted = run([statement(actor=learner(1)), statement(actor=learner(1)), statement()])
    keys = [r.key for r in accepted.records]
    assert keys[0] == keys[1] == partition_key(accepted.records[0].value, SECRET)
    assert keys[0] is not None
    assert keys[2] != keys[0]


def test_batch_with_the_same_id_twice_is_refused() -> None:
    same = new_id()
    rejected = refused([statement(id=same), statement(), statement(id=same.upper())])
    assert [(p.index, p.path, p.code) for p in rejected.problems] == [(2, "$.id", "duplicate_id")]
    assert "[0]" in rejected.problems[0].message


def test_empty_batch_is_accepted_with_no_ids() -> None:
    accepted = run([])
    assert accepted.ids == []
    assert accepted.records == []


# --- every problem, the whole batch refused -------------------------------------------------


def test_every_problem_of_every_statement_is_listed() -> None:
    bad_verb = statement(verb={"id": "not an iri"})
    bad_actor = statement(actor={"mbox": "ada@example.com"})
    rejected = refused([statement(), bad_verb, statement(), bad_actor, 17])
    by_index = {p.index for p in rejected.problems}
    assert by_index == {1, 3, 4}
    assert "3 of 5 statement(s) invalid" in rejected.error
    assert all(p.path is not None and p.path.startswith("$") for p in rejected.problems)
    assert rejected.received == 5


def test_one_invalid_statement_refuses_the_batch() -> None:
    rejected = refused([statement(), statement(verb=None)])
    assert [p.index for p in rejected.problems] == [1]


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"{not json", "json"), (b'"a string"', "json"), (b"42", "json")],
)
def test_unreadable_bodies(body: bytes, code: str) -> None:
    rejected = refused(body)
    assert [p.code for p in rejected.problems] == [code]
    assert rejected.problems[0].index is None


def test_other_content_types_are_refused() -> None:
    with pytest.raises(Rejected) as caught:
        accept(b"<xml/>", "text/xml", "2.0.0", secret=SECRET)
    assert caught.value.problems[0].code == "content_type"
    assert "text/xml" in caught.value.error


def test_statement_larger_than_kafka_takes_is_refused() -> None:
    big = statement(result={"extensions": {"https://example.com/x": "a" * 2000}})
    rejected = refused([statement(), big], max_statement_bytes=1500)
    assert [(p.index, p.code) for p in rejected.problems] == [(1, "too_large")]


# --- PUT --------------------------------------------------------------------------------------


def test_put_assigns_statement_id_when_the_body_has_none() -> None:
    sid = new_id()
    accepted = run(statement(), statement_id=sid, single=True)
    assert accepted.ids == [sid]
    assert stored(accepted)["id"] == sid


def test_put_accepts_matching_id_in_any_case() -> None:
    sid = new_id()
    assert run(statement(id=sid.upper()), statement_id=sid, single=True).ids == [sid.upper()]


def test_put_refuses_a_different_id() -> None:
    rejected = refused(statement(id=new_id()), statement_id=new_id(), single=True)
    assert [(p.index, p.path, p.code) for p in rejected.problems] == [(0, "$.id", "statement_id")]


def test_put_refuses_a_statement_id_that_is_not_a_uuid() -> None:
    rejected = refused(statement(), statement_id="not-a-uuid", single=True)
    assert rejected.problems[0].code == "statement_id"
    assert "not-a-uuid" in rejected.error


def test_put_refuses_an_array() -> None:
    rejected = refused([statement()], statement_id=new_id(), single=True)
    assert "array" in rejected.error
