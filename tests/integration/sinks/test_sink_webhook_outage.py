"""A subscriber goes down mid-stream: within the retry budget nothing is lost; past it, exactly
the milestones it could not take are dead-lettered, and the stream goes on.

The retry budget is a time (``webhook_max_elapsed_s`` since a milestone's first attempt);
``test_a_receiver_down_for_20s_with_the_default_budget_loses_nothing`` is the outage of
issue 11 item 7 in real time, with every default.
"""

from __future__ import annotations

import asyncio
import time

from sink_contract import run_until_caught_up
from sink_factories import stream
from sink_kafka import dead_letters, produce
from sink_receiver import Receiver

from schemas.milestones import MilestoneDeliveryFailure
from sinks.webhook import DeliveryPolicy, WebhookSink
from skillstream.settings import Settings, Sinks
from tools.processes import free_port

SECRET = "outage-secret"
OUTAGE_S = 20.0


def webhook_sink(receiver: Receiver, sinks: Sinks) -> WebhookSink:
    return WebhookSink([receiver.subscriber("lms-crm")], DeliveryPolicy.from_settings(sinks))


async def test_a_receiver_down_for_20s_with_the_default_budget_loses_nothing(
    settings: Settings, created_topics: object, bootstrap: str
) -> None:
    """Connections refused for 20 s of real time, then the receiver starts; default settings.

    With the old attempt cap (8 attempts of full-jitter backoff, often over in under
    20 s) about one learner's first milestone in six was dead-lettered here.
    """
    events = stream(learners=40, per_learner=2)
    sinks = Sinks()
    assert sinks.webhook_max_elapsed_s == 60.0
    settings = settings.model_copy(update={"sinks": sinks})
    await produce(bootstrap, settings.topics.milestones, events)
    receiver = Receiver(SECRET, port=free_port())
    started = time.monotonic()

    async def come_back() -> None:
        await asyncio.sleep(OUTAGE_S)
        await receiver.start()

    coming_back = asyncio.create_task(come_back())
    try:
        progress = await run_until_caught_up(webhook_sink(receiver, sinks), settings)
        await coming_back
    finally:
        coming_back.cancel()
        await receiver.stop()

    assert time.monotonic() - started >= OUTAGE_S, "the sink waited for the receiver"
    assert progress.dead_lettered == 0
    assert await dead_letters(bootstrap, settings.topics.milestones_dlq) == []
    assert sorted(receiver.ids()) == sorted(e.id for e in events), "each delivered, once"
    assert receiver.duplicates == 0
    assert receiver.bad_signatures == 0
    assert progress.consumed == len(events)


async def test_an_outage_within_the_budget_loses_nothing_and_dead_letters_nothing(
    sink_settings: Settings, created_topics: object, bootstrap: str
) -> None:
    events = stream(learners=6, per_learner=10)
    outage = {"on": False, "failed": 0}
    failures_in_outage = 12

    def behaviour(event_id: str, _n: int) -> str:
        if event_id == events[20].id:
            outage["on"] = True
        if outage["on"] and outage["failed"] < failures_in_outage:
            outage["failed"] += 1
            return "500" if outage["failed"] % 2 else "hang"
        return "ok"

    sinks = sink_settings.sinks.model_copy(
        update={
            "batch_size": 10,
            "webhook_timeout_s": 0.3,
            "webhook_max_elapsed_s": 60.0,
            "retry_initial_s": 0.05,
            "retry_max_s": 0.2,
        }
    )
    settings = sink_settings.model_copy(update={"sinks": sinks})
    await produce(bootstrap, settings.topics.milestones, events)

    async with Receiver(SECRET, behaviour) as receiver:
        progress = await run_until_caught_up(webhook_sink(receiver, sinks), settings)

    assert outage["failed"] == failures_in_outage, "the outage happened, 500s and timeouts"
    assert receiver.answers["500"] == receiver.answers["hang"] == failures_in_outage // 2
    assert sorted(receiver.ids()) == sorted(e.id for e in events)
    assert receiver.bad_signatures == 0
    assert progress.dead_lettered == 0
    assert await dead_letters(bootstrap, settings.topics.milestones_dlq) == []


async def test_past_the_budget_exactly_the_milestones_it_refused_are_dead_lettered(
    sink_settings: Settings, created_topics: object, bootstrap: str
) -> None:
    events = stream(learners=6, per_learner=10)
    doomed = {e.id for e in events[20:30]}

    def behaviour(event_id: str, n: int) -> str:
        if event_id in doomed:
            return "500" if n % 2 else "hang"
        return "ok"

    sinks = sink_settings.sinks.model_copy(
        update={
            "batch_size": 10,
            "webhook_timeout_s": 0.3,
            "webhook_max_elapsed_s": 1.0,
            "retry_initial_s": 0.05,
            "retry_max_s": 0.2,
        }
    )
    settings = sink_settings.model_copy(update={"sinks": sinks})
    await produce(bootstrap, settings.topics.milestones, events)

    async with Receiver(SECRET, behaviour) as receiver:
        progress = await run_until_caught_up(webhook_sink(receiver, sinks), settings)

    assert sorted(receiver.ids()) == sorted(e.id for e in events if e.id not in doomed)
    letters = await dead_letters(bootstrap, settings.topics.milestones_dlq)
    assert all(isinstance(letter, MilestoneDeliveryFailure) for letter in letters)
    failures = [letter for letter in letters if isinstance(letter, MilestoneDeliveryFailure)]
    assert sorted(f.milestone.id for f in failures) == sorted(doomed)
    for failure in failures:
        assert failure.sink == "webhook:lms-crm"
        assert failure.attempts >= 3, "retried for a second: at most 0.2 s between attempts"
        assert "the 1s retry budget since the first attempt is spent" in failure.error
        assert "webhook lms-crm (http://127.0.0.1:" in failure.error
    assert progress.dead_lettered == len(doomed)
    assert progress.consumed == len(events)
