"""``skillstream sink`` (the SQL and webhook sinks) and ``skillstream db`` (the sink database)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

import typer
from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler
from rich.text import Text

from sinks.base import Sink
from sinks.database import safe_url
from sinks.database import upgrade as upgrade_database
from sinks.runner import Progress, SinkRunner, reset_group, sink_group
from sinks.sql import SqlSink
from sinks.webhook import DeliveryPolicy, WebhookSink
from skillstream.config import load_rules
from skillstream.errors import UsageError
from skillstream.settings import Settings, load_settings

_UNTIL_CAUGHT_UP = typer.Option(
    False,
    "--until-caught-up",
    help="Stop once every record published so far is handled (lag 0), instead of running on.",
)
_GROUP = typer.Option(
    None,
    "--group",
    metavar="GROUP",
    help="Consumer group to commit in (default: <SKILLSTREAM_GROUP_ID>-sink-<sink>). "
    "A new group starts from the earliest offset.",
)


def _paragraphs(*paragraphs: str) -> str:
    """Help text: paragraphs apart, each one line, so the terminal (not the source) wraps them."""
    return "\n\n".join(paragraphs)


SINK_HELP = _paragraphs(
    "Sinks: career milestones (and profiles) from Kafka into a database or to webhooks.",
    (
        "Each sink reads in its own consumer group, in batches, and commits offsets "
        "only once a batch is durable (written, delivered, or on "
        "career.milestones.dlq). Stop one with Ctrl-C or SIGTERM: what was not "
        "committed is read again at the next start, and the sinks are idempotent, so "
        "nothing is lost or written twice. Guide: docs/sinks.md."
    ),
)

SQL_HELP = _paragraphs(
    "Write milestones and the newest profile per learner to SQLite or PostgreSQL.",
    (
        "[bold]Consumes[/] career.milestones, learner.profiles (snapshots and "
        "tombstones) and learner.erased, in consumer group [bold]<group_id>-sink-sql[/] "
        "(skillstream-sink-sql by default; SKILLSTREAM_GROUP_ID sets the prefix)."
    ),
    (
        "[bold]Writes[/] the tables milestones (one row per milestone id) and "
        "learner_profiles (one row per learner, newest as_of wins); an erasure deletes "
        "the learner's rows. The database is SKILLSTREAM_DATABASE_URL (default "
        "sqlite:///.local/skillstream.db; PostgreSQL: "
        "postgresql+psycopg://user:password@host:5432/db). Create or migrate its tables "
        "first with `skillstream db upgrade`, or pass --upgrade."
    ),
    (
        "[bold]Replay[/] (say after restoring a database): stop the sink, then "
        "`skillstream sink reset sql` and start it again, or start it once with --group "
        "NEW-GROUP. Writes are idempotent upserts: a replay leaves rows as they are."
    ),
    (
        "If the database goes down while running, the sink waits and retries with "
        "backoff, committing nothing meanwhile. Unreadable records go to "
        "career.milestones.dlq. Exit 3: Kafka or the database cannot be reached at "
        "start."
    ),
    (
        "[bold]Examples[/]: skillstream sink sql --upgrade | "
        "SKILLSTREAM_DATABASE_URL=postgresql+psycopg://sink:…@db:5432/skillstream "
        "skillstream sink sql | skillstream sink sql --until-caught-up"
    ),
)

WEBHOOK_HELP = _paragraphs(
    "POST each milestone, signed, to the subscribers in SKILLSTREAM_WEBHOOKS.",
    (
        "[bold]Consumes[/] career.milestones in consumer group "
        "[bold]<group_id>-sink-webhook[/] (skillstream-sink-webhook by default; "
        "SKILLSTREAM_GROUP_ID sets the prefix)."
    ),
    (
        '[bold]Subscribers[/]: SKILLSTREAM_WEBHOOKS=\'[{"name": "crm", "url": '
        '"https://…", "secret": "…", "kinds": ["role_ready"], "skills": []}]\' (empty '
        "filters = all). Each request is a CloudEvent (application/cloudevents+json) "
        "with the headers Skillstream-Signature (t=<unix>,v1=<HMAC-SHA256 hex of "
        '"<t>.<body>">) and Skillstream-Event-Id; receivers verify the signature and '
        "drop ids they have seen (docs/sinks.md has a receiver to copy)."
    ),
    (
        "[bold]Retries[/]: timeouts, connection errors, 408, 429 and 5xx, with backoff "
        "and Retry-After, until SKILLSTREAM_SINKS__WEBHOOK_MAX_ELAPSED_S seconds (default "
        "60) after the milestone's first attempt; then, or at once for other 4xx, the "
        "milestone goes to career.milestones.dlq and the stream goes on."
    ),
    (
        "[bold]Replay[/]: stop the sink, `skillstream sink reset webhook`, start it "
        "again (subscribers receive the milestones again and drop the ids they have "
        "seen)."
    ),
    (
        '[bold]Example[/]: SKILLSTREAM_WEBHOOKS=\'[{"name": "crm", "url": '
        '"https://crm.example.com/hooks/skillstream", "secret": "…", "kinds": '
        '["role_ready"]}]\' skillstream sink webhook'
    ),
)

UPGRADE_HELP = _paragraphs(
    "Create the SQL sink's tables, or migrate them to this version's schema (Alembic).",
    (
        "The database is SKILLSTREAM_DATABASE_URL (default sqlite:///.local/skillstream.db, "
        "whose folder is created). Safe to run again: an up-to-date database is left as it is."
    ),
    (
        "[bold]Examples[/]: skillstream db upgrade | "
        "SKILLSTREAM_DATABASE_URL=postgresql+psycopg://sink:…@db:5432/skillstream "
        "skillstream db upgrade"
    ),
)

RESET_HELP = _paragraphs(
    "Move a stopped sink's consumer group back to the start of its topics (or to the end).",
    (
        "Kafka refuses while the sink runs: stop it first. `--to earliest` (the "
        "default) replays everything the topics still hold; `--to latest` skips all "
        "records published so far."
    ),
    "[bold]Examples[/]: skillstream sink reset sql | skillstream sink reset webhook --to latest",
)


def _settings() -> Settings:
    return load_settings()


def _label(progress: Progress, rate: float) -> Text:
    line = Text()
    line.append(f"sink {progress.sink}", style="bold")
    line.append(f" [{progress.group}]  ", style="dim")
    line.append(f"consumed {progress.consumed:,}  written {progress.written:,}")
    if progress.sink == "webhook":
        line.append(f"  deliveries {progress.deliveries:,}")
    line.append("  dead-lettered ")
    line.append(f"{progress.dead_lettered:,}", style="red" if progress.dead_lettered else "")
    lag = "?" if progress.lag is None else f"{progress.lag:,}"
    line.append(f"  lag {lag}  {rate:,.0f} rec/s  up {progress.elapsed_s:,.0f}s")
    if progress.waiting:
        line.append(f"\n  waiting: {progress.waiting}", style="yellow")
    return line


class _StatusLine:
    """A live status line on a terminal. Elsewhere (a log file, a pipe): a line at once when the
    sink starts, starts or stops waiting for a service, or catches up; otherwise at most one
    every ``every_s`` seconds while the figures change; and the newest figures once more at
    exit, so the last line written is never stale. The rate is over the last ``window_s``
    seconds. ``clock`` is injected so that nothing depends on the host's uptime."""

    def __init__(
        self,
        console: Console,
        every_s: float = 10.0,
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console
        self._every_s = every_s
        self._window_s = window_s
        self._clock = clock
        self._last_print: float | None = None
        self._printed: tuple[object, ...] | None = None
        self._pending: tuple[Text, tuple[object, ...]] | None = None
        self._last_state = (False, False)
        self._samples: deque[tuple[float, int]] = deque()
        self._live: Live | None = None

    def __enter__(self) -> _StatusLine:
        if self._console.is_terminal:
            self._live = Live(
                Text("starting…"), console=self._console, refresh_per_second=4, transient=False
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
        elif self._pending is not None:
            self._print(*self._pending, self._clock())

    def _rate(self, now: float, consumed: int) -> float:
        self._samples.append((now, consumed))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._window_s:
            self._samples.popleft()
        first_time, first_count = self._samples[0]
        return (consumed - first_count) / (now - first_time) if now > first_time else 0.0

    def _print(self, label: Text, figures: tuple[object, ...], now: float) -> None:
        self._console.print(label, highlight=False)
        self._last_print = now
        self._printed = figures
        self._pending = None

    def __call__(self, progress: Progress) -> None:
        now = self._clock()
        label = _label(progress, self._rate(now, progress.consumed))
        if self._live is not None:
            self._live.update(label)
            return
        figures = (
            progress.consumed,
            progress.written,
            progress.deliveries,
            progress.dead_lettered,
            progress.lag,
            progress.waiting,
        )
        state = (progress.waiting is not None, progress.caught_up)
        changed = state != self._last_state
        self._last_state = state
        if self._last_print is None or changed:
            self._print(label, figures, now)
        elif figures == self._printed:
            self._pending = None
        elif now - self._last_print >= self._every_s:
            self._print(label, figures, now)
        else:
            self._pending = (label, figures)


def _run(sink: Sink, settings: Settings, group: str | None, until_caught_up: bool) -> None:
    console = Console(stderr=True, soft_wrap=True)
    logger = logging.getLogger("skillstream.sinks")
    if not logger.handlers:
        logger.addHandler(RichHandler(console=console, show_path=False, markup=False))
        logger.setLevel(logging.INFO)
        logger.propagate = False
    with _StatusLine(console) as status:
        runner = SinkRunner(
            sink,
            settings,
            group_id=group,
            until_caught_up=until_caught_up,
            on_progress=status,
            handle_signals=True,
        )
        progress = asyncio.run(runner.run())
    how = (
        "caught up"
        if progress.caught_up
        else ("stopped by signal" if progress.stopped_by_signal else "stopped")
    )
    typer.echo(
        f"sink {progress.sink} {how}: consumed {progress.consumed}, written {progress.written}, "
        f"dead-lettered {progress.dead_lettered} in {progress.elapsed_s:.1f}s "
        f"(group {progress.group})"
    )


def register(app: typer.Typer) -> None:
    sink = typer.Typer(help=SINK_HELP, no_args_is_help=True, rich_markup_mode="rich")
    app.add_typer(sink, name="sink")
    db = typer.Typer(
        help="The SQL sink's database: create or migrate its tables.",
        no_args_is_help=True,
    )
    app.add_typer(db, name="db")

    @sink.command("sql", help=SQL_HELP)
    def sql(
        until_caught_up: bool = _UNTIL_CAUGHT_UP,
        group: str | None = _GROUP,
        upgrade: bool = typer.Option(
            False, "--upgrade", help="Create or migrate the tables first (`db upgrade`)."
        ),
    ) -> None:
        settings = _settings()
        if upgrade:
            upgrade_database(settings.database_url)
        _run(SqlSink(settings.database_url), settings, group, until_caught_up)

    @sink.command("webhook", help=WEBHOOK_HELP)
    def webhook(until_caught_up: bool = _UNTIL_CAUGHT_UP, group: str | None = _GROUP) -> None:
        settings = _settings()
        if settings.rules_file is not None:  # kinds a deployment added, for the filters
            load_rules(settings.rules_file)
        policy = DeliveryPolicy.from_settings(settings.sinks)
        _run(WebhookSink(settings.webhooks, policy), settings, group, until_caught_up)

    @sink.command("reset", help=RESET_HELP)
    def reset(
        name: str = typer.Argument(..., metavar="SINK", help="sql or webhook"),
        to: str = typer.Option("earliest", "--to", help="earliest or latest"),
        group: str | None = _GROUP,
    ) -> None:
        feeds = {"sql": SqlSink.feeds, "webhook": WebhookSink.feeds}
        if name not in feeds:
            raise UsageError(f"unknown sink {name!r}: choose sql or webhook")
        if to not in ("earliest", "latest"):
            raise UsageError(f"--to {to!r}: choose earliest or latest")
        settings = _settings()
        group_id = group or sink_group(settings, name)
        offsets = asyncio.run(reset_group(settings, group_id, feeds[name], to))
        for partition, offset in offsets.items():
            typer.echo(f"{partition}\t{offset}")
        typer.echo(f"group {group_id} reset to {to}; start the sink to read from there")

    @db.command("upgrade", help=UPGRADE_HELP)
    def upgrade() -> None:
        settings = _settings()
        before, after = upgrade_database(settings.database_url)
        where = safe_url(settings.database_url)
        if before == after:
            typer.echo(f"database {where} is up to date (schema revision {after})")
        else:
            typer.echo(f"database {where}: schema revision {before or 'none'} -> {after}")
