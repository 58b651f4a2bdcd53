"""``skillstream catalog gaps``: the activities that credit no skill, and closing them.

On the simulator's traffic with part of the sample catalog removed, the gaps are exactly
the removed activities (beside those the full catalog already leaves unmapped); filling
the template with their skills and loading it with the catalog gives back exactly the
milestones of the full catalog (the offline run is the reference a ``replay --rebuild``
must equal).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from schemas.catalog import ActivityMapping, Catalog, CatalogFile, Skill
from schemas.events import EventKind, LearningEvent
from skillstream.cli import main
from skillstream.config import SAMPLE_CATALOG, load_rules, load_vocabulary
from skillstream.gaps_report import (
    TEMPLATE_COLUMNS,
    read_filled,
    tally_file,
    with_additions,
    write_template,
)
from streams.gaps import Gap, GapTally, Suggester
from streams.offline import run_offline
from tools.simulate import Simulation

SECRET = b"gaps-test-secret"
REMOVED = (
    "https://lms.example.com/courses/python-fundamentals",
    "https://lms.example.com/courses/sql-for-analysts",
    "https://lms.example.com/assessments/sql",
)


@pytest.fixture(scope="module")
def traffic() -> list[bytes]:
    return list(Simulation(120, 60, 21))


@pytest.fixture(scope="module")
def full() -> CatalogFile:
    return CatalogFile.load(SAMPLE_CATALOG)


@pytest.fixture(scope="module")
def partial(full: CatalogFile) -> CatalogFile:
    kept = [a for a in full.activities if a.activity_id not in REMOVED]
    assert len(kept) == len(full.activities) - len(REMOVED)
    return full.model_copy(update={"activities": tuple(kept)})


def gaps_of(records: list[bytes], catalog: CatalogFile) -> GapTally:
    return tally_file(records, Catalog(catalog.items()), load_vocabulary(None), SECRET, "2.0.0")


def test_the_gaps_are_exactly_the_removed_activities(
    traffic: list[bytes], full: CatalogFile, partial: CatalogFile
) -> None:
    before = gaps_of(traffic, full)
    after = gaps_of(traffic, partial)
    assert set(after.gaps) == set(before.gaps) | set(REMOVED)
    assert not set(before.gaps) & set(REMOVED)
    assert after.credited_share is not None
    assert before.credited_share is not None
    assert after.credited_share < before.credited_share
    assert after.credited + after.uncredited == before.credited + before.uncredited
    ranked = after.ranked()
    assert [g.learner_count for g in ranked] == sorted(
        (g.learner_count for g in ranked), reverse=True
    )
    for activity in REMOVED:
        gap = after.gaps[activity]
        assert gap.statements > 0
        assert gap.learner_count > 0
        assert gap.names  # the simulator names its activities
        assert gap.verbs
        assert gap.example


def _fill_csv(path: Path, skills: dict[str, tuple[str, ...]]) -> None:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert rows
    assert list(rows[0]) == list(TEMPLATE_COLUMNS)
    for row in rows:
        row["skills"] = " ".join(skills.get(row["activity_id"], ()))
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TEMPLATE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _fill_yaml(path: Path, skills: dict[str, tuple[str, ...]]) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ")  # the instructions for whoever fills it in
    data = yaml.safe_load(text)
    assert all(entry["skills"] == [] for entry in data["activities"])
    for entry in data["activities"]:
        entry["skills"] = list(skills.get(entry["activity_id"], ()))
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def _milestones(records: list[bytes], catalog: CatalogFile) -> list[str]:
    result = run_offline(
        records,
        catalog=Catalog(catalog.items()),
        vocabulary=load_vocabulary(None),
        rules=load_rules(None),
        secret=SECRET,
    )
    return [m.model_dump_json() for m in result.milestones]


@pytest.mark.parametrize("suffix", [".csv", ".yaml"])
def test_filling_the_template_restores_exactly_the_original_milestones(
    traffic: list[bytes], full: CatalogFile, partial: CatalogFile, tmp_path: Path, suffix: str
) -> None:
    catalog_path = tmp_path / "partial.json"
    catalog_path.write_bytes(orjson.dumps(partial.model_dump(mode="json")))
    tally = gaps_of(traffic, partial)
    template = tmp_path / f"gaps{suffix}"
    write_template(template, tally.ranked(), Suggester(Catalog(partial.items())))
    original = {a.activity_id: a.skills for a in full.activities if a.activity_id in REMOVED}
    (_fill_csv if suffix == ".csv" else _fill_yaml)(template, original)
    filled = read_filled(template)
    assert sorted(m.activity_id for m in filled) == sorted(REMOVED)  # empty entries skipped
    restored = with_additions(catalog_path, [template])
    assert {a.activity_id: a.skills for a in restored.activities} == {
        a.activity_id: a.skills for a in full.activities
    }
    expected = _milestones(traffic, full)
    assert _milestones(traffic, partial) != expected
    assert _milestones(traffic, restored) == expected


def test_suggestions_say_which_words_matched() -> None:
    catalog = Catalog(
        [
            Skill(id="sql", name="SQL", category="technical", labels=("relational databases",)),
            Skill(id="data-engineering", name="Data engineering", category="technical"),
            Skill(id="python", name="Python", category="technical"),
        ]
    )
    gap = Gap(
        "https://lms.example.com/x/42",
        names={"en": "Relational databases in practice", "de": "Datenbanken"},
        descriptions={"en": "Queries with SQL for data engineering teams"},
    )
    suggest = Suggester(catalog)
    found = suggest(gap)
    assert [(s.skill, s.matched, s.by) for s in found] == [
        ("data-engineering", ("data", "engineering"), "name"),
        ("sql", ("relational", "databases"), 'label "relational databases"'),
    ]
    assert Suggester(catalog)(gap) == found  # deterministic
    assert suggest(Gap("https://lms.example.com/y", names={"en": "Cooking"})) == []


def _event(activity: str, learner: str, skills: tuple[str, ...] = ()) -> LearningEvent:
    return LearningEvent.model_validate_json(
        orjson.dumps(
            {
                "schema_version": 1,
                "statement_id": "6a1f5f0e-3c2b-4d5e-8f90-a1b2c3d4e5f6",
                "learner": learner,
                "kind": EventKind.COURSE_COMPLETED,
                "time": "2026-01-05T09:30:00Z",
                "verb": "http://adlnet.gov/expapi/verbs/completed",
                "activity_id": activity,
                "skills": skills,
            }
        )
    )


def test_memory_is_bounded() -> None:
    tally = GapTally(limit=2)
    catalog = Catalog([ActivityMapping(activity_id="https://a/mapped", skills=("x",))])
    statement: dict[str, Any] = {"object": {"id": "ignored here"}}
    for n in range(5):
        tally.add(statement, (_event(f"https://a/{n}", f"l{n}"),), catalog)
    tally.add(statement, (_event("https://a/0", "l9", ("python",)),), catalog)
    assert sorted(tally.gaps) == ["https://a/0", "https://a/1"]
    assert (tally.untracked, tally.uncredited, tally.credited) == (3, 5, 1)


def test_the_command_reports_and_writes_the_template(
    traffic: list[bytes],
    partial: CatalogFile,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    source = tmp_path / "traffic.jsonl"
    source.write_bytes(b"\n".join(traffic) + b"\n")
    catalog = tmp_path / "partial.json"
    catalog.write_bytes(orjson.dumps(partial.model_dump(mode="json")))
    template = tmp_path / "gaps.csv"
    argv = ["catalog", "gaps", "--from", str(source), "--catalog", str(catalog)]
    with pytest.raises(SystemExit) as done:
        main([*argv, "--template", str(template), "--top", "3"])
    out, err = capsys.readouterr()
    assert done.value.code == 0, err
    assert "statements credited a skill" in out
    assert "more (--top" in out
    assert f"template: {template}" in err
    assert {row["activity_id"] for row in csv.DictReader(template.open())} >= set(REMOVED)
    with pytest.raises(SystemExit) as done:
        main([*argv, "--json"])
    report = orjson.loads(capsys.readouterr().out)
    assert {gap["activity_id"] for gap in report["gaps"]} >= set(REMOVED)
    assert 0 < report["credited_share"] < 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--from", "s.jsonl", "--template", "g.txt"], "--template g.txt: name a .csv, .yaml or"),
        (["--from", "missing.jsonl"], "statements file missing.jsonl does not exist"),
        (["--from", "s.jsonl", "--since", "7d"], "--from FILE (an export) or --since WHEN"),
        (["--template", "t.csv"], "--from FILE (an export) or --since WHEN"),
        (["--since", "next week"], "--since 'next week' is not a time skillstream understands"),
    ],
)
def test_misuse_exits_2_saying_what_is_wrong(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.jsonl").write_text("{}\n")
    with pytest.raises(SystemExit) as done:
        main(["catalog", "gaps", *argv])
    assert done.value.code == 2
    assert says in capsys.readouterr().err


def test_a_filled_template_naming_an_unknown_skill_is_refused_before_the_broker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKILLSTREAM_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    filled = tmp_path / "filled.csv"
    filled.write_text("activity_id,skills\nhttps://lms.example.com/new,cobol\nhttps://x/y,\n")
    with pytest.raises(SystemExit) as done:
        main(["catalog", "load", "--add", str(filled)])
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert "names unknown skill 'cobol'" in err


def test_an_item_too_big_for_one_record_is_refused_before_the_broker(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import skillstream.gaps_report as gaps_report

    monkeypatch.setattr(gaps_report, "MAX_ITEM_BYTES", 300)
    monkeypatch.setenv("SKILLSTREAM_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    with pytest.raises(SystemExit) as done:
        main(["catalog", "load"])
    assert done.value.code == 2
    assert "bytes as JSON, past the 300 a Kafka topic takes by default" in capsys.readouterr().err


def test_ingest_counts_the_same_credited_share_as_the_gaps(
    traffic: list[bytes], partial: CatalogFile
) -> None:
    from streams.pipeline import Ingest

    catalog = Catalog(partial.items())
    ingest = Ingest(catalog, load_vocabulary(None), SECRET)
    for raw in traffic:
        ingest.record(raw)
    tally = gaps_of(traffic, partial)
    assert (ingest.counts.credited, ingest.counts.uncredited) == (tally.credited, tally.uncredited)
    assert ingest.counts.uncredited > 0


def test_the_credited_share_is_a_metric() -> None:
    from skillstream import metrics

    def sample(name: str, **labels: str) -> float:
        value = metrics.REGISTRY.get_sample_value(name, labels)
        return 0.0 if value is None else value

    yes = sample("skillstream_statements_credited_total", credited="true")
    no = sample("skillstream_statements_credited_total", credited="false")
    metrics.record_credited(3, 1)
    assert sample("skillstream_statements_credited_total", credited="true") == yes + 3
    assert sample("skillstream_statements_credited_total", credited="false") == no + 1
    assert sample("skillstream_catalog_credited_share") == pytest.approx((yes + 3) / (yes + no + 4))


def test_offline_reports_the_uncredited_statements(
    traffic: list[bytes],
    partial: CatalogFile,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "traffic.jsonl"
    source.write_bytes(b"\n".join(traffic) + b"\n")
    catalog = tmp_path / "partial.json"
    catalog.write_bytes(orjson.dumps(partial.model_dump(mode="json")))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as done:
        main(["offline", str(source), "--out", str(out), "--catalog", str(catalog)])
    err = capsys.readouterr().err
    assert done.value.code == 0, err
    summary = orjson.loads((out / "summary.json").read_bytes())
    tally = gaps_of(traffic, partial)
    assert (summary["credited"], summary["uncredited"]) == (tally.credited, tally.uncredited)
    assert f"{tally.uncredited} of {tally.credited + tally.uncredited} statements" in err
    assert "skillstream catalog gaps --from" in err


def test_a_record_that_breaks_normalize_is_skipped_and_the_tally_goes_on(
    traffic: list[bytes], partial: CatalogFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingest dead-letters a statement our code fails on; ``catalog gaps`` skips it."""
    import skillstream.gaps_report as report

    sample = traffic[:200]
    whole = gaps_of(sample, partial)
    real = report.normalize
    broken = orjson.loads(sample[0])["id"]

    def failing(statement: Any, *args: Any) -> Any:
        if statement.get("id") == broken:
            raise RuntimeError("a bug of ours")
        return real(statement, *args)

    monkeypatch.setattr(report, "normalize", failing)
    rest = gaps_of(sample, partial)
    assert rest.credited + rest.uncredited == whole.credited + whole.uncredited - 1
