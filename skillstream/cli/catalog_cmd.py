"""``skillstream catalog``: publish the skills catalog, and find what it misses."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from schemas.catalog import CatalogFile
from skillstream.cli import err, file_progress
from skillstream.config import (
    SAMPLE_CATALOG,
    input_file,
    load_catalog,
    load_catalog_file,
    load_vocabulary,
    output_file,
    read_statements,
    xapi_rules,
)
from skillstream.errors import ConfigError, UsageError
from skillstream.gaps_report import (
    as_json,
    by_count,
    explain,
    first_text,
    tally_file,
    tally_topic,
    with_additions,
    write_template,
)
from skillstream.kafka_io import check_kafka, producer, read_to_end
from skillstream.settings import Settings, load_settings
from skillstream.topics import create_topics
from streams.gaps import Gap, GapTally, Suggester


async def publish_catalog(settings: Settings, source: Path | CatalogFile) -> tuple[int, int]:
    """Make the catalog topic equal to the catalog (a file, or one already read with
    ``with_additions``): put every item, tombstone the rest.

    Returns (items written, items removed). Workers apply the change live.
    """
    catalog = with_additions(source, []) if isinstance(source, Path) else source
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
        add: list[Path] = typer.Option(
            [],
            "--add",
            help="A filled template of `catalog gaps --template` (CSV or YAML) whose "
            "mappings join the file's; repeatable.",
        ),
    ) -> None:
        """Publish a catalog file to the skills.catalog topic; running workers apply it live.

        Every item of the file is written (keyed skill:<id>, activity:<iri>,
        ladder:<id>, competency_types); items on the topic that the file no longer
        has are deleted with tombstones. An invalid file is refused before
        anything is published, with the field at fault named.

        With --add, the mappings filled in a `catalog gaps --template` file join the
        file's (a filled one wins over the file's for the same activity); entries left
        empty are skipped.

        Examples: skillstream catalog load | skillstream catalog load
        /etc/skillstream/catalog.yaml --add gaps.csv (then `skillstream replay
        --rebuild` to credit past statements under the new mappings)
        """
        settings = load_settings()
        catalog = with_additions(file, add)  # refused here, before the broker is asked
        check_kafka(settings)
        written, removed = asyncio.run(publish_catalog(settings, catalog))
        err.print(
            f"catalog {file}: {written} items published to {settings.topics.catalog}, {removed} removed"
        )

    @group.command("gaps")
    def gaps(
        source: str | None = typer.Option(
            None,
            "--from",
            help="Statements to look at: JSON Lines or a JSON array of xAPI statements, "
            "'-' for stdin (an export of your LRS, or `skillstream simulate` output).",
        ),
        since: str | None = typer.Option(
            None,
            "--since",
            help="Or the live stream: what was published to the statements topic since "
            "WHEN (earliest, 2026-03-01T08:00:00Z, or 7d / 12h ago), against the live "
            "catalog unless --catalog is given.",
        ),
        catalog: Path | None = typer.Option(
            None,
            "--catalog",
            help="Catalog file (default: SKILLSTREAM_CATALOG_FILE or the sample).",
        ),
        vocabulary: Path | None = typer.Option(None, "--vocabulary", help="Vocabulary file."),
        template: Path | None = typer.Option(
            None,
            "--template",
            help="Write the gaps as a file to fill in: .csv (a spreadsheet) or .yaml "
            "(the catalog's shape).",
        ),
        top: int = typer.Option(20, "--top", min=1, help="Gaps shown on the terminal."),
        json_out: bool = typer.Option(
            False, "--json", help="Print the whole report as JSON instead of a table."
        ),
        xapi_version: str | None = typer.Option(
            None, "--xapi-version", help="Rules for statements without a version (default 2.0.0)."
        ),
    ) -> None:
        """List the activities learners use that credit no skill, most learners first.

        From a file (--from) or from the live statements topic (--since). Each
        statement is validated and normalised exactly as the stream does; a
        gap is an activity no catalog mapping covers whose statements credited no
        skill. For each: learners, statements, its type, its name and description
        in the languages present, the verbs seen, an example statement id, and
        catalog skills whose name, label or id all appear in what the statements
        say about it (the matched words are shown). The first line gives the share
        of statements that credited a skill.

        Examples: skillstream catalog gaps --since 7d | skillstream catalog gaps --from
        lrs-export.jsonl --template gaps.csv, fill the `skills` column, then
        skillstream catalog load catalog.yaml --add gaps.csv and skillstream replay
        --rebuild
        """
        settings = load_settings()
        if (source is None) == (since is None):
            raise UsageError(
                "say which statements to look at: --from FILE (an export) or --since WHEN "
                "(the live statements topic), one of them"
            )
        version = xapi_rules(xapi_version, settings.xapi_version)
        settings = settings.model_copy(update={"xapi_version": version})
        if template is not None and template.suffix not in (".csv", ".yaml", ".yml"):
            raise UsageError(f"--template {template}: name a .csv, .yaml or .yml file")
        if template is not None:
            output_file(template, "--template")
        vocab = load_vocabulary(vocabulary or settings.vocabulary_file)
        if since is not None:
            from skillstream.operations.when import parse_start

            try:
                start = parse_start(since, option="--since")
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            live_catalog = load_catalog(catalog) if catalog is not None else None
            check_kafka(settings)
            with Progress(
                TextColumn("[bold]gaps"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            ) as progress:
                task = progress.add_task("records", total=None)
                tally, cat = asyncio.run(
                    tally_topic(
                        settings,
                        None if start.earliest else start.timestamp_ms,
                        live_catalog,
                        vocab,
                        on_total=lambda n: progress.update(task, total=n),
                        on_record=lambda n: progress.advance(task, n),
                    )
                )
        else:
            assert source is not None
            cat = load_catalog(catalog or settings.catalog_file)
            total = None if source == "-" else input_file(source, "statements file").stat().st_size
            with file_progress("gaps") as progress:
                task = progress.add_task("records", total=total)
                tally = tally_file(
                    read_statements(source),
                    cat,
                    vocab,
                    settings.learner_secret_bytes,
                    version,
                    on_record=lambda n: progress.advance(task, n),
                )
        found = tally.ranked()
        suggest = Suggester(cat)  # indexes every skill once: a framework has thousands
        if json_out:
            typer.echo(as_json(tally, found, suggest).decode())
        else:
            show(tally, found, suggest, top)
        if template is not None:
            write_template(template, found, suggest)
            err.print(f"template: {template} ({len(found)} activities; fill in `skills`)")

    @group.command("import")
    def import_(
        folder: Path = typer.Argument(
            ..., help="The unpacked framework: ESCO's CSV folder or O*NET's text folder."
        ),
        format_: str = typer.Option(..., "--format", help="esco or onet."),
        out: Path = typer.Option(
            ..., "--out", help="The catalog file to write (.yaml, .yml or .json)."
        ),
        ladders: Path | None = typer.Option(
            None,
            "--ladders",
            help="Career ladders to build: YAML naming each ladder's occupations in order "
            "(ESCO occupation IRIs, O*NET-SOC codes), junior first.",
        ),
        base: Path | None = typer.Option(
            None, "--base", help="A catalog the imported skills and ladders are added to."
        ),
        level: float = typer.Option(
            0.5,
            "--level",
            min=0.0,
            max=1.0,
            help="ESCO: the level a role requires of each essential skill.",
        ),
        min_importance: float = typer.Option(
            3.5,
            "--min-importance",
            min=1.0,
            max=5.0,
            help="O*NET: the importance (1-5) that makes an element a requirement.",
        ),
        language: str = typer.Option(
            "en", "--language", help="ESCO: the language of the files (skills_<language>.csv)."
        ),
    ) -> None:
        """Turn a skills framework into catalog skills and career ladders.

        ESCO: every released skill becomes a skill keyed by its IRI (id
        esco:<uuid>, the IRI in `iris`, so statements naming it credit it; its
        alternative labels in `labels`; its category from the skills hierarchy);
        each occupation of a ladder becomes a role requiring its essential skills.
        O*NET: skills and knowledge elements, and roles requiring the elements of
        an occupation at or above --min-importance, at their level. The file
        layouts read are listed in skillstream/frameworks.py and in
        docs/catalog-onboarding.md.

        Example: skillstream catalog import --format esco ESCO-dataset-v1.2/ --ladders
        ladders.yaml --base catalog.yaml --out catalog-esco.yaml && skillstream catalog
        load catalog-esco.yaml
        """
        from skillstream.frameworks import (
            FrameworkError,
            import_esco,
            import_onet,
            merge,
            read_ladders,
            write_catalog,
        )

        if format_ not in ("esco", "onet"):
            raise UsageError(f"--format must be esco or onet, not {format_!r}")
        if not folder.is_dir():
            raise UsageError(f"framework folder {folder} does not exist or is not a folder")
        if out.suffix not in (".yaml", ".yml", ".json"):
            raise UsageError(f"--out {out}: name a .yaml, .yml or .json file")
        output_file(out, "--out")
        started = time.monotonic()
        try:
            specs = read_ladders(input_file(ladders, "--ladders file") if ladders else None)
            if format_ == "esco":
                imported = import_esco(folder, specs, level, language)
            else:
                imported = import_onet(folder, specs, min_importance)
            catalog = merge(load_catalog_file(base), imported) if base else imported
        except FrameworkError as exc:
            raise ConfigError(str(exc)) from None
        write_catalog(catalog, out)
        err.print(
            f"{out}: {len(imported.skills):,} skills and {len(imported.ladders)} ladders imported "
            f"from {format_} in {time.monotonic() - started:.1f} s"
            + (f", added to {base}" if base else "")
        )


def show(tally: GapTally, found: list[Gap], suggest: Suggester, top: int) -> None:
    """The share and the first ``top`` gaps, as a table on standard output."""
    share = tally.credited_share
    counted = tally.credited + tally.uncredited
    out = Console(soft_wrap=False)
    if share is None:
        out.print("no valid, credited-or-not statements in the input")
        return
    out.print(
        f"{tally.credited:,} of {counted:,} statements credited a skill ({share:.1%}); "
        f"{len(found):,} activities credit none"
        + (
            f" (and {tally.untracked:,} statements of activities past the limit)"
            if tally.untracked
            else ""
        )
    )
    if not found:
        return
    table = Table(show_lines=False)
    for column in ("learners", "statements", "activity", "name", "verbs", "suggested (matched)"):
        table.add_column(column, overflow="fold")
    for gap in found[:top]:
        table.add_row(
            f"{gap.learner_count}{'+' if gap.learners_saturated else ''}",
            str(gap.statements),
            gap.activity_id,
            first_text(gap.names),
            " ".join(v.rsplit("/", 1)[-1] for v in by_count(gap.verbs)[:3]),
            explain(suggest(gap)),
        )
    out.print(table)
    if len(found) > top:
        out.print(f"... and {len(found) - top:,} more (--top, --json or --template for all)")
