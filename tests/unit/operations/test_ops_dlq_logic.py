"""Dead letters without a broker: counting, selecting, what a reprocess would publish."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.deadletter import DeadLetter, Problem, SourcePosition
from skillstream.errors import UsageError
from skillstream.operations.dlq import (
    Contents,
    Entry,
    Position,
    Reprocessed,
    Selection,
    check_selection,
    check_version,
    entry_json,
    original_text,
    plan_reprocess,
    select,
    summarize,
)

DLQ = "xapi.statements.dlq"
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def letter(
    raw: bytes,
    *codes: str,
    source_offset: int = 0,
    path: str = "$.actor",
    header: str | None = None,
) -> DeadLetter:
    return DeadLetter(
        source=SourcePosition(
            topic="xapi.statements", partition=0, offset=source_offset, timestamp_ms=1
        ),
        original_b64=DeadLetter.encode(raw),
        xapi_version_header=header,
        errors=tuple(
            Problem(path=path if i == 0 else f"$.other[{i}]", message="wrong", code=code)
            for i, code in enumerate(codes)
        ),
        dead_lettered_at=AT,
    )


def ledger(entry: Entry, republished_offset: int, attempt: int = 1) -> Reprocessed:
    return Reprocessed(
        dead_letter=entry.position(DLQ),
        source=entry.letter.source,
        origin=entry.origin,
        republished=Position(topic="xapi.statements", partition=1, offset=republished_offset),
        attempt=attempt,
        xapi_version_header=None,
        reprocessed_at=AT,
    )


def contents() -> Contents:
    a = Entry(0, 0, 1, None, letter(b'{"a":1}', "ifi", "ifi", source_offset=10))
    b = Entry(0, 1, 1, None, letter(b"\xff\xfe", "utf8", path="$", source_offset=11))
    c = Entry(1, 0, 1, None, letter(b'{"c":1}', "iri", "ifi", path="$.verb.id", source_offset=12))
    a_done = Entry(
        a.partition, a.offset, a.timestamp_ms, a.key, a.letter, reprocessed=ledger(a, 50)
    )
    # a's bytes were published to xapi.statements[1]@50 and failed again:
    back_letter = letter(b'{"a":1}', "ifi", source_offset=50)
    back_letter = back_letter.model_copy(
        update={"source": SourcePosition(topic="xapi.statements", partition=1, offset=50)}
    )
    back = Entry(1, 1, 1, None, back_letter, returned_from=a_done.reprocessed)
    return Contents(DLQ, 2, [a_done, b, c, back])


def test_summary_counts_records_and_errors_by_code_and_first_path() -> None:
    summary = summarize(contents())
    assert (summary.total, summary.waiting, summary.reprocessed, summary.returned) == (4, 2, 1, 1)
    by_code = {c.code: (c.records, c.errors, c.waiting) for c in summary.by_code}
    assert by_code == {"ifi": (3, 4, 1), "utf8": (1, 1, 1), "iri": (1, 1, 1)}
    assert summary.by_code[0].code == "ifi"  # most frequent first
    assert dict(summary.by_path) == {"$.actor": 2, "$": 1, "$.verb.id": 1}


def test_a_returned_record_knows_its_origin_and_attempt() -> None:
    back = contents().entries[3]
    assert back.status == "returned"
    assert back.attempt == 2
    assert back.origin == Position(topic="xapi.statements", partition=0, offset=10)


def test_select_by_code_partition_and_offset() -> None:
    c = contents()
    assert [e.offset for e in select(c, Selection(codes=("iri",)))] == [0]
    assert len(select(c, Selection(codes=("ifi",)))) == 3
    assert len(select(c, Selection(codes=("iri", "utf8")))) == 2
    assert [(e.partition, e.offset) for e in select(c, Selection(partition=1))] == [(1, 0), (1, 1)]
    one = check_selection(c, Selection(partition=0, offset=1))
    assert [e.letter.errors[0].code for e in select(c, one)] == ["utf8"]
    assert len(select(c, Selection(every=True))) == 4


def test_an_unknown_code_lists_the_codes_present() -> None:
    with pytest.raises(
        UsageError, match=r"--code ifii: .*codes present: ifi \(3\), iri \(1\), utf8 \(1\)"
    ):
        check_selection(contents(), Selection(codes=("ifii",)))


def test_a_code_on_an_empty_topic_says_it_is_empty() -> None:
    with pytest.raises(UsageError, match="holds no dead letters"):
        check_selection(Contents(DLQ, 4, []), Selection(codes=("ifi",)))


def test_an_offset_needs_a_partition_when_there_are_several() -> None:
    with pytest.raises(UsageError, match="--offset 1 needs --partition"):
        check_selection(contents(), Selection(offset=1))
    single = Contents(DLQ, 1, contents().entries[:2])
    assert check_selection(single, Selection(offset=1)).partition == 0


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        (Selection(partition=7), "partitions 0 to 1"),
        (
            Selection(partition=0, offset=99),
            r"no dead letter at xapi.statements.dlq\[0\]@99 .*offsets 0 to 1",
        ),
    ],
)
def test_positions_that_hold_nothing_are_refused(selection: Selection, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_selection(contents(), selection)


def test_reprocess_skips_what_was_reprocessed_and_returns_unless_retry() -> None:
    entries = contents().entries
    todo, report = plan_reprocess(entries, retry=False)
    assert [(e.partition, e.offset) for e in todo] == [(0, 1), (1, 0)]
    assert (report.selected, report.already_reprocessed, report.returned_skipped) == (4, 1, 1)
    assert report.by_code == {"utf8": 1, "iri": 1, "ifi": 1}
    todo, report = plan_reprocess(entries, retry=True)
    assert [(e.partition, e.offset) for e in todo] == [(0, 1), (1, 0), (1, 1)]
    assert report.returned_skipped == 0


@pytest.mark.parametrize("version", ["1.0.3", "2.0.0", "1.0", "2.0", " 2.0.1 "])
def test_versions_skillstream_validates_are_accepted(version: str) -> None:
    assert check_version(version) == version.strip()


@pytest.mark.parametrize("version", ["3.0.0", "1.1.0", "latest", ""])
def test_other_versions_are_refused(version: str) -> None:
    with pytest.raises(UsageError, match=r"1\.0\.x"):
        check_version(version)


def test_no_version_keeps_the_recorded_header() -> None:
    assert check_version(None) is None


def test_originals_show_as_text_or_base64() -> None:
    assert original_text(b'{"a": "\xc3\xa9"}') == ("utf-8", '{"a": "é"}')
    assert original_text(b"\xff\xfe") == ("base64", "//4=")


def test_show_json_has_errors_positions_and_the_original() -> None:
    doc = entry_json(contents().entries[0], DLQ)
    assert doc["dead_letter"] == {"topic": DLQ, "partition": 0, "offset": 0}
    assert doc["status"] == "reprocessed"
    assert doc["reprocessed_to"] == "xapi.statements[1]@50"
    assert doc["original"] == '{"a":1}'
    assert [e["code"] for e in doc["errors"]] == ["ifi", "ifi"]
    assert doc["source"]["offset"] == 10


def test_ledger_records_round_trip_and_are_keyed_by_position() -> None:
    entry = contents().entries[1]
    record = ledger(entry, 7)
    assert Reprocessed.model_validate_json(record.model_dump_json()) == record
    assert Reprocessed.key(0, 1) == b"0:1"
