"""One connection to Kafka for an operator command: topics, offsets and consumer groups.

``Cluster`` is an async context manager holding an admin client and a
group-less consumer (for offset look-ups). Every Kafka failure leaves it as
``ServiceUnavailable`` (exit 3) naming the broker and the step that failed;
a topic that does not exist is a ``UsageError`` (exit 2) saying how to
create it.

Two things here work around the Kafka client:

* aiokafka 0.14 decodes a version-3 DescribeGroups answer with the version-2
  layout and fails on Kafka 4 brokers, so groups are described with a request
  limited to versions 1–2 (``_DescribeGroups``);
* a stopped group's offsets are moved the way ``kafka-consumer-groups
  --reset-offsets`` does it: a consumer in that group, with partitions
  assigned by hand, commits them. The group coordinator accepts that commit
  only while the group has no member, so a worker that starts meanwhile makes
  the commit fail instead of being moved under its feet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError
from aiokafka.protocol.admin import DescribeGroupsRequest_v1, DescribeGroupsRequest_v2
from aiokafka.protocol.api import Request

from skillstream.errors import ServiceUnavailable, UsageError
from skillstream.topics import TopicPlan
from streams.kafka.connection import KafkaConnection, connection

KAFKA_HINT = (
    "start a broker with `make kafka-up`, or point SKILLSTREAM_KAFKA__BOOTSTRAP_SERVERS "
    "(or KAFKA_BOOTSTRAP_SERVERS) at a running cluster"
)
QUIET_STATES = frozenset({"Empty", "Dead"})
"""Group states with nobody consuming: ``Empty`` (offsets kept) and ``Dead`` (no group)."""


class GroupBusyError(UsageError):
    """A consumer group has members, so its offsets cannot be moved (exit 2)."""


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    client_id: str
    host: str


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """What the group coordinator says about one consumer group."""

    name: str
    state: str
    members: tuple[Member, ...]

    @property
    def exists(self) -> bool:
        return self.state != "Dead"

    @property
    def active(self) -> bool:
        """Someone is in the group (consuming, joining or rebalancing)."""
        return bool(self.members) or self.state not in QUIET_STATES


class _DescribeGroups(Request[DescribeGroupsRequest_v1 | DescribeGroupsRequest_v2]):  # type: ignore[misc]
    """DescribeGroups, versions 1–2 only (see the module docstring)."""

    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: Any) -> Any:
        return request_struct_class(self._groups)


class Cluster:
    """Kafka for one operator command; use ``async with Cluster(bootstrap) as cluster``."""

    def __init__(self, kafka: KafkaConnection | str, *, request_timeout_ms: int = 15_000) -> None:
        self.kafka = connection(kafka).model_copy(update={"request_timeout_ms": request_timeout_ms})
        self.bootstrap = self.kafka.bootstrap_servers
        self._admin: Any = None
        self._consumer: Any = None

    async def __aenter__(self) -> Cluster:
        await asyncio.to_thread(self.kafka.check_reachable)
        admin = self.kafka.admin(client="operator")
        consumer = self.kafka.consumer(client="operator", group_id=None, enable_auto_commit=False)
        try:
            await admin.start()
            await consumer.start()
            # aiokafka starts a background task in start() and awaits it in stop(); a stop
            # before that task ever ran raises CancelledError, so let it run once.
            await asyncio.sleep(0)
        except (KafkaError, OSError) as exc:
            await consumer.stop()
            await admin.close()
            raise self.unavailable("connecting", exc) from exc
        self._admin, self._consumer = admin, consumer
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()
        self._admin = self._consumer = None

    # --- errors ----------------------------------------------------------------------------

    def unavailable(self, step: str, exc: BaseException) -> ServiceUnavailable:
        return ServiceUnavailable(
            "Kafka", f"{step} at {self.bootstrap} failed: {type(exc).__name__}: {exc}", KAFKA_HINT
        )

    @contextmanager
    def _step(self, step: str) -> Iterator[None]:
        try:
            yield
        except (KafkaError, OSError) as exc:
            raise self.unavailable(step, exc) from exc

    # --- topics ----------------------------------------------------------------------------

    async def topic_names(self) -> set[str]:
        with self._step("listing topics"):
            return set(await self._admin.list_topics())

    async def partitions(self, topic: str) -> list[TopicPartition]:
        """Every partition of ``topic``, in order; ``UsageError`` if the topic does not exist."""
        found = await self.partitions_if_exists(topic)
        if found is None:
            raise UsageError(
                f"topic {topic} does not exist on {self.bootstrap}: create skillstream's "
                "topics with `skillstream topics create` (a worker creates them too), "
                "or check SKILLSTREAM_TOPICS__* names the topics you mean"
            )
        return found

    async def partitions_if_exists(self, topic: str) -> list[TopicPartition] | None:
        with self._step(f"describing topic {topic}"):
            described = await self._admin.describe_topics([topic])
        for entry in described:
            if entry["topic"] == topic and entry["error_code"] == 0 and entry["partitions"]:
                numbers = sorted(int(p["partition"]) for p in entry["partitions"])
                return [TopicPartition(topic, n) for n in numbers]
        return None

    async def delete_topic(self, name: str, timeout_s: float = 60.0) -> bool:
        """Delete ``name`` and wait until the broker no longer lists it; False if it was absent."""
        with self._step(f"deleting topic {name}"):
            response = await self._admin.delete_topics([name])
        existed = True
        for topic, code, *_ in response.topic_error_codes:
            if topic != name or code == 0:
                continue
            if code == UnknownTopicOrPartitionError.errno:
                existed = False
            else:
                raise ServiceUnavailable(
                    "Kafka", f"{self.bootstrap} refused to delete topic {name}: error {code}"
                )
        deadline = time.monotonic() + timeout_s
        while name in await self.topic_names():
            if time.monotonic() > deadline:
                raise ServiceUnavailable(
                    "Kafka", f"topic {name} was still listed {timeout_s:.0f}s after its deletion"
                )
            await asyncio.sleep(0.25)
        return existed

    async def create_topic(
        self, plan: TopicPlan, replication_factor: int, timeout_s: float = 60.0
    ) -> None:
        """Create ``plan``'s topic, retrying while a deletion of the same name completes."""
        deadline = time.monotonic() + timeout_s
        while True:
            new = NewTopic(
                name=plan.name,
                num_partitions=plan.partitions,
                replication_factor=replication_factor,
                topic_configs=dict(plan.config),
            )
            with self._step(f"creating topic {plan.name}"):
                response = await self._admin.create_topics([new])
            code, message = 0, ""
            for name, err, *rest in response.topic_errors:
                if name == plan.name:
                    code, message = err, (rest[0] if rest else "") or ""
            if code == 0:
                break
            if code != TopicAlreadyExistsError.errno or time.monotonic() > deadline:
                raise ServiceUnavailable(
                    "Kafka", f"could not create topic {plan.name}: error {code} {message}".strip()
                )
            await asyncio.sleep(0.5)  # the previous topic of that name is still being deleted
        while await self.partitions_if_exists(plan.name) is None:
            if time.monotonic() > deadline:
                raise ServiceUnavailable("Kafka", f"topic {plan.name} created but not served")
            await asyncio.sleep(0.25)

    # --- offsets ---------------------------------------------------------------------------

    async def beginning_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        if not tps:
            return {}
        with self._step("reading beginning offsets"):
            return dict(await self._consumer.beginning_offsets(list(tps)))

    async def end_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        if not tps:
            return {}
        with self._step("reading end offsets"):
            return dict(await self._consumer.end_offsets(list(tps)))

    async def offsets_at(
        self, tps: Sequence[TopicPartition], timestamp_ms: int
    ) -> dict[TopicPartition, int]:
        """Per partition, the first offset whose record time is >= ``timestamp_ms``.

        A partition with no such record gets its end offset: nothing to re-read.
        """
        if not tps:
            return {}
        with self._step("looking up offsets by time"):
            found = await self._consumer.offsets_for_times(dict.fromkeys(tps, timestamp_ms))
        end = await self.end_offsets(tps)
        return {tp: (found[tp].offset if found.get(tp) is not None else end[tp]) for tp in tps}

    async def committed(
        self, group: str, tps: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int | None]:
        """The group's committed offset per partition (None: never committed)."""
        if not tps:
            return {}
        with self._step(f"reading the offsets of group {group}"):
            found = await self._admin.list_consumer_group_offsets(group, partitions=list(tps))
        out: dict[TopicPartition, int | None] = {}
        for tp in tps:
            meta = found.get(tp)
            out[tp] = meta.offset if meta is not None and meta.offset >= 0 else None
        return out

    # --- groups ----------------------------------------------------------------------------

    async def describe_groups(self, names: Sequence[str]) -> dict[str, GroupInfo]:
        out: dict[str, GroupInfo] = {}
        with self._step("describing consumer groups"):
            for name in names:
                node = await self._admin.find_coordinator(name)
                response = await self._admin._send_request(_DescribeGroups([name]), node)
                for entry in response.to_object()["groups"]:
                    members = tuple(
                        Member(m["member_id"], m["client_id"], m["client_host"])
                        for m in entry["members"]
                    )
                    out[entry["group"]] = GroupInfo(entry["group"], entry["state"], members)
        for name in names:
            out.setdefault(name, GroupInfo(name, "Dead", ()))
        return out

    async def commit_stopped_group(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Set a group's committed offsets; ``GroupBusyError`` if the group has members."""
        if not offsets:
            return
        consumer = self.kafka.consumer(client="operator", group_id=group, enable_auto_commit=False)
        with self._step(f"joining group {group} to move its offsets"):
            await consumer.start()
        try:
            consumer.assign(list(offsets))
            try:
                await consumer.commit(dict(offsets))
            except KafkaError as exc:
                raise GroupBusyError(
                    f"Kafka refused to move the offsets of consumer group {group} "
                    f"({type(exc).__name__}): a member joined it meanwhile. Stop every "
                    "process of that group and try again."
                ) from exc
        finally:
            await consumer.stop()
