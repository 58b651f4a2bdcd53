"""``skillstream worker``: run the stream processors."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import typer

from skillstream.config import load_rules, load_vocabulary, output_folder
from skillstream.kafka_io import check_kafka
from skillstream.settings import Settings, load_settings
from skillstream.topics import changelog_plan, create_topics
from skillstream.worker_pool import (
    WorkerPool,
    follow_pool,
    process_data_dir,
    worker_command,
)


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        rules: Path | None = typer.Option(
            None,
            "--rules",
            help="Milestone rules file (default: SKILLSTREAM_RULES_FILE or the built-in rules).",
        ),
        vocabulary: Path | None = typer.Option(
            None, "--vocabulary", help="Verb/activity-type vocabulary file (extends the defaults)."
        ),
        web_port: int | None = typer.Option(
            None, "--web-port", help="Port of the worker's HTTP endpoint (default 6066)."
        ),
        stages: str | None = typer.Option(
            None,
            "--stages",
            help="all (default), ingest or profiles: run one stage per process to use two "
            "cores (give each its own --web-port).",
        ),
        processes: int | None = typer.Option(
            None,
            "--processes",
            min=1,
            max=256,
            help="Worker processes to run, in one consumer group (default: "
            "SKILLSTREAM_WORKER_PROCESSES, else one per core). Process i>0 keeps its state "
            "in DATA_DIR/process-i and serves on web port + i.",
        ),
    ) -> None:
        """Run the stream processors until stopped (Ctrl-C or SIGTERM).

        A worker process runs ingest (xapi.statements -> learning.events, invalid
        statements to xapi.statements.dlq), the profile stage (learning.events ->
        profile table -> career.milestones and learner.profiles) and follows the
        skills catalog. By default one process per core runs, all in one consumer
        group, so the partitions are shared among them; a process that dies is
        started again. Workers on other machines with the same SKILLSTREAM_GROUP_ID
        join the same group. Missing topics are created first. State lives in
        SKILLSTREAM_DATA_DIR.

        Examples: skillstream worker | skillstream worker --processes 1 |
        SKILLSTREAM_DATA_DIR=/var/lib/skillstream/w2 skillstream worker --web-port 6070
        """
        import faust

        from schemas.topology import changelog_topic
        from skillstream.logs import logging_config
        from skillstream.worker import Runtime, create_app
        from streams.restore import cores

        follow_pool()

        overrides: dict[str, object] = {}
        if web_port is not None:
            overrides["worker_web_port"] = web_port
        if stages is not None:
            if stages not in ("all", "ingest", "profiles"):
                raise typer.BadParameter(
                    f"{stages!r}: choose all, ingest or profiles", param_hint="--stages"
                )
            overrides["worker_stages"] = stages
        if processes is not None:
            overrides["worker_processes"] = processes
        settings = load_settings(**overrides)
        rules_model = load_rules(rules or settings.rules_file)
        vocab = load_vocabulary(vocabulary or settings.vocabulary_file)
        output_folder(settings.data_dir, "SKILLSTREAM_DATA_DIR")
        check_kafka(settings)
        changelog = changelog_plan(changelog_topic(settings.group_id), settings.topics)
        asyncio.run(create_topics(settings.kafka, settings.topics, (changelog,)))
        count = settings.worker_processes or cores()
        if count > 1:
            options = [
                f"--{name}={value}"
                for name, value in (("rules", rules), ("vocabulary", vocabulary))
                if value is not None
            ]
            raise typer.Exit(run_pool(settings, count, options))
        runtime = Runtime(settings, rules_model, vocab)
        faust_app = create_app(runtime)
        runtime.watch_collector()
        faust.Worker(
            faust_app,
            loglevel=settings.log_level.lower(),
            logging_config=logging_config(settings),
            quiet=True,
        ).execute_from_commandline()


def run_pool(settings: Settings, count: int, options: list[str]) -> int:
    """Run ``count`` worker processes (``skillstream.worker_pool``) until stopped."""
    from skillstream.logs import setup_logging

    setup_logging(settings)
    log = logging.getLogger("skillstream.worker")
    partitions = len(asyncio.run(settings.kafka.partitions(settings.topics.events)) or ())
    if count > partitions:
        log.warning(
            "%d processes for %d partitions of %s: %d of them will have nothing to do",
            count,
            partitions,
            settings.topics.events,
            count - partitions,
        )
    log.info("starting %d worker processes", count)

    def env_of(index: int) -> dict[str, str]:
        return {
            "SKILLSTREAM_DATA_DIR": str(process_data_dir(settings.data_dir, index)),
            "SKILLSTREAM_WORKER_WEB_PORT": str(settings.worker_web_port + index),
            "SKILLSTREAM_WORKER_STAGES": settings.worker_stages,
        }

    return WorkerPool(worker_command(options), count, env_of).run()
