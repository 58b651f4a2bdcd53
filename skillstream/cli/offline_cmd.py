"""``skillstream offline``: the pipeline over a file, no broker."""

from __future__ import annotations

from pathlib import Path

import typer

from skillstream.cli import err, file_progress
from skillstream.config import (
    input_file,
    load_catalog,
    load_rules,
    load_vocabulary,
    output_folder,
    read_statements,
    xapi_rules,
)
from skillstream.settings import load_settings


def register(app: typer.Typer) -> None:
    @app.command()
    def offline(
        statements: str = typer.Argument(
            ..., help="JSON Lines (or JSON array) of xAPI statements; '-' for stdin."
        ),
        out: Path = typer.Option(
            ..., "--out", help="Folder for profiles, milestones, dead letters and a summary."
        ),
        catalog: Path | None = typer.Option(
            None, "--catalog", help="Catalog file (default: the sample catalog)."
        ),
        rules: Path | None = typer.Option(
            None, "--rules", help="Rules file (default: the built-in rules)."
        ),
        vocabulary: Path | None = typer.Option(None, "--vocabulary", help="Vocabulary file."),
        xapi_version: str | None = typer.Option(
            None, "--xapi-version", help="Rules for statements without a version (default 2.0.0)."
        ),
    ) -> None:
        """Run validation, profiles and milestones over a file, exactly as the stream does.

        The result is the reference a stream run over the same file must agree
        with: OUT/profiles.jsonl (one snapshot per learner), OUT/milestones.jsonl,
        OUT/dead-letters.jsonl (every invalid record with all its errors) and
        OUT/summary.json.

        Example: skillstream simulate --learners 200 --days 90 --out s.jsonl &&
        skillstream offline s.jsonl --out result/
        """
        from streams.heap import quiet_collector
        from streams.offline import run_offline

        settings = load_settings()
        version = xapi_rules(xapi_version, settings.xapi_version)
        total = (
            None if statements == "-" else input_file(statements, "statements file").stat().st_size
        )
        output_folder(out, "--out")
        cat = load_catalog(catalog or settings.catalog_file)
        rules_model = load_rules(rules or settings.rules_file)
        vocab = load_vocabulary(vocabulary or settings.vocabulary_file)
        console = err
        quiet_collector()
        with file_progress("offline") as progress:
            task = progress.add_task("records", total=total)
            result = run_offline(
                read_statements(statements),
                catalog=cat,
                vocabulary=vocab,
                rules=rules_model,
                secret=settings.learner_secret_bytes,
                default_version=version,
                source=f"file:{statements}",
                on_record=lambda n: progress.advance(task, n),
            )
        paths = result.write(out)
        s = result.summary()
        console.print(
            f"{s['records']} records: {s['valid']} valid, {s['dead_lettered']} dead-lettered; "
            f"{s['learners']} learners, {s['milestones']} milestones"
        )
        counted = result.counts.credited + result.counts.uncredited
        if result.counts.uncredited:
            console.print(
                f"{result.counts.uncredited} of {counted} statements credited no skill: "
                "`skillstream catalog gaps --from` lists their activities"
            )
        for name, path in paths.items():
            console.print(f"  {name}: {path}")
