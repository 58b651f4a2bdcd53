"""``make demo``: the whole pipeline end to end on embedded defaults.

1. a broker (``KAFKA_BOOTSTRAP_SERVERS``, else the local one, started if needed);
2. fresh topics for this run, the sample catalog, a SQLite database;
3. a worker and the SQL sink, as their own processes;
4. a simulated LMS workload published to ``xapi.statements``;
5. live progress until every stage has caught up;
6. a summary, learners' journeys, and an HTML report next to the database;
7. everything it started stopped again, and this run's topics deleted.

Each run gets its own folder under ``demo-output/`` and its own topics
(``demo-<time>.…``), deleted when the run ends (also on Ctrl-C or failure)
unless ``--keep-topics`` (or ``DEMO_KEEP_TOPICS=1``) keeps them for a look:
then the run's settings are written to ``<folder>/skillstream.env`` and the
commands to inspect them are printed. Topics of earlier runs that were kept
are deleted when the next run starts, so the demo can run again and again.

``scripts/demo.sh`` (``make demo``) starts the local broker when no
``KAFKA_BOOTSTRAP_SERVERS`` is set and it is not running, and stops it again
at the end; a broker that was already running is left running.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.live import Live
from rich.table import Table
from sqlalchemy import create_engine, text

from schemas.topology import Topics, changelog_topic
from skillstream.cli.catalog_cmd import publish_catalog
from skillstream.config import SAMPLE_CATALOG, load_catalog_file, load_rules
from skillstream.errors import ServiceUnavailable, SkillstreamError
from skillstream.lag import group_lag
from skillstream.publishing import publish_records
from skillstream.settings import Settings, load_settings
from skillstream.topics import changelog_plan, create_topics
from skillstream.worker import pipeline_groups
from tools.broker import KAFKA_SCRIPT, ensure_broker, wait_for_metadata
from tools.processes import ManagedProcess, free_port, settings_env
from tools.report import Journey, MilestoneRow, render_report
from tools.simulate import Simulation

console = Console(stderr=True, soft_wrap=True)
DEMO_PREFIX = "demo-"
KEEP_ENV = "DEMO_KEEP_TOPICS"


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


def is_run_topic(name: str, run: str) -> bool:
    """Whether a topic is one of run ``run``'s: ``demo-<run>.<topic>`` or ``demo-<run>-…``
    (the worker group's changelog)."""
    stem = f"{DEMO_PREFIX}{run}"
    return name.startswith(stem) and name[len(stem) : len(stem) + 1] in (".", "-")


async def run_topics(bootstrap: str, run: str, *, delete: bool = False) -> list[str]:
    """This run's topics (see ``is_run_topic``); deleted too when ``delete``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        mine = sorted(t for t in await admin.list_topics() if is_run_topic(t, run))
        if mine and delete:
            await admin.delete_topics(mine)
        return mine
    finally:
        await admin.close()


async def wait_for_leaders(bootstrap: str, topics: list[str], timeout: float = 30.0) -> None:
    """Wait until every partition of ``topics`` has a leader that answers.

    Right after its topics are created a broker may not lead their partitions
    yet: a client asking then (the catalog's first read, the first produce)
    gets ``NotLeaderForPartitionError`` and logs it before retrying. So first
    ask for metadata until it names a leader for every partition, then ask
    every partition's leader for its offsets (a request the client retries
    quietly) until all of them answer — within ``timeout`` seconds in all.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    partitions: list[TopicPartition] = []
    missing = set(topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
    await admin.start()
    try:
        while missing and loop.time() < deadline:
            partitions = []
            missing = set(topics)
            for topic in await admin.describe_topics(topics):
                found = topic["partitions"]
                if (
                    topic["error_code"] == 0
                    and found
                    and all(p["error_code"] == 0 and p["leader"] >= 0 for p in found)
                ):
                    missing.discard(topic["topic"])
                    partitions += [TopicPartition(topic["topic"], p["partition"]) for p in found]
            if missing:
                await asyncio.sleep(0.2)
    finally:
        await admin.close()
    if not missing:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        await consumer.start()
        try:
            await asyncio.wait_for(
                consumer.end_offsets(partitions), max(deadline - loop.time(), 1.0)
            )
        except TimeoutError:
            missing = set(topics)
        finally:
            await consumer.stop()
    if missing:
        raise ServiceUnavailable(
            "Kafka",
            f"the partitions of {', '.join(sorted(missing))} had no leader that answered "
            f"{timeout:.0f}s after they were created",
        )


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
    created = await create_topics(bootstrap, settings.topics, (changelog,))
    await wait_for_leaders(bootstrap, sorted(created))
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
        try:
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
            if not console.is_terminal:
                console.line()  # Live ends a terminal's last line itself, not a file's
    finally:
        follower.cancel()
        worker.stop()
        sink.stop()
        # The follower's consumer must be gone before the run's topics are deleted:
        # a client still asking for their metadata would have the broker create them again.
        await asyncio.gather(follower, return_exceptions=True)
    return watch


def featured_learners(
    ranked: list[str], persona: Callable[[str], object], count: int = 8, per_persona: int = 2
) -> list[str]:
    """The first ``count`` of ``ranked``, at most ``per_persona`` of each persona (then any),
    so the report's journeys show several kinds of learner."""
    chosen: list[str] = []
    taken: Counter[object] = Counter()
    for key in ranked:
        if len(chosen) == count:
            break
        if taken[persona(key)] < per_persona:
            chosen.append(key)
            taken[persona(key)] += 1
    chosen += [k for k in ranked if k not in chosen][: count - len(chosen)]
    return chosen


def summarize(
    settings: Settings, out: Path, sim: Simulation, elapsed: float, generated_at: datetime
) -> Path:
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
    secret = settings.learner_secret_bytes
    roster = sim.by_key(secret)
    by_learner: dict[str, list[MilestoneRow]] = {}
    for r in rows:
        by_learner.setdefault(r.learner, []).append(r)
    ready = [k for k, ms in by_learner.items() if any(m.kind == "role_ready" for m in ms)]
    ready.sort(key=lambda k: (-len(by_learner[k]), k))
    journeys = [
        Journey(
            k,
            str(roster[k].persona) if k in roster else "?",
            sorted(by_learner[k], key=lambda m: m.achieved_at),
            snapshots.get(k, {}),
        )
        for k in featured_learners(ready, lambda k: roster[k].persona if k in roster else None)
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
    # Names come from the simulator's roster, matched by learner key here: the
    # pipeline stores keys only, and only the report shows names.
    names = {key: learner.name for key, learner in roster.items()}
    catalog = load_catalog_file(SAMPLE_CATALOG)
    report = out / "report.html"
    report.write_text(
        render_report(
            title="skillstream demo",
            generated_at=generated_at,
            stats={
                "statements": f"{sim.stats.records:,}",
                "learners": f"{len(snapshots):,}",
                "milestones": f"{len(rows):,}",
                "learners ready for a role": f"{len(ready):,}",
                "pipeline time": f"{elapsed:.0f} s",
            },
            rows=rows,
            featured=journeys[0] if journeys else None,
            journeys=journeys,
            rules=load_rules(settings.rules_file),
            names=names,
            skill_names={skill.id: skill.name for skill in catalog.skills},
            period=(sim.start, sim.start + timedelta(days=sim.days - 1)),
        ),
        encoding="utf-8",
    )
    return report


def _utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def keep_requested(args: argparse.Namespace) -> bool:
    return bool(args.keep_topics) or os.environ.get(KEEP_ENV, "").lower() in ("1", "yes", "true")


def write_env_file(settings: Settings, out: Path) -> Path:
    """The run's settings as ``KEY='value'`` lines, for ``skillstream`` commands on kept topics."""
    path = out / "skillstream.env"
    lines = [f"{k}={shlex.quote(v)}" for k, v in sorted(settings_env(settings).items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def print_inspection_help(settings: Settings, out: Path, kept: list[str]) -> None:
    load = f"set -a; . {shlex.quote(str(write_env_file(settings, out)))}; set +a"
    console.print(
        f"\nkept this run's {len(kept)} topics on {settings.kafka.bootstrap_servers} "
        "for inspection:\n"
        + "".join(f"  {name}\n" for name in kept)
        + "look at them with this run's settings, in a shell:\n"
        f"  {load}\n"
        "  .venv/bin/skillstream status      # each stage's offsets and lag\n"
        "  .venv/bin/skillstream dlq list    # the invalid statements, by error\n"
        "the next demo run deletes them."
    )


async def finish_topics(settings: Settings, run: str, out: Path, keep: bool) -> None:
    """Delete this run's topics, or keep them and say how to look at them."""
    bootstrap = settings.kafka.bootstrap_servers
    try:
        if keep:
            print_inspection_help(settings, out, await run_topics(bootstrap, run))
        else:
            deleted = await run_topics(bootstrap, run, delete=True)
            console.print(f"deleted this run's {len(deleted)} topics ({DEMO_PREFIX}{run}…)")
    except Exception as exc:  # noqa: BLE001 - cleanup must not hide how the run ended
        console.print(
            f"[yellow]could not list or delete this run's topics ({DEMO_PREFIX}{run}…): {exc}; "
            "the next demo run deletes them[/]"
        )


async def main_async(args: argparse.Namespace) -> None:
    running_before = bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")) or local_broker_running()
    broker = ensure_broker()
    started_local = broker.origin == "local" and not running_before
    keep = keep_requested(args)
    ready: tuple[Settings, str, Path] | None = None
    try:
        await wait_for_metadata(broker.bootstrap)
        run = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path(args.out).resolve() / run
        out.mkdir(parents=True, exist_ok=True)
        settings = demo_settings(broker.bootstrap, run, out)
        dropped = await drop_old_demo_topics(broker.bootstrap)
        ready = (settings, run, out)
        origin = "" if broker.origin == "env" else f" ({broker.origin})"
        console.print(
            f"[bold]skillstream demo[/] — broker {broker.bootstrap}{origin}; output in {out}"
            + (f"; removed {dropped} topics left by earlier demo runs" if dropped else "")
        )
        with console.status(f"simulating {args.learners} learners over {args.days} days"):
            sim = Simulation(args.learners, args.days, args.seed)
            records = list(sim)
        began = time.monotonic()
        await run_pipeline(settings, out, records)
        elapsed = time.monotonic() - began
        report = summarize(settings, out, sim, elapsed, datetime.now().astimezone())
        console.print(f"\nreport: [bold]{report}[/]\ndatabase: {out / 'skillstream.db'}")
    finally:
        if ready is not None:
            await finish_topics(*ready, keep=keep)
        broker.stop()
        if started_local and keep:
            console.print("the local broker this demo started keeps running: `make kafka-down`")
        elif started_local:
            subprocess.run(["bash", str(KAFKA_SCRIPT), "down"], check=False)
            console.print("stopped the local broker this demo started")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="make demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--days", type=int, default=182)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", default="demo-output")
    parser.add_argument(
        "--keep-topics",
        action="store_true",
        help=f"keep this run's topics (and the broker) for inspection; also {KEEP_ENV}=1",
    )
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
