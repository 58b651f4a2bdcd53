"""``skillstream publish`` and ``skillstream simulate``: statements into Kafka.

The simulator itself is tooling, not part of the package: it lives in ``tools/simulate.py``
of the source tree. ``skillstream simulate`` runs it from a checkout (an editable install
included); an installed package without the source tree says so and exits 2.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from skillstream.cli import err
from skillstream.config import read_statements
from skillstream.errors import UsageError
from skillstream.kafka_io import check_kafka
from skillstream.publishing import publish_records
from skillstream.settings import load_settings

NO_SIMULATOR = (
    "the simulator comes with skillstream's source tree, not with the installed package: "
    "from a checkout, run `python -m tools.simulate` with the same options "
    "(e.g. `python -m tools.simulate --learners 200 --days 90 --out traffic.jsonl`)"
)


def _checkout_on_path() -> None:
    """In a source checkout (where an editable install runs from) ``tools/`` sits beside
    ``skillstream/``: put that folder on the import path so the simulator can be found."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "tools" / "simulate.py").is_file() and str(checkout) not in sys.path:
        sys.path.append(str(checkout))


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]publish"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def publish(
        source: str = typer.Argument(
            ..., help="JSON Lines or JSON array file of statements, or '-' for stdin."
        ),
    ) -> None:
        """Publish xAPI statements to the statements topic (acks from all in-sync replicas).

        Each record is keyed by its learner (from the actor's identifier) so one
        learner's statements stay in order. Records are published as they are —
        invalid ones included: the worker dead-letters them with every error.

        Examples: skillstream publish statements.jsonl | cat batch.json |
        skillstream publish -
        """
        settings = load_settings()
        records = list(read_statements(source))
        check_kafka(settings)
        with _progress() as progress:
            task = progress.add_task("statements", total=len(records))
            sent = asyncio.run(
                publish_records(settings, records, lambda n: progress.advance(task, n))
            )
        err.print(f"published {sent} records to {settings.topics.statements}")

    @app.command()
    def simulate(
        learners: int = typer.Option(200, "--learners", min=1, help="How many learners."),
        days: int = typer.Option(90, "--days", min=1, help="How many days of activity."),
        seed: int = typer.Option(1, "--seed", help="Same seed, same statements, byte for byte."),
        start: str | None = typer.Option(
            None, "--start", help="First day (YYYY-MM-DD; default 2026-01-05)."
        ),
        invalid_share: float = typer.Option(
            0.01, "--invalid-share", min=0.0, max=0.5, help="Share of invalid statements."
        ),
        out: Path | None = typer.Option(None, "--out", help="Write JSON Lines here."),
        publish_: bool = typer.Option(False, "--publish", help="Publish to the statements topic."),
    ) -> None:
        """Generate realistic LMS traffic: learners with personas over a span of days.

        Personas: deep specialist, networker, soft-skills learner, follower of
        emerging skills, T-shaped generalist, steady weekly learner, dropout,
        ordinary learner. The traffic has duplicates, late arrivals, voided
        statements and a share of invalid statements. Give --out FILE,
        --publish, or both. The simulator comes with the source tree
        (tools/simulate.py), not with an installed package.

        Examples: skillstream simulate --learners 500 --days 180 --out traffic.jsonl |
        skillstream simulate --learners 50 --days 30 --publish
        """
        _checkout_on_path()
        try:
            from tools.simulate import Simulation
        except ImportError:
            raise UsageError(NO_SIMULATOR) from None
        if out is None and not publish_:
            raise UsageError("say where the statements go: --out FILE, --publish, or both")
        settings = load_settings() if publish_ else None
        first = None
        if start is not None:
            try:
                first = date.fromisoformat(start)
            except ValueError:
                raise UsageError(f"--start {start!r} is not a date like 2026-01-05") from None
        sim = Simulation(learners, days, seed, first, invalid_share)
        records = list(sim)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("wb") as f:
                for line in records:
                    f.write(line + b"\n")
            err.print(f"wrote {len(records)} records to {out}")
        if settings is not None:
            check_kafka(settings)
            with _progress() as progress:
                task = progress.add_task("statements", total=len(records))
                sent = asyncio.run(
                    publish_records(settings, records, lambda n: progress.advance(task, n))
                )
            err.print(f"published {sent} records to {settings.topics.statements}")
        stats = sim.stats
        err.print(
            f"{stats.statements} statements for {learners} learners over {days} days: "
            f"{stats.duplicates} duplicates, {stats.late_arrivals} late, "
            f"{sum(stats.invalid.values())} invalid"
        )
