"""The contract every sink keeps, written once and run against each sink (STYLE.md).

A test module subclasses ``SinkContract`` and provides a ``harness`` fixture:
how to build the sink and how to read back what it recorded. Every test runs
against the real broker, on topics of its own, with the runner committing in
batches of 7 so that each test spans several batches and partitions.

What a sink promises (see sinks/base.py):
* one record per milestone id, however often the milestone is delivered;
* nothing lost when the process dies between writing a batch and committing it;
* each learner's milestones recorded in the order they were published;
* a record it cannot read goes to the dead-letter topic and the stream goes on.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from collections.abc import Sequence

import pytest
from sink_factories import stream
from sink_kafka import committed, dead_letters, produce

from schemas.milestones import MilestoneEvent
from sinks.base import Sink, SinkRecord, WriteResult
from sinks.deadletters import UnreadableRecord
from sinks.runner import Progress, SinkRunner
from skillstream.settings import Settings

RUN_TIMEOUT_S = 120.0


class SinkHarness(ABC):
    """One sink under test, and a way to see what it recorded."""

    name: str

    @abstractmethod
    def sink(self) -> Sink:
        """A fresh sink instance (a restarted process builds a new one)."""

    @abstractmethod
    async def recorded(self) -> list[tuple[str, str]]:
        """(learner, milestone id) in the order the sink recorded them, one per id."""

    @abstractmethod
    async def copies(self) -> Counter[str]:
        """How many records the sink's store holds per milestone id."""


class SimulatedCrashError(Exception):
    pass


class CrashAfterWrite(Sink):
    """Delegates to a sink, but 'dies' right after its n-th write: written, not committed."""

    def __init__(self, inner: Sink, crash_on_write: int) -> None:
        self.name, self.feeds = inner.name, inner.feeds
        self._inner = inner
        self._crash_on = crash_on_write
        self.batch_sizes: list[int] = []

    def describe(self) -> str:
        return self._inner.describe()

    async def start(self) -> None:
        await self._inner.start()

    async def close(self) -> None:
        await self._inner.close()

    async def write(self, batch: Sequence[SinkRecord]) -> WriteResult:
        result = await self._inner.write(batch)
        self.batch_sizes.append(len(batch))
        if len(self.batch_sizes) == self._crash_on:
            raise SimulatedCrashError(f"simulated crash after write {self._crash_on}")
        return result


async def run_until_caught_up(sink: Sink, settings: Settings, group: str | None = None) -> Progress:
    runner = SinkRunner(sink, settings, group_id=group, until_caught_up=True)
    async with asyncio.timeout(RUN_TIMEOUT_S):
        return await runner.run()


def in_order(events: Sequence[MilestoneEvent]) -> dict[str, list[str]]:
    by_learner: dict[str, list[str]] = defaultdict(list)
    for event in events:
        by_learner[event.data.learner].append(event.id)
    return dict(by_learner)


class SinkContract:
    """Subclass as ``Test<Sink>`` and override the ``harness`` fixture."""

    @pytest.fixture
    def harness(self) -> SinkHarness:
        raise NotImplementedError("a contract test class provides its sink's harness")

    async def test_a_milestone_delivered_twice_is_recorded_once(
        self, harness: SinkHarness, sink_settings: Settings, created_topics: object, bootstrap: str
    ) -> None:
        events = stream(learners=3, per_learner=4)
        topic = sink_settings.topics.milestones
        await produce(bootstrap, topic, [*events, events[0], events[5], events[0]])

        progress = await run_until_caught_up(harness.sink(), sink_settings)

        assert progress.consumed == len(events) + 3
        assert progress.dead_lettered == 0
        first = await harness.recorded()
        assert sorted(i for _, i in first) == sorted(e.id for e in events)
        assert set((await harness.copies()).values()) == {1}

        # A replay of the whole topic in a new group records nothing new.
        again = await run_until_caught_up(
            harness.sink(), sink_settings, group=f"{progress.group}-2"
        )
        assert again.consumed == len(events) + 3
        assert await harness.recorded() == first
        assert set((await harness.copies()).values()) == {1}

    async def test_a_crash_between_write_and_commit_loses_nothing(
        self, harness: SinkHarness, sink_settings: Settings, created_topics: object, bootstrap: str
    ) -> None:
        events = stream(learners=4, per_learner=10)
        topic = sink_settings.topics.milestones
        await produce(bootstrap, topic, events)
        crashing = CrashAfterWrite(harness.sink(), crash_on_write=3)
        runner = SinkRunner(crashing, sink_settings, until_caught_up=True)

        with pytest.raises(SimulatedCrashError):
            async with asyncio.timeout(RUN_TIMEOUT_S):
                await runner.run()

        done = (await committed(bootstrap, runner.group_id, [topic]))[topic]
        # Batches before the crash, and only those, may be committed: the runner writes
        # the next batch while the last one's dead letters are acknowledged, so the second
        # batch's commit may not have happened yet when the third write crashed.
        assert done in (sum(crashing.batch_sizes[:1]), sum(crashing.batch_sizes[:2]))
        assert done < len(events)

        restarted = await run_until_caught_up(harness.sink(), sink_settings)

        assert restarted.consumed == len(events) - done, "the crashed batch is read again"
        assert sorted(i for _, i in await harness.recorded()) == sorted(e.id for e in events)
        assert set((await harness.copies()).values()) == {1}
        assert (await committed(bootstrap, runner.group_id, [topic]))[topic] == len(events)

    async def test_each_learner_keeps_its_order(
        self, harness: SinkHarness, sink_settings: Settings, created_topics: object, bootstrap: str
    ) -> None:
        events = stream(learners=5, per_learner=8)
        await produce(bootstrap, sink_settings.topics.milestones, events)

        await run_until_caught_up(harness.sink(), sink_settings)

        seen: dict[str, list[str]] = defaultdict(list)
        for learner, milestone_id in await harness.recorded():
            seen[learner].append(milestone_id)
        assert dict(seen) == in_order(events)

    async def test_an_unreadable_record_is_dead_lettered_and_the_stream_goes_on(
        self, harness: SinkHarness, sink_settings: Settings, created_topics: object, bootstrap: str
    ) -> None:
        events = stream(learners=2, per_learner=5)
        garbage = (events[3].data.learner.encode(), b'{"specversion": "1.0", "id": 7')
        await produce(
            bootstrap, sink_settings.topics.milestones, [*events[:4], garbage, *events[4:]]
        )

        progress = await run_until_caught_up(harness.sink(), sink_settings)

        assert progress.dead_lettered == 1
        assert sorted(i for _, i in await harness.recorded()) == sorted(e.id for e in events)
        [letter] = await dead_letters(bootstrap, sink_settings.topics.milestones_dlq)
        assert isinstance(letter, UnreadableRecord)
        assert letter.sink == harness.name
        assert letter.value() == garbage[1]
        assert letter.source.topic == sink_settings.topics.milestones
        assert "not a milestone CloudEvent" in letter.error
