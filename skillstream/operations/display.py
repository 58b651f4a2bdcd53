"""What the operator commands print: tables and lines built from the operations' results.

Kept apart from the logic so the logic returns data (tested as data) and the
words an operator reads are in one place (tested as text).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from skillstream.operations.dlq import Entry, ReprocessReport, Summary, original_text
from skillstream.operations.forget import ForgetReport
from skillstream.operations.replay import ReplayPlan
from skillstream.operations.status import Reading


def offset(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


# --- replay --------------------------------------------------------------------------------


def replay_plan(plan: ReplayPlan) -> RenderableType:
    table = Table(title=None, show_edge=False, pad_edge=False)
    for column in ("group", "topic", "partition", "committed now", "new offset", "end", "to read"):
        table.add_column(column, justify="right" if column not in ("group", "topic") else "left")
    for m in plan.moves:
        table.add_row(
            m.group,
            m.topic,
            str(m.partition),
            offset(m.current),
            f"{m.target:,}",
            f"{m.end:,}",
            f"{m.to_read:,}",
        )
    parts: list[RenderableType] = [table]
    if plan.changelog is not None:
        now = (
            "does not exist yet"
            if plan.changelog_partitions_now is None
            else f"{plan.changelog_partitions_now} partitions now"
        )
        parts.append(
            Text(
                f"profile changelog {plan.changelog.name} ({now}): deleted and created again "
                f"empty, {plan.changelog.partitions} partitions, "
                + ",".join(f"{k}={v}" for k, v in plan.changelog.config.items())
            )
        )
    for state in plan.local_state:
        if state.profiles is None:
            parts.append(Text(f"local state {state.given}: nothing to delete"))
        else:
            parts.append(Text(f"local state: delete {state.profiles}"))
    return Group(*parts)


def replay_done(plan: ReplayPlan) -> str:
    statements = sum(m.to_read for m in plan.moves if m.role == "ingest")
    ingest = next((m.group for m in plan.moves if m.role == "ingest"), "the ingest group")
    if plan.mode == "rebuild":
        lines = [
            f"rebuild prepared: {statements:,} statements will be read again from the "
            "beginning into empty profile state.",
            "Start the workers now (same SKILLSTREAM_GROUP_ID and rules). Each worker "
            "finds that its local state belongs to the old changelog (epoch mismatch), "
            "deletes it and starts empty: nothing to do on the worker machines.",
            "Milestones already published are published again with the same ids (sinks "
            "keep one record per id; webhook receivers drop ids they have seen); new "
            "ones appear. Follow it with `skillstream replay --wait`.",
        ]
    else:
        lines = [
            f"group {ingest} rewound to {plan.start.describe()}: "
            f"{statements:,} statements will be read again.",
            "Start the workers now; statements already applied are recognised and "
            "skipped, so nothing is emitted twice. Follow it with `skillstream replay --wait`.",
        ]
    return "\n".join(lines)


def erasure_warning(plan: ReplayPlan, erased_topic: str) -> str | None:
    if not plan.erasures:
        return None
    return (
        f"note: {erased_topic} records {plan.erasures} erasure(s). The statements of an "
        "erased learner that xapi.statements still holds are read again by this replay "
        "and rebuild that learner's profile. Erase them again after the replay "
        "(`skillstream forget --key KEY` for each key on "
        f"{erased_topic}), and set retention.ms on xapi.statements so erased "
        "learners' statements expire (docs/operations.md)."
    )


# --- dlq -----------------------------------------------------------------------------------


def dlq_summary(summary: Summary) -> RenderableType:
    head = Text()
    head.append(f"{summary.topic}: {summary.total:,} dead letters", style="bold")
    head.append(
        f" — {summary.waiting:,} waiting, {summary.reprocessed:,} reprocessed, "
        f"{summary.returned:,} came back after a reprocess"
    )
    if summary.unreadable:
        head.append(f", {summary.unreadable:,} unreadable records", style="red")
    if not summary.total:
        return head
    codes = Table(show_edge=False, pad_edge=False)
    codes.add_column("error code")
    codes.add_column("records", justify="right")
    codes.add_column("errors", justify="right")
    codes.add_column("waiting", justify="right")
    for c in summary.by_code:
        codes.add_row(c.code, f"{c.records:,}", f"{c.errors:,}", f"{c.waiting:,}")
    paths = Table(show_edge=False, pad_edge=False)
    paths.add_column("first error path")
    paths.add_column("records", justify="right")
    for path, n in summary.by_path:
        paths.add_row(path, f"{n:,}")
    return Group(head, Text(""), codes, Text(""), paths)


def _stamp(ms: int | None) -> str:
    if ms is None:
        return "?"
    return (
        datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def dlq_entry(entry: Entry, topic: str, max_chars: int | None = 2000) -> RenderableType:
    letter = entry.letter
    s = letter.source
    head = Text()
    head.append(f"{topic}[{entry.partition}]@{entry.offset}", style="bold")
    head.append(f"  {entry.status}")
    if entry.attempt > 1:
        head.append(f" (attempt {entry.attempt}, first seen at {entry.origin})")
    if entry.reprocessed is not None:
        head.append(f" -> {entry.reprocessed.republished}")
    lines: list[RenderableType] = [head]
    lines.append(
        Text(
            f"  from {s.topic}[{s.partition}]@{s.offset} published {_stamp(s.timestamp_ms)}, "
            f"dead-lettered {_stamp(int(letter.dead_lettered_at.timestamp() * 1000))}"
            + (
                f", X-Experience-API-Version: {letter.xapi_version_header}"
                if letter.xapi_version_header is not None
                else ""
            )
        )
    )
    for problem in letter.errors:
        line = Text("  ")
        line.append(problem.code, style="yellow")
        line.append(f"  {problem.path}  ")
        line.append(problem.message)
        lines.append(line)
    raw = letter.original()
    encoding, text = original_text(raw)
    cut = ""
    if max_chars is not None and len(text) > max_chars:
        text, cut = text[:max_chars], f" (first {max_chars:,} characters; --full shows all)"
    lines.append(Text(f"  original, {len(raw):,} bytes, {encoding}{cut}:", style="dim"))
    lines.append(Text("  " + text.replace("\n", "\n  ")))
    return Group(*lines)


def reprocess_report(report: ReprocessReport, statements_topic: str) -> str:
    verb = "would publish" if report.dry_run else "published"
    count = (
        len(report.sent)
        if not report.dry_run
        else report.selected
        - report.already_reprocessed
        - report.returned_skipped
        - report.truncated_skipped
    )
    codes = ", ".join(f"{c} {n}" for c, n in sorted(report.by_code.items())) or "none"
    lines = [
        f"{report.selected:,} dead letters selected; {verb} {count:,} to {statements_topic} "
        f"(by code: {codes})",
    ]
    if report.already_reprocessed:
        lines.append(f"  {report.already_reprocessed:,} skipped: reprocessed before")
    if report.returned_skipped:
        lines.append(
            f"  {report.returned_skipped:,} skipped: they came back after an earlier "
            "reprocess (still invalid); fix the cause, then use --retry to send them again"
        )
    if report.truncated_skipped:
        lines.append(
            f"  {report.truncated_skipped:,} skipped: only the first bytes of their original "
            "were kept (it was too large for the dead-letter topic); find it by the source, "
            "size and SHA-256 the letter gives (`skillstream dlq show --offset N`)"
        )
    if report.to_events:
        lines.append(
            f"  {report.to_events:,} of them went back to learning.events: the profile stage "
            "had failed on them"
        )
    if count and not report.dry_run:
        lines.append(
            "  the worker validates them again: valid ones flow on, invalid ones come "
            "back to the dead-letter topic with their errors (`skillstream dlq list`)"
        )
    return "\n".join(lines)


# --- status --------------------------------------------------------------------------------


def status_table(reading: Reading) -> RenderableType:
    since = (
        "rates: n/a (first reading; run again for rates)"
        if reading.previous_at is None
        else f"rates over the {reading.taken_at - reading.previous_at:,.0f}s since the last call"
    )
    table = Table(show_edge=False, pad_edge=False, caption=since)
    for column in ("group", "topic", "partition", "committed", "end", "lag", "done/s", "in/s"):
        table.add_column(column, justify="left" if column in ("group", "topic") else "right")
    for g in reading.groups:
        who = f"{g.role}: {g.group}"
        state = (
            f"state {g.state}, {g.members} member(s)" if g.state != "Dead" else "not started yet"
        )
        table.add_row(
            Text(who, style="bold"),
            Text(state, style="dim"),
            "all",
            "",
            "",
            Text(f"{g.lag:,}", style="bold red" if g.lag else "bold"),
            rate(g.done_rate),
            rate(g.in_rate),
        )
        for p in g.partitions:
            table.add_row(
                "",
                p.topic,
                str(p.partition),
                offset(p.committed),
                f"{p.end:,}",
                f"{p.lag:,}",
                rate(p.done_rate),
                rate(p.in_rate),
            )
    return table


# --- forget --------------------------------------------------------------------------------


def forget_report(report: ForgetReport, events_topic: str, profile_group: str) -> Iterable[str]:
    yield f"learner {report.learner}"
    yield (
        f"  ERASE record on {events_topic}[{report.erase_partition}]@{report.erase_offset}: "
        + (
            "applied (profile state deleted, and purged from the local files of the worker "
            "that applied it: RocksDB log flushed, key range compacted; tombstones on "
            "learner.profiles and the changelog)"
            if report.applied
            else (
                "pending: no worker is running; a worker applies it when it starts"
                if not report.workers_running
                else f"pending: group {profile_group} has not reached it yet"
            )
        )
    )
    yield (
        f"  {report.erased_topic}: erasure published "
        f"({report.erased_at.isoformat(timespec='milliseconds')}); the SQL sink deletes the "
        "learner's rows when it reads it"
    )
    if report.sql is None:
        yield "  SQL: not deleted directly (no database configured, or --no-sql)"
    elif report.sql.rows_deleted is None:
        yield f"  SQL {report.sql.database}: skipped ({report.sql.skipped})"
    else:
        yield f"  SQL {report.sql.database}: {report.sql.rows_deleted} row(s) deleted now"
    if report.remains:
        yield "not erased by this command: what stays where, and until when"
        for place in report.remains:
            yield from textwrap.wrap(
                f"{place.where}: {place.what}",
                width=100,
                initial_indent="  - ",
                subsequent_indent="    ",
                break_on_hyphens=False,
            )
            yield from textwrap.wrap(
                f"until: {place.until}",
                width=100,
                initial_indent="      ",
                subsequent_indent="      ",
                break_on_hyphens=False,
            )
