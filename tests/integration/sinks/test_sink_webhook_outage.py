"""A subscriber goes down mid-stream: within the retry budget nothing is lost; past it, exactly
the milestones it could not take are dead-lettered, and the stream goes on."""

from __future__ import annotations

from pydantic import SecretStr
from sink_contract import run_until_caught_up
from sink_factories import stream
from sink_kafka import dead_letters, produce
from sink_receiver import Receiver

from schemas.milestones import MilestoneDeliveryFailure
from sinks.webhook import DeliveryPolicy, WebhookSink
from skillstream.settings import Settings, Sinks, Webhook

SECRET = "outage-secret"


def webhook_sink(receiver: Receiver, sinks: Sinks) -> WebhookSink:
    subscriber = Webhook(name="lms-crm", url=receiver.url, secret=SecretStr(SECRET))
    return WebhookSink([subscriber], DeliveryPolicy.from_settings(sinks))


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
            "webhook_max_attempts": 30,
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
            "webhook_max_attempts": 3,
            "webhook_max_elapsed_s": 60.0,
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
        assert failure.attempts == 3
        assert "gave up after 3 attempts" in failure.error
        assert "webhook lms-crm (http://127.0.0.1:" in failure.error
    assert progress.dead_lettered == len(doomed)
    assert progress.consumed == len(events)
