"""``skillstream worker``: run the stream processors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from skillstream.config import load_rules, load_vocabulary, output_folder
from skillstream.kafka_io import check_kafka
from skillstream.settings import load_settings
from skillstream.topics import changelog_plan, create_topics


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
    ) -> None:
        """Run the stream processors until stopped (Ctrl-C or SIGTERM).

        One worker runs ingest (xapi.statements -> learning.events, invalid
        statements to xapi.statements.dlq), the profile agent (learning.events ->
        profile table -> career.milestones and learner.profiles) and follows the
        skills catalog. Start more workers with the same SKILLSTREAM_GROUP_ID (and
        their own SKILLSTREAM_DATA_DIR and --web-port) to share the partitions.
        Missing topics are created first. State lives in SKILLSTREAM_DATA_DIR.

        Examples: skillstream worker | SKILLSTREAM_DATA_DIR=/var/lib/skillstream/w2
        skillstream worker --web-port 6067 | skillstream worker --stages ingest
        --web-port 6067 & skillstream worker --stages profiles --web-port 6068
        """
        import faust

        from schemas.topology import changelog_topic
        from skillstream.logs import logging_config
        from skillstream.worker import Runtime, create_app

        overrides: dict[str, object] = {}
        if web_port is not None:
            overrides["worker_web_port"] = web_port
        if stages is not None:
            if stages not in ("all", "ingest", "profiles"):
                raise typer.BadParameter(
                    f"{stages!r}: choose all, ingest or profiles", param_hint="--stages"
                )
            overrides["worker_stages"] = stages
        settings = load_settings(**overrides)
        rules_model = load_rules(rules or settings.rules_file)
        vocab = load_vocabulary(vocabulary or settings.vocabulary_file)
        output_folder(settings.data_dir, "SKILLSTREAM_DATA_DIR")
        check_kafka(settings)
        changelog = changelog_plan(changelog_topic(settings.group_id), settings.topics)
        asyncio.run(create_topics(settings.kafka, settings.topics, (changelog,)))
        runtime = Runtime(settings, rules_model, vocab)
        faust_app = create_app(runtime)
        faust.Worker(
            faust_app,
            loglevel=settings.log_level.lower(),
            logging_config=logging_config(settings),
            quiet=True,
        ).execute_from_commandline()
