"""``skillstream dlq``: inspect the statements dead-letter topic and send fixed records again.

The logic is in ``skillstream.operations.dlq``; this module parses the
options and prints.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from skillstream.cli import err
from skillstream.errors import UsageError
from skillstream.settings import Settings, load_settings

if TYPE_CHECKING:
    from skillstream.operations.dlq import Contents, Selection


def _paragraphs(*paragraphs: str) -> str:
    return "\n\n".join(paragraphs)


DLQ_HELP = _paragraphs(
    "Dead letters: statements that failed validation, kept whole with every error.",
    (
        "The worker puts every invalid record on xapi.statements.dlq with its original "
        "bytes, each error (code, JSON path, message) and where it came from. Start with "
        "`skillstream dlq list`, look at records with `skillstream dlq show --code CODE`, "
        "fix the cause, then `skillstream dlq reprocess --code CODE`."
    ),
)

LIST_HELP = _paragraphs(
    "Count dead letters by error code and by the JSON path of their first error.",
    (
        "Also says how many are waiting, were reprocessed already, or came back after a "
        "reprocess. Use it to see what goes wrong most and which --code to look at."
    ),
    "[bold]Example[/]: skillstream dlq list",
)

SHOW_HELP = _paragraphs(
    "Show dead letters: their errors, where they came from, and the original record.",
    (
        "The original is printed as text when it is UTF-8, else as base64. Filter with "
        "--code (repeatable), --partition and --offset (one record); --limit caps how "
        "many are shown, in topic order. --json prints one JSON object per line."
    ),
    (
        "[bold]Examples[/]: skillstream dlq show --code ifi --limit 5 | skillstream dlq "
        "show --partition 2 --offset 41 --full"
    ),
)

REPROCESS_HELP = _paragraphs(
    "Publish the original bytes of dead letters to xapi.statements again, after a fix.",
    (
        "Use it once the cause is fixed: an LMS sent a wrong X-Experience-API-Version "
        "header (give the right one with --xapi-version), or a setting the validator "
        "uses (SKILLSTREAM_XAPI_VERSION) was wrong and the workers now run with the right "
        "one. Records are keyed by learner as `skillstream publish` does and keep the "
        "version header they came with; the worker validates them again. Valid ones flow "
        "on; invalid ones come back to the dead-letter topic with their errors."
    ),
    (
        "Select with --code (repeatable), --partition/--offset (one record) or --all. "
        "What was reprocessed is remembered on the compacted topic "
        "xapi.statements.dlq.reprocessed, so a record is never published twice; records "
        "that came back after a reprocess are skipped unless --retry. --dry-run counts "
        "without publishing."
    ),
    (
        "[bold]Examples[/]: skillstream dlq reprocess --code version --xapi-version "
        "2.0.0 | skillstream dlq reprocess --partition 0 --offset 17 | skillstream dlq "
        "reprocess --all --dry-run"
    ),
)

_CODE = typer.Option(
    None, "--code", metavar="CODE", help="Only records with an error of this code. Repeatable."
)
_PARTITION = typer.Option(None, "--partition", min=0, help="Only this partition of the DLQ.")
_OFFSET = typer.Option(None, "--offset", min=0, help="Only the record at this offset.")


def _read(settings: Settings) -> Contents:
    from skillstream.operations.dlq import read_contents

    with Progress(
        TextColumn("[bold]reading {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(settings.topics.statements_dlq, total=None)
        return asyncio.run(
            read_contents(
                settings, lambda done, total: progress.update(task, completed=done, total=total)
            )
        )


def _selection(
    codes: list[str] | None, partition: int | None, offset: int | None, every: bool
) -> Selection:
    from skillstream.operations.dlq import Selection

    return Selection(tuple(codes or ()), partition, offset, every)


def register(app: typer.Typer) -> None:
    dlq = typer.Typer(help=DLQ_HELP, no_args_is_help=True, rich_markup_mode="rich")
    app.add_typer(dlq, name="dlq")

    @dlq.command("list", help=LIST_HELP)
    def list_() -> None:
        from skillstream.operations.display import dlq_summary
        from skillstream.operations.dlq import summarize

        settings = load_settings()
        contents = _read(settings)
        Console(soft_wrap=True).print(dlq_summary(summarize(contents)))

    @dlq.command("show", help=SHOW_HELP)
    def show(
        code: list[str] | None = _CODE,
        partition: int | None = _PARTITION,
        offset: int | None = _OFFSET,
        limit: int = typer.Option(20, "--limit", min=1, help="Show at most this many."),
        full: bool = typer.Option(False, "--full", help="Do not shorten long originals."),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    ) -> None:
        from skillstream.operations.display import dlq_entry
        from skillstream.operations.dlq import check_selection, entry_json, select

        settings = load_settings()
        contents = _read(settings)
        selection = check_selection(contents, _selection(code, partition, offset, False))
        matches = select(contents, selection)
        out = Console(soft_wrap=True, highlight=False)
        for entry in matches[:limit]:
            if as_json:
                typer.echo(orjson.dumps(entry_json(entry, contents.topic)).decode())
            else:
                out.print(dlq_entry(entry, contents.topic, None if full else 2000))
                out.print()
        shown = min(limit, len(matches))
        more = (
            f"; {len(matches) - shown:,} more (raise --limit or narrow)"
            if len(matches) > shown
            else ""
        )
        err.print(f"{shown:,} of {len(matches):,} matching dead letters shown{more}")

    @dlq.command("reprocess", help=REPROCESS_HELP)
    def reprocess(
        code: list[str] | None = _CODE,
        partition: int | None = _PARTITION,
        offset: int | None = _OFFSET,
        every: bool = typer.Option(False, "--all", help="Every dead letter not reprocessed yet."),
        retry: bool = typer.Option(
            False, "--retry", help="Also send records that came back after a reprocess."
        ),
        xapi_version: str | None = typer.Option(
            None,
            "--xapi-version",
            metavar="VERSION",
            help="Publish with this X-Experience-API-Version header instead of the recorded one.",
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="Count; publish nothing."),
    ) -> None:
        from skillstream.operations import dlq as ops
        from skillstream.operations.display import reprocess_report

        selection = _selection(code, partition, offset, every)
        if selection.empty:
            raise UsageError(
                "say which dead letters to reprocess: --code CODE, --partition P --offset O, "
                "or --all (see `skillstream dlq list`)"
            )
        if every and (code or partition is not None or offset is not None):
            raise UsageError("--all means every dead letter: leave out --code/--partition/--offset")
        ops.check_version(xapi_version)
        settings = load_settings()
        contents = _read(settings)
        entries = ops.select(contents, ops.check_selection(contents, selection))
        with Progress(
            TextColumn("[bold]reprocess"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task("records", total=len(entries))
            report = asyncio.run(
                ops.reprocess(
                    settings,
                    contents,
                    entries,
                    version=xapi_version,
                    retry=retry,
                    dry_run=dry_run,
                    on_sent=lambda n: progress.advance(task, n),
                )
            )
        typer.echo(reprocess_report(report, settings.topics.statements))
