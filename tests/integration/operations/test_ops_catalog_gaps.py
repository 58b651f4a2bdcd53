"""Onboarding a catalog on the real broker: with mappings missing, ``catalog gaps`` lists
exactly them, from a file as from the live statements topic; the filled template, loaded with ``catalog load --add``, and ``replay
--rebuild`` give exactly the milestones of the full catalog (same ids, each once more)."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
from ops_support import cli, describe_milestones, milestone_ids, wait_workers_gone
from pipeline_support import (
    publish,
    read_results,
    simulated,
    start_worker,
    stream_reference,
    wait_caught_up,
)

from schemas.catalog import CatalogFile
from skillstream.cli.catalog_cmd import publish_catalog
from skillstream.config import SAMPLE_CATALOG
from skillstream.operations.cluster import Cluster
from skillstream.settings import Settings

REMOVED = (
    "https://lms.example.com/courses/python-fundamentals",
    "https://lms.example.com/courses/sql-for-analysts",
    "https://lms.example.com/assessments/sql",
)


async def test_gaps_template_load_and_rebuild_restore_the_full_catalogs_milestones(
    settings: Settings, tmp_path: Path
) -> None:
    records = simulated(learners=80, days=60, seed=44)
    traffic = tmp_path / "traffic.jsonl"
    traffic.write_bytes(b"\n".join(records) + b"\n")
    full = CatalogFile.load(SAMPLE_CATALOG)
    partial = full.model_copy(
        update={"activities": tuple(a for a in full.activities if a.activity_id not in REMOVED)}
    )
    partial_path = tmp_path / "partial.json"
    partial_path.write_bytes(orjson.dumps(partial.model_dump(mode="json")))

    await publish_catalog(settings, partial_path)
    worker = start_worker(settings, tmp_path)
    try:
        await publish(settings, records)
        await wait_caught_up(settings, len(records), [worker])
        before = await read_results(settings)
    finally:
        worker.stop()
    await wait_workers_gone(settings)

    # The gaps of the partial catalog, beside what the full one leaves unmapped.
    template = tmp_path / "gaps.csv"
    base = ["catalog", "gaps", "--from", str(traffic), "--json"]
    gaps = await cli(settings, *base, "--catalog", str(partial_path), "--template", str(template))
    assert gaps.code == 0, gaps
    still = await cli(settings, *base)
    assert still.code == 0, still
    listed = {g["activity_id"] for g in orjson.loads(gaps.out)["gaps"]}
    unmapped = {g["activity_id"] for g in orjson.loads(still.out)["gaps"]}
    assert listed - unmapped == set(REMOVED)
    # The live view (the statements topic, the catalog on its topic) says the same.
    live = await cli(settings, "catalog", "gaps", "--since", "earliest", "--json")
    assert live.code == 0, live
    from_file = orjson.loads(gaps.out)
    report = orjson.loads(live.out)
    for gap in (*report["gaps"], *from_file["gaps"]):
        del gap["example_statement"]  # the first seen: topic and file order differ
    for mine, theirs in zip(report["gaps"], from_file["gaps"], strict=True):
        assert mine == theirs
    assert report == from_file

    # Whoever fills the template puts the removed mappings' skills back.
    skills = {a.activity_id: " ".join(a.skills) for a in full.activities}
    rows = list(csv.DictReader(template.open(encoding="utf-8")))
    for row in rows:
        row["skills"] = skills[row["activity_id"]] if row["activity_id"] in REMOVED else ""
    with template.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    loaded = await cli(settings, "catalog", "load", str(partial_path), "--add", str(template))
    assert loaded.code == 0, loaded

    async with Cluster(settings.kafka) as cluster:
        events_end = await cluster.end_offsets(await cluster.partitions(settings.topics.events))
    rebuild_start = {tp.partition: offset for tp, offset in events_end.items()}
    published_before = {(p, o) for p, o, _ in await milestone_ids(settings)}
    rebuild = await cli(settings, "replay", "--rebuild")
    assert rebuild.code == 0, rebuild
    worker = start_worker(settings, tmp_path)
    try:
        await wait_caught_up(settings, len(records), [worker])
    finally:
        worker.stop()

    # The rebuild's milestones: exactly the full catalog's, by the core over what was delivered.
    reference = (await stream_reference(settings, records, rebuild_start)).delivered
    expected = {m.id for m in reference.milestones}
    rebuilt = {i for p, o, i in await milestone_ids(settings) if (p, o) not in published_before}
    if rebuilt != expected:
        raise AssertionError(
            f"rebuilt milestones differ by {await describe_milestones(settings, rebuilt ^ expected, reference)}"
        )
    assert before.milestone_ids < expected  # the partial catalog missed some, and made up none
