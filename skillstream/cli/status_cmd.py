"""``skillstream status``: positions, lag and rates of every stage; logic in
``skillstream.operations.status``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import typer
from rich.console import Console

from skillstream.cli import err
from skillstream.settings import load_settings

STATUS_HELP = "\n\n".join(
    (
        "Where each stage stands: committed offset, end offset, lag and rates, per "
        "consumer group and partition.",
        (
            "Groups: ingest (<group_id>-ingest on xapi.statements), profiles (<group_id> "
            "on learning.events), and the sinks (<group_id>-sink-sql, "
            "<group_id>-sink-webhook) once they have run. done/s is how fast a group "
            "commits, in/s how fast its topic grows, both since the previous call: the "
            "reading is kept in SKILLSTREAM_DATA_DIR/status.json (or --state-file), so "
            "the first call says n/a. Use it to see whether workers keep up (lag falling "
            "or steady) and how far a replay has come."
        ),
        "[bold]Examples[/]: skillstream status | watch -n 10 skillstream status | "
        "skillstream status --json",
    )
)


def register(app: typer.Typer) -> None:
    @app.command("status", help=STATUS_HELP)
    def status(
        as_json: bool = typer.Option(False, "--json", help="Print the reading as JSON."),
        state_file: Path | None = typer.Option(
            None,
            "--state-file",
            metavar="FILE",
            help="Where the previous reading is kept (default SKILLSTREAM_DATA_DIR/status.json).",
        ),
    ) -> None:
        from skillstream.operations.display import status_table
        from skillstream.operations.status import status as read_status

        settings = load_settings()
        reading, kept = asyncio.run(read_status(settings, state_file))
        if as_json:
            typer.echo(orjson.dumps(reading.report(), option=orjson.OPT_INDENT_2).decode())
        else:
            Console(soft_wrap=True).print(status_table(reading))
        if not kept:
            err.print(
                "note: could not keep this reading for the next call's rates "
                "(is SKILLSTREAM_DATA_DIR writable? --state-file chooses another file)"
            )
