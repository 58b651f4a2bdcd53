"""``skillstream topics``: create skillstream's topics."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console
from rich.table import Table

from skillstream.kafka_io import check_kafka
from skillstream.settings import load_settings
from skillstream.topics import create_topics, plan


def register(app: typer.Typer) -> None:
    topics = typer.Typer(help="Kafka topics skillstream reads and writes.", no_args_is_help=True)
    app.add_typer(topics, name="topics")

    @topics.command("create")
    def create() -> None:
        """Create every topic with its partitions and compaction; existing topics are kept.

        Partitions come from SKILLSTREAM_TOPICS__PARTITIONS (default 4); the
        catalog has one partition and, like learner.profiles, is compacted.

        Examples: skillstream topics create | SKILLSTREAM_TOPICS__PARTITIONS=12
        SKILLSTREAM_TOPICS__REPLICATION_FACTOR=3 skillstream topics create
        """
        settings = load_settings()
        check_kafka(settings)
        result = asyncio.run(create_topics(settings.kafka, settings.topics))
        table = Table("topic", "partitions", "config", "status")
        for p in plan(settings.topics):
            config = ",".join(f"{k}={v}" for k, v in p.config.items()) or "-"
            table.add_row(p.name, str(p.partitions), config, result.get(p.name, "?"))
        Console().print(table)
