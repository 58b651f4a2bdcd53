"""``make demo``: the whole pipeline end to end on embedded defaults.

1. a broker (``KAFKA_BOOTSTRAP_SERVERS``, else the local one, started if needed);
2. fresh topics for this run, the sample catalog, a SQLite database;
3. a worker and the SQL sink, as their own processes;
4. a simulated LMS workload published to ``xapi.statements``;
5. live progress until every stage has caught up;
6. a summary, learners' journeys, and an HTML report next to the database;
7. everything it started stopped again (the broker too, if it was not running).

Each run gets its own folder under ``demo-output/`` and its own topics
(``demo-<time>.…``); topics of earlier demo runs are deleted first, so the
demo can run again and again.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.live import Live
from rich.table import Table
from sqlalchemy import create_engine, text

from skillstream.broker import KAFKA_SCRIPT, ensure_broker, wait_for_metadata
from skillstream.cli.catalog_cmd import publish_catalog
from skillstream.config import SAMPLE_CATALOG
from skillstream.errors import SkillstreamError
from skillstream.lag import group_lag
from skillstream.processes import ManagedProcess, free_port, settings_env
from skillstream.publishing import publish_records
from skillstream.report import Journey, MilestoneRow, render_report
from skillstream.settings import Settings, Topics, load_settings
from skillstream.simulate import Simulation
from skillstream.topics import changelog_plan, create_topics
from streams.app import pipeline_groups
from streams.profile_stage import changelog_topic

console = Console(stderr=True, soft_wrap=True)
DEMO_PREFIX = "demo-"


def local_broker_running() -> bool:
    if not KAFKA_SCRIPT.exists():
        return False
    return (
        subprocess.run(
            ["bash", str(KAFKA_SCRIPT), "status"], capture_output=True, check=False
        ).returncode
        == 0
    )


async def drop_old_demo_topics(bootstrap: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        old = [t for t in await admin.list_topics() if t.startswith(DEMO_PREFIX)]
        if old:
            await admin.delete_topics(old)
        return len(old)
    finally:
        await admin.close()


def demo_settings(bootstrap: str, run: str, out: Path) -> Settings:
    return load_settings(
        kafka={"bootstrap_servers": bootstrap},
        topics=Topics(partitions=4).prefixed(f"{DEMO_PREFIX}{run}.").model_dump(),
        group_id=f"{DEMO_PREFIX}{run}",
        data_dir=out / "state",
        database_url=f"sqlite:///{out / 'skillstream.db'}",
        log_level="INFO",
    )


class Watch:
    """Follows the milestones topic and the groups' positions for the live view."""

    def __init__(self, settings: Settings, total: int) -> None:
        self.settings = settings
        self.total = total
        self.by_kind: Counter[str] = Counter()
        self.positions: dict[str, tuple[int, int]] = {}

    async def follow_milestones(self) -> None:
        consumer = AIOKafkaConsumer(
            self.settings.topics.milestones,
            bootstrap_servers=self.settings.kafka.bootstrap_servers,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        seen: set[str] = set()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        doc = orjson.loads(r.value)
                        if doc["id"] not in seen:
                            seen.add(doc["id"])
                            self.by_kind[doc["data"]["kind"]] += 1
        finally:
            await consumer.stop()

    async def poll_positions(self) -> None:
        bootstrap = self.settings.kafka.bootstrap_servers
        groups = [
            ("ingest", *pipeline_groups(self.settings)[0]),
            ("profiles", *pipeline_groups(self.settings)[1]),
            ("sql sink", f"{self.settings.group_id}-sink-sql", self.settings.topics.milestones),
            (
                "sql sink (profiles)",
                f"{self.settings.group_id}-sink-sql",
                self.settings.topics.profiles,
            ),
        ]
        for label, group, topic in groups:
            parts = await group_lag(bootstrap, group, topic)
            self.positions[label] = (
                sum(p.committed or 0 for p in parts),
                sum(p.end for p in parts),
            )

    def caught_up(self) -> bool:
        ingest = self.positions.get("ingest", (0, 1))
        return ingest[0] >= self.total and all(c >= e for c, e in self.positions.values())

    def render(self, elapsed: float) -> Table:
        table = Table(title=f"skillstream demo — {elapsed:.0f}s", title_justify="left")
        table.add_column("stage")
        table.add_column("processed", justify="right")
        table.add_column("of", justify="right")
        for label, (done, end) in self.positions.items():
            table.add_row(label, f"{done:,}", f"{end:,}")
        table.add_section()
        for kind, n in sorted(self.by_kind.items()):
            table.add_row(f"milestones: {kind.replace('_', ' ')}", f"{n:,}", "")
        return table


async def run_pipeline(settings: Settings, out: Path, records: list[bytes]) -> Watch:
    bootstrap = settings.kafka.bootstrap_servers
    changelog = changelog_plan(changelog_topic(settings.group_id), settings.topics)
    await create_topics(bootstrap, settings.topics, (changelog,))
    await publish_catalog(settings, SAMPLE_CATALOG)
    env = settings_env(settings)
    worker = ManagedProcess(
        "worker",
        ["worker"],
        {**env, "SKILLSTREAM_WORKER_WEB_PORT": str(free_port())},
        out / "logs" / "worker.log",
    ).start()
    sink = ManagedProcess(
        "sql sink", ["sink", "sql", "--upgrade"], env, out / "logs" / "sink-sql.log"
    ).start()
    watch = Watch(settings, len(records))
    follower = asyncio.create_task(watch.follow_milestones())
    started = time.monotonic()
    try:
        with console.status(
            f"publishing {len(records):,} statements to {settings.topics.statements}"
        ):
            await publish_records(settings, records)
        with Live(watch.render(0), console=console, refresh_per_second=4) as live:
            settled_since: float | None = None
            while True:
                for proc in (worker, sink):
                    if not proc.running:
                        raise SkillstreamError(
                            f"the {proc.name} stopped unexpectedly; its log is {proc.log_path}:\n"
                            f"{proc.log_tail(15)}"
                        )
                await watch.poll_positions()
                live.update(watch.render(time.monotonic() - started))
                if watch.caught_up():
                    settled_since = settled_since or time.monotonic()
                    if time.monotonic() - settled_since > 3:
                        break
                else:
                    settled_since = None
                if time.monotonic() - started > 900:
                    raise SkillstreamError("the pipeline did not catch up within 15 minutes")
                await asyncio.sleep(0.5)
    finally:
        follower.cancel()
        worker.stop()
        sink.stop()
    return watch


def summarize(settings: Settings, out: Path, sim: Simulation, elapsed: float) -> Path:
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        rows = [
            MilestoneRow(r.learner, r.kind, r.level, r.skill, r.title, _utc(r.achieved_at))
            for r in conn.execute(
                text("select learner, kind, level, skill, title, achieved_at from milestones")
            )
        ]
        snapshots = {
            r.learner: orjson.loads(r.snapshot)
            if isinstance(r.snapshot, (str, bytes))
            else r.snapshot
            for r in conn.execute(text("select learner, snapshot from learner_profiles"))
        }
    engine.dispose()
    personas = sim.personas(settings.learner_secret_bytes)
    by_learner: dict[str, list[MilestoneRow]] = {}
    for r in rows:
        by_learner.setdefault(r.learner, []).append(r)
    ready = [k for k, ms in by_learner.items() if any(m.kind == "role_ready" for m in ms)]
    ready.sort(key=lambda k: (-len(by_learner[k]), k))
    journeys = [
        Journey(
            k,
            str(personas.get(k, "?")),
            sorted(by_learner[k], key=lambda m: m.achieved_at),
            snapshots.get(k, {}),
        )
        for k in ready[:8]
    ]
    by_kind = Counter(r.kind for r in rows)
    table = Table(title="milestones by kind")
    table.add_column("kind")
    table.add_column("milestones", justify="right")
    for kind, n in by_kind.most_common():
        table.add_row(kind.replace("_", " "), f"{n:,}")
    console.print(table)
    for j in journeys[:3]:
        console.print(f"\n[bold]{j.learner}[/] ({j.persona}):")
        for m in j.milestones:
            console.print(f"  {m.achieved_at:%Y-%m-%d}  {m.title}")
    report = out / "report.html"
    report.write_text(
        render_report(
            title="skillstream demo",
            stats={
                "statements": f"{sim.stats.records:,}",
                "learners": f"{len(snapshots):,}",
                "milestones": f"{len(rows):,}",
                "role-ready learners": f"{len(ready):,}",
                "pipeline time": f"{elapsed:.0f} s",
            },
            rows=rows,
            featured=journeys[0] if journeys else None,
            journeys=journeys,
        ),
        encoding="utf-8",
    )
    return report


def _utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def main_async(args: argparse.Namespace) -> None:
    import os

    started_broker = not os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and not local_broker_running()
    broker = ensure_broker()
    try:
        await wait_for_metadata(broker.bootstrap)
        run = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path(args.out).resolve() / run
        out.mkdir(parents=True, exist_ok=True)
        settings = demo_settings(broker.bootstrap, run, out)
        dropped = await drop_old_demo_topics(broker.bootstrap)
        console.print(
            f"[bold]skillstream demo[/] — broker {broker.bootstrap} ({broker.origin}); "
            f"output in {out}"
            + (f"; removed {dropped} topics of earlier demo runs" if dropped else "")
        )
        with console.status(f"simulating {args.learners} learners over {args.days} days"):
            sim = Simulation(args.learners, args.days, args.seed)
            records = list(sim)
        began = time.monotonic()
        await run_pipeline(settings, out, records)
        elapsed = time.monotonic() - began
        report = summarize(settings, out, sim, elapsed)
        console.print(f"\nreport: [bold]{report}[/]\ndatabase: {out / 'skillstream.db'}")
    finally:
        broker.stop()
        if started_broker:
            subprocess.run(["bash", str(KAFKA_SCRIPT), "down"], check=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="make demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--days", type=int, default=182)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", default="demo-output")
    args = parser.parse_args(argv)
    try:
        asyncio.run(main_async(args))
    except SkillstreamError as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
