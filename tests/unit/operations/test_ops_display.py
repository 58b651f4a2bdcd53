"""What the operator commands print, rendered to plain text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console, RenderableType

from schemas.deadletter import DeadLetter, Problem, SourcePosition
from skillstream.operations import display
from skillstream.operations.dlq import Entry, ReprocessReport
from skillstream.operations.forget import ForgetReport, SqlOutcome
from skillstream.operations.replay import LocalState, OffsetMove, ReplayPlan
from skillstream.operations.status import GroupStatus, PartitionStatus, Reading
from skillstream.operations.when import Start
from skillstream.topics import COMPACTED, TopicPlan


def text(renderable: RenderableType) -> str:
    console = Console(width=200, record=True, color_system=None)
    with console.capture() as captured:
        console.print(renderable)
    return captured.get()


def rebuild_plan(erasures: int = 0) -> ReplayPlan:
    return ReplayPlan(
        "rebuild",
        Start(None),
        (
            OffsetMove("ingest", "g-ingest", "xapi.statements", 0, 120, 0, 120),
            OffsetMove("profiles", "g", "learning.events", 0, 90, 95, 95),
        ),
        changelog=TopicPlan("g-profiles-changelog", 4, dict(COMPACTED)),
        changelog_partitions_now=4,
        local_state=(LocalState(Path("/srv/w1"), Path("/srv/w1/profiles")),),
        erasures=erasures,
    )


def test_a_rebuild_plan_shows_every_change() -> None:
    shown = text(display.replay_plan(rebuild_plan()))
    assert "g-ingest" in shown
    assert "xapi.statements" in shown
    assert "120" in shown
    assert "g-profiles-changelog (4 partitions now): deleted and created again empty" in shown
    assert "cleanup.policy=compact" in shown
    assert "delete /srv/w1/profiles" in shown


def test_after_a_rebuild_the_operator_is_told_what_happens_on_the_workers() -> None:
    said = display.replay_done(rebuild_plan())
    assert "120 statements will be read again" in said
    assert "epoch mismatch" in said
    assert "same ids" in said
    assert "skillstream replay --wait" in said


def test_after_a_rewind_the_operator_is_told_nothing_is_emitted_twice() -> None:
    plan = ReplayPlan(
        "from",
        Start(datetime(2026, 3, 1, tzinfo=UTC)),
        (OffsetMove("ingest", "g-ingest", "xapi.statements", 0, 10, 4, 10),),
    )
    said = display.replay_done(plan)
    assert "group g-ingest rewound to 2026-03-01T00:00:00.000Z: 6 statements" in said
    assert "nothing is emitted twice" in said


def test_erasures_are_pointed_out_before_a_replay() -> None:
    assert display.erasure_warning(rebuild_plan(), "learner.erased") is None
    warning = display.erasure_warning(rebuild_plan(erasures=2), "learner.erased")
    assert warning is not None
    assert "2 erasure(s)" in warning
    assert "skillstream forget --key" in warning
    assert "retention.ms" in warning


def test_status_shows_na_on_the_first_call_and_rates_after() -> None:
    parts = (PartitionStatus("xapi.statements", 0, None, 7),)
    first = Reading(100.0, "k", "g", (GroupStatus("ingest", "g-ingest", "Dead", 0, parts),))
    shown = text(display.status_table(first))
    assert "n/a (first reading" in shown
    assert "not started yet" in shown
    assert "ingest: g-ingest" in shown
    later = Reading(
        130.0,
        "k",
        "g",
        (
            GroupStatus(
                "ingest",
                "g-ingest",
                "Stable",
                1,
                (PartitionStatus("xapi.statements", 0, 5, 7, 2.5, 1.0),),
            ),
        ),
        previous_at=100.0,
    )
    shown = text(display.status_table(later))
    assert "rates over the 30s since the last call" in shown
    assert "state Stable, 1 member(s)" in shown
    assert "2.5" in shown


def test_a_dead_letter_shows_its_errors_source_and_original() -> None:
    letter = DeadLetter(
        source=SourcePosition(topic="xapi.statements", partition=2, offset=41, timestamp_ms=0),
        original_b64=DeadLetter.encode(b"\xff binary"),
        xapi_version_header="1.0.3",
        errors=(Problem(path="$", message="not UTF-8", code="utf8"),),
        dead_lettered_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    shown = text(display.dlq_entry(Entry(1, 9, 0, None, letter), "xapi.statements.dlq"))
    assert "xapi.statements.dlq[1]@9  waiting" in shown
    assert "from xapi.statements[2]@41" in shown
    assert "X-Experience-API-Version: 1.0.3" in shown
    assert "utf8  $  not UTF-8" in shown
    assert "base64" in shown
    assert "/yBiaW5hcnk=" in shown


def test_long_originals_are_shortened_unless_asked() -> None:
    raw = b'{"x": "' + b"a" * 5000 + b'"}'
    letter = DeadLetter(
        source=SourcePosition(topic="s", partition=0, offset=0),
        original_b64=DeadLetter.encode(raw),
        errors=(Problem(path="$", message="m", code="c"),),
        dead_lettered_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    entry = Entry(0, 0, 0, None, letter)
    assert "--full shows all" in text(display.dlq_entry(entry, "d", 100))
    assert "--full" not in text(display.dlq_entry(entry, "d", None))


def test_a_reprocess_report_counts_and_explains_skips() -> None:
    report = ReprocessReport(
        selected=5, already_reprocessed=1, returned_skipped=2, by_code={"version": 2}, dry_run=True
    )
    said = display.reprocess_report(report, "xapi.statements")
    assert (
        "5 dead letters selected; would publish 2 to xapi.statements (by code: version 2)" in said
    )
    assert "1 skipped: reprocessed before" in said
    assert "--retry" in said


def test_a_forget_report_says_what_was_done_and_what_is_pending() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    done = ForgetReport(
        "lrn_x", 1, 17, True, True, at, "learner.erased", SqlOutcome("sqlite:///x", 4)
    )
    lines = list(display.forget_report(done, "learning.events", "g"))
    assert lines[0] == "learner lrn_x"
    assert "learning.events[1]@17: applied" in lines[1]
    assert "4 row(s) deleted now" in lines[3]
    pending = ForgetReport("lrn_x", 1, 17, False, False, at, "learner.erased", None)
    lines = list(display.forget_report(pending, "learning.events", "g"))
    assert "pending: no worker is running" in lines[1]
    assert "not deleted directly" in lines[3]
