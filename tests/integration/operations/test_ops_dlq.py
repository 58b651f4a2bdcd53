"""`skillstream dlq list|show|reprocess` on a real pipeline: fixed records flow on, still-invalid
ones come back, and nothing is published twice."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
from ops_support import cli, dead_letters, event_statement_ids, wait_workers_gone
from pipeline_support import prepare, simulated, start_worker, wait_caught_up

from skillstream.config import SAMPLE_CATALOG, load_catalog, load_vocabulary
from skillstream.kafka_io import producer, read_to_end
from skillstream.operations.dlq import ledger_topic
from skillstream.settings import Settings
from streams.pipeline import Ingest

HEADER = "X-Experience-API-Version"


def usable_statements(settings: Settings, n: int) -> list[dict[str, object]]:
    """Valid simulated statements with an id that give learning events, without their own
    version (the simulation also sends a few without an id, as some LMSs do)."""
    ingest = Ingest(
        load_catalog(SAMPLE_CATALOG), load_vocabulary(None), settings.learner_secret_bytes
    )
    out = []
    for raw in simulated(learners=5, days=10, seed=33):
        outcome = ingest.record(raw)
        if isinstance(outcome, tuple) and outcome:
            statement = orjson.loads(raw)
            if "id" not in statement:
                continue
            statement.pop("version", None)
            out.append(statement)
            if len(out) == n:
                return out
    raise AssertionError("the simulation should give valid statements")


async def send(settings: Settings, records: list[tuple[bytes, str | None]]) -> None:
    async with producer(settings.kafka) as p:
        for value, version in records:
            headers = [(HEADER, version.encode())] if version else None
            await (await p.send(settings.topics.statements, value, headers=headers))


async def test_reprocess_moves_fixed_records_through_once(
    settings: Settings, tmp_path: Path
) -> None:
    a, c = usable_statements(settings, 2)
    # A: valid, but sent with a version header skillstream does not know.
    raw_a = orjson.dumps(a)
    # B: not JSON at all; its header must travel with it when reprocessed.
    raw_b = b'{"id": "not json'
    # C: valid under xAPI 1.0.3 (a timestamp without a zone), invalid under the default 2.0.
    c["timestamp"] = str(c["timestamp"]).replace("Z", "")[:19]
    raw_c = orjson.dumps(c)

    await prepare(settings)
    worker = start_worker(settings, tmp_path)
    inputs = 3
    try:
        await send(settings, [(raw_a, "3.0.0"), (raw_b, "1.0.0"), (raw_c, None)])
        await wait_caught_up(settings, inputs, [worker])

        listed = await cli(settings, "dlq", "list")
        assert listed.code == 0, listed
        assert "3 dead letters" in listed.out
        for code in ("version", "json", "timestamp"):
            assert code in listed.out, listed

        shown = await cli(settings, "dlq", "show", "--code", "version", "--json")
        assert shown.code == 0, shown
        (record,) = [orjson.loads(line) for line in shown.out.splitlines()]
        assert record["xapi_version_header"] == "3.0.0"
        assert record["original"] == raw_a.decode()
        assert record["status"] == "waiting"

        unknown = await cli(settings, "dlq", "reprocess", "--code", "nope")
        assert unknown.code == 2, unknown
        assert "codes present" in unknown.err
        unselected = await cli(settings, "dlq", "reprocess")
        assert unselected.code == 2, unselected

        # A's fix: the right version header.
        fixed = await cli(
            settings, "dlq", "reprocess", "--code", "version", "--xapi-version", "2.0.0"
        )
        assert fixed.code == 0, fixed
        assert "published 1 " in fixed.out, fixed
        inputs += 1
        await wait_caught_up(settings, inputs, [worker])
        assert str(a["id"]) in await event_statement_ids(settings)
        assert len(await dead_letters(settings)) == 3  # A did not come back

        again = await cli(
            settings, "dlq", "reprocess", "--code", "version", "--xapi-version", "2.0.0"
        )
        assert again.code == 0, again
        assert "published 0 " in again.out
        assert "reprocessed before" in again.out

        # B cannot be fixed: it comes back, with its errors, keeping its header.
        back = await cli(settings, "dlq", "reprocess", "--code", "json")
        assert back.code == 0, back
        assert "published 1 " in back.out
        inputs += 1
        await wait_caught_up(settings, inputs, [worker])
        letters = await dead_letters(settings)
        assert len(letters) == 4
        returned = letters_with(letters, raw_b)
        assert len(returned) == 2
        assert all(d["errors"][0]["code"] == "json" for d in returned)
        assert {d["xapi_version_header"] for d in returned} == {"1.0.0"}
        republished = [
            r
            async for r in read_to_end(settings.kafka, settings.topics.statements)
            if r.value == raw_b
        ]
        assert len(republished) == 2
        assert all(dict(r.headers)[HEADER] == b"1.0.0" for r in republished)
    finally:
        worker.stop()
    await wait_workers_gone(settings)

    # C's fix is a setting: workers validating statements without a version as 1.0.3.
    worker = start_worker(settings.model_copy(update={"xapi_version": "1.0.3"}), tmp_path)
    try:
        everything = await cli(settings, "dlq", "reprocess", "--all")
        assert everything.code == 0, everything
        assert "published 1 " in everything.out, everything  # C only
        assert "came back after an earlier reprocess" in everything.out  # B's return
        inputs += 1
        await wait_caught_up(settings, inputs, [worker])
        assert str(c["id"]) in await event_statement_ids(settings)
        assert len(await dead_letters(settings)) == 4

        retried = await cli(settings, "dlq", "reprocess", "--all", "--retry")
        assert retried.code == 0, retried
        assert "published 1 " in retried.out
        inputs += 1
        await wait_caught_up(settings, inputs, [worker])
    finally:
        worker.stop()

    letters = await dead_letters(settings)
    assert len(letters) == 5
    summary = await cli(settings, "dlq", "list")
    assert summary.code == 0, summary
    assert "5 dead letters — 0 waiting, 4 reprocessed, 1 came back" in summary.out, summary
    ledger = [
        orjson.loads(r.value)
        async for r in read_to_end(settings.kafka, ledger_topic(settings.topics))
    ]
    assert len(ledger) == 4
    assert {entry["attempt"] for entry in ledger} == {1, 2}


def letters_with(letters: list[dict[str, object]], raw: bytes) -> list[dict[str, object]]:
    return [d for d in letters if base64.b64decode(str(d["original_b64"])) == raw]
