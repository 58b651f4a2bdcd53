"""``skillstream catalog``: publish the skills catalog."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from skillstream.cli import err
from skillstream.config import SAMPLE_CATALOG, load_catalog_file
from skillstream.kafka_io import check_kafka, producer, read_to_end
from skillstream.settings import Settings, load_settings
from skillstream.topics import create_topics


async def publish_catalog(settings: Settings, path: Path) -> tuple[int, int]:
    """Make the catalog topic equal to the file: put every item, tombstone the rest.

    Returns (items written, items removed). Workers apply the change live.
    """
    catalog = load_catalog_file(path)
    await create_topics(settings.kafka, settings.topics)
    items = {item.key: item for item in catalog.items()}
    present = set()
    async for record in read_to_end(settings.kafka, settings.topics.catalog):
        if record.key is None:
            continue
        key = record.key.decode("utf-8", "replace")
        if record.value is None:
            present.discard(key)
        else:
            present.add(key)
    stale = sorted(present - set(items))
    async with producer(settings.kafka) as p:
        futures = [
            await p.send(settings.topics.catalog, item.model_dump_json().encode(), key=key.encode())
            for key, item in items.items()
        ]
        futures += [await p.send(settings.topics.catalog, None, key=key.encode()) for key in stale]
        await asyncio.gather(*futures)
    return len(items), len(stale)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="The skills catalog: skills, activity mappings, career ladders.", no_args_is_help=True
    )
    app.add_typer(group, name="catalog")

    @group.command("load")
    def load(
        file: Path = typer.Argument(
            SAMPLE_CATALOG,
            help="Catalog YAML or JSON (default: the sample catalog).",
            show_default=False,
        ),
    ) -> None:
        """Publish a catalog file to the skills.catalog topic; running workers apply it live.

        Every item of the file is written (keyed skill:<id>, activity:<iri>,
        ladder:<id>, competency_types); items on the topic that the file no longer
        has are deleted with tombstones. An invalid file is refused before
        anything is published, with the field at fault named.

        Examples: skillstream catalog load | skillstream catalog load
        /etc/skillstream/catalog.yaml (then `skillstream replay --rebuild` to credit
        past statements under the new mappings)
        """
        settings = load_settings()
        load_catalog_file(file)  # refused here, before the broker is asked anything
        check_kafka(settings)
        written, removed = asyncio.run(publish_catalog(settings, file))
        err.print(
            f"catalog {file}: {written} items published to {settings.topics.catalog}, {removed} removed"
        )
