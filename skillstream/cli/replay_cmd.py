"""``skillstream replay``: rewind ingest, rebuild profile state, follow a replay's progress.

The logic is in ``skillstream.operations.replay``; this module parses the
options and shows plans and progress.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from skillstream.cli import err
from skillstream.errors import UsageError
from skillstream.settings import Settings, load_settings

if TYPE_CHECKING:
    from skillstream.operations.replay import FollowUpdate, ReplayPlan


def _paragraphs(*paragraphs: str) -> str:
    return "\n\n".join(paragraphs)


REPLAY_HELP = _paragraphs(
    "Read input again: rewind the ingest stage to a time, or rebuild all profile state.",
    (
        "[bold]--from TIMESTAMP|earliest[/]: moves the ingest group (<group_id>-ingest) "
        "on xapi.statements back to the first record published at or after TIMESTAMP "
        "(earliest: the beginning). Use it after an outage or a crash, or after fixing "
        "the ingest side (a vocabulary or catalog that skipped statements). Statements "
        "already applied are recognised by the profile stage and skipped: nothing is "
        "emitted twice, what was missed is applied. TIMESTAMP is ISO 8601 "
        "(2026-03-01T14:30:00Z; UTC without a zone) or a time ago (2h, 3d). For a span "
        "longer than the profiles remember (evidence_cap + dedupe_memory statements per "
        "learner), use --rebuild."
    ),
    (
        "[bold]--rebuild[/]: recomputes every profile from the input, e.g. after a rule "
        "change. The profile changelog (<group_id>-profiles-changelog) is deleted and "
        "created again empty, the profile group (<group_id>) moves to the end of "
        "learning.events and the ingest group to the beginning of xapi.statements. Each "
        "worker then finds its local state outdated (epoch mismatch) and starts empty "
        "on its own; --local-state DIR deletes a local state folder now. Milestones "
        "already published come again with the same ids (sinks keep one per id), new "
        "ones appear."
    ),
    (
        "Both refuse (exit 2) while any worker group has a member: stop the workers "
        "first, start them again afterwards. --dry-run shows every change without "
        "making it; --wait follows the replay per partition until both stages caught "
        "up (alone, it follows a replay in progress)."
    ),
    (
        "[bold]Examples[/]: skillstream replay --from 2026-03-01T08:00:00Z --dry-run | "
        "skillstream replay --from earliest --wait | skillstream replay --rebuild "
        "--local-state /var/lib/skillstream | skillstream replay --wait --timeout 600"
    ),
)


def _progress_for(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        console=console,
        transient=False,
    )


class _FollowView:
    """One bar per group and partition: committed offset against the offset to reach."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.header = progress.add_task("starting…", total=None)
        self.tasks: dict[tuple[str, int], TaskID] = {}

    def __call__(self, update: FollowUpdate) -> None:
        members = sum(update.members.values())
        self.progress.update(
            self.header,
            description=(
                f"{members} worker group member(s); {update.remaining():,} records to go"
                if members
                else "no worker is running: start `skillstream worker` to replay"
            ),
        )
        for p in update.partitions:
            key = (p.role, p.partition)
            total = max(p.goal - p.start, 0)
            done = min(max(p.position - p.start, 0), total)
            if total == 0:
                total = done = 1
            label = f"{p.role:>8} {p.topic}[{p.partition}] at {p.position:,} of {p.goal:,}"
            if key not in self.tasks:
                self.tasks[key] = self.progress.add_task(label, total=total, completed=done)
            else:
                self.progress.update(
                    self.tasks[key], description=label, total=total, completed=done
                )


def _follow(settings: Settings, timeout: float | None) -> None:
    from skillstream.operations.replay import follow

    with _progress_for(err) as progress:
        view = _FollowView(progress)
        try:
            final = asyncio.run(follow(settings, on_update=view, timeout_s=timeout))
        except KeyboardInterrupt:
            err.print("stopped following; the replay goes on in the workers")
            raise typer.Exit(130) from None
    err.print(
        f"caught up in {final.elapsed_s:,.0f}s: ingest and profiles have handled "
        "everything the replay had to read"
    )


def _check(
    from_: str | None,
    rebuild: bool,
    local_state: list[Path],
    dry_run: bool,
    wait: bool,
    timeout: float | None,
) -> None:
    if from_ is not None and rebuild:
        raise UsageError(
            "--from and --rebuild are two kinds of replay: choose one "
            "(--rebuild always starts from the beginning)"
        )
    if from_ is None and not rebuild and not wait:
        raise UsageError(
            "say what to replay: --from TIMESTAMP|earliest (rewind ingest), --rebuild "
            "(recompute every profile), or --wait (follow a replay in progress); see "
            "`skillstream replay --help`"
        )
    if local_state and not rebuild:
        raise UsageError("--local-state goes with --rebuild")
    if dry_run and wait:
        raise UsageError("--dry-run changes nothing, so there is nothing to --wait for")
    if timeout is not None and not wait:
        raise UsageError("--timeout limits --wait: give both, or neither")


def _show_plan(plan: ReplayPlan, settings: Settings, dry_run: bool) -> None:
    from skillstream.operations import display

    out = Console(soft_wrap=True)
    what = "would change" if dry_run else "changes"
    out.print(f"replay ({plan.mode}) {what}:", highlight=False)
    out.print(display.replay_plan(plan))
    warning = display.erasure_warning(plan, settings.topics.erased)
    if warning is not None:
        err.print(f"[yellow]{warning}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("replay", help=REPLAY_HELP)
    def replay(
        from_: str | None = typer.Option(
            None,
            "--from",
            metavar="TIMESTAMP|earliest",
            help="Rewind ingest to this record time: earliest, ISO 8601, or 2h / 3d ago.",
        ),
        rebuild: bool = typer.Option(
            False, "--rebuild", help="Recompute all profile state from the beginning."
        ),
        local_state: list[Path] | None = typer.Option(
            None,
            "--local-state",
            metavar="DIR",
            help="With --rebuild: also delete this worker's local profile state "
            "(its SKILLSTREAM_DATA_DIR, or DIR/profiles). Repeatable.",
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Show what would change; change nothing."
        ),
        wait: bool = typer.Option(
            False, "--wait", help="Follow the replay until ingest and profiles caught up."
        ),
        timeout: float | None = typer.Option(
            None, "--timeout", min=1, help="With --wait: give up after this many seconds (exit 1)."
        ),
        yes: bool = typer.Option(
            False, "--yes", "-y", help="Do not ask before a rebuild (asked only on a terminal)."
        ),
    ) -> None:
        from skillstream.operations import display
        from skillstream.operations.replay import execute, plan_from, plan_rebuild
        from skillstream.operations.when import parse_start

        states = list(local_state or [])
        _check(from_, rebuild, states, dry_run, wait, timeout)
        settings = load_settings()
        plan = None
        if from_ is not None:
            try:
                start = parse_start(from_)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            plan = asyncio.run(plan_from(settings, start))
        elif rebuild:
            plan = asyncio.run(plan_rebuild(settings, states))
        if plan is not None:
            _show_plan(plan, settings, dry_run)
            if dry_run:
                err.print("dry run: nothing was changed")
                return
            if plan.mode == "rebuild" and not yes and sys.stdin.isatty():
                typer.confirm(
                    "Delete the profile changelog and rebuild every profile from the input?",
                    abort=True,
                )
            with err.status("replay: starting") as spinner:

                def on_step(text: str) -> None:
                    spinner.update(f"replay: {text}")
                    err.print(f"  {text}", highlight=False)

                asyncio.run(execute(settings, plan, on_step))
            err.print(display.replay_done(plan), highlight=False)
        if wait:
            _follow(settings, timeout)
