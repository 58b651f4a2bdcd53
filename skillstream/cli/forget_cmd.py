"""``skillstream forget``: erase a learner; logic in ``skillstream.operations.forget``."""

from __future__ import annotations

import asyncio

import typer

from skillstream.cli import err
from skillstream.settings import load_settings

FORGET_HELP = "\n\n".join(
    (
        "Erase a learner: profile state, compacted topics and SQL rows.",
        (
            "Name the learner as `skillstream learner-key` does: an e-mail address "
            "(ann@example.com or mailto:ann@example.com, exactly as the LMS sends it), "
            "an mbox_sha1sum (sha1:<40 hex digits>), account:<homePage>|<name>, an openid "
            "URI or a JSON Agent; or by key with --key lrn_…. The identifier is only used "
            "to compute the key and is never stored or sent."
        ),
        (
            "Steps: an ERASE record on learning.events keyed by the learner (applied in "
            "order by the worker: profile state deleted and purged from its local RocksDB "
            "files, log and older SST files included, tombstones on learner.profiles and "
            "the profile changelog); a wait until the worker applied it; a "
            "learner.erased event (key and time only) from which the SQL sink deletes the "
            "learner's rows for good; and, when a database is configured (or --sql), the "
            "same delete in SKILLSTREAM_DATABASE_URL right away, so queries stop returning "
            "the learner at once."
        ),
        (
            "Exit 1 when the worker has not applied the erasure yet (no worker running, "
            "or --timeout passed): it is applied when a worker gets there; run the same "
            "command again then, to also delete what was published meanwhile. The "
            "report ends with every place the command cannot reach and until when the "
            "learner stays there, from the topics' own settings: raw statements on "
            "xapi.statements and its dead letters until retention, older records of the "
            "compacted topics until Kafka's log cleaner runs, other workers' copies, the "
            "disks' freed blocks, webhook subscribers, backups (docs/operations.md)."
        ),
        (
            "[bold]Examples[/]: skillstream forget mailto:ann@example.com | skillstream "
            "forget 'account:https://lms.example.com|u00042' --no-sql | skillstream forget "
            "--key lrn_5q3v7m2k4w6xtzdabc3e5g7ink"
        ),
    )
)


def register(app: typer.Typer) -> None:
    @app.command("forget", help=FORGET_HELP)
    def forget(
        ifi: str | None = typer.Argument(
            None,
            metavar="LEARNER_IFI",
            help="E-mail address, mbox_sha1sum, account:<homePage>|<name>, openid URI or JSON Agent.",
        ),
        key: str | None = typer.Option(
            None, "--key", metavar="KEY", help="The learner key instead of an identifier."
        ),
        sql: bool | None = typer.Option(
            None,
            "--sql/--no-sql",
            help="Delete the SQL rows directly too (default: when a database is configured).",
            show_default=False,
        ),
        timeout: float = typer.Option(
            60.0, "--timeout", min=0, help="Seconds to wait for the worker to apply it."
        ),
        no_wait: bool = typer.Option(
            False, "--no-wait", help="Do not wait for the worker (same as --timeout 0)."
        ),
    ) -> None:
        from skillstream.operations.display import forget_report
        from skillstream.operations.forget import forget as erase
        from skillstream.operations.forget import learner_key
        from skillstream.operations.groups import profile_group

        settings = load_settings()
        learner = learner_key(ifi, key, settings.learner_secret_bytes)
        with err.status(f"erasing {learner}: waiting for the worker to apply it") as spinner:
            report = asyncio.run(
                erase(
                    settings,
                    learner,
                    sql=sql,
                    wait_s=0.0 if no_wait else timeout,
                    on_wait=lambda s: spinner.update(
                        f"erasing {learner}: waiting for the worker to apply it ({s:.0f}s)"
                    ),
                )
            )
        for line in forget_report(report, settings.topics.events, profile_group(settings).group):
            typer.echo(line)
        if not report.applied:
            err.print(
                "[yellow]the erasure is not applied yet[/]: once the workers have caught up, "
                f"run `skillstream forget --key {report.learner}` again so that anything "
                "published for the learner meanwhile is deleted too",
                highlight=False,
            )
            raise typer.Exit(1)
