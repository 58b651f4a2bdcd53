"""Learner queries read what the SQL sink wrote, on SQLite and on PostgreSQL.

Rows are written with the sink's own ``SqlSink.write_sync``, so the front door
is tested against exactly the tables and encodings the sink produces.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from frontdoor_builders import PASSWORD, USERNAME
from frontdoor_server import front_settings

from schemas.identity import learner_keys
from schemas.milestones import MilestoneData, MilestoneEvent, MilestoneKind
from schemas.profiles import ProfileSnapshot, SkillSnapshot
from sinks.base import MilestoneRecord, ProfileRecord, Source
from sinks.database import upgrade
from sinks.sql import SqlSink
from skillstream.frontdoor import create_app
from skillstream.frontdoor.statements import Outgoing
from skillstream.settings import Settings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEARNER = "lrn_frontdoorqueries000000000"


class NoKafka:
    """The queries need no broker: a publisher that is never asked to publish."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, records: Sequence[Outgoing], version: str) -> None:
        raise AssertionError("queries must not publish")

    async def check(self, timeout_s: float) -> str:
        return "not used"


def source(offset: int, topic: str = "career.milestones") -> Source:
    return Source(topic, 0, offset, int(T0.timestamp() * 1000) + offset, None, None)


def milestone(level: str, at: datetime, who: str = LEARNER) -> MilestoneEvent:
    return MilestoneEvent.of(
        MilestoneData(
            kind=MilestoneKind.SKILL_LEVEL_REACHED,
            rule="python-levels",
            learner=who,
            level=level,
            skill="python",
            skills=("python",),
            title=f"python {level}",
            evidence=("2d9a3c1e-0000-4000-8000-000000000001",),
            achieved_at=at,
        )
    )


def snapshot(as_of: datetime, statements: int, who: str = LEARNER) -> ProfileSnapshot:
    return ProfileSnapshot(
        learner=who,
        as_of=as_of,
        first_activity=T0,
        statements=statements,
        courses_completed=1,
        events_attended=0,
        assessments=2,
        certifications=0,
        collaborations=0,
        weekly_streak=1,
        longest_streak=1,
        window_days=90,
        events_in_window=0,
        activity_in_window=statements,
        skills=(
            SkillSnapshot(
                skill="python",
                category="technical",
                proficiency=0.8,
                assessments=2,
                latest_score=0.9,
                best_score=0.9,
                courses_completed=1,
                events_attended=0,
                last_activity=as_of,
            ),
        ),
        milestones=(),
    )


@pytest.fixture
async def client(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    upgrade(database_url)
    sink = SqlSink(database_url)
    later, earlier = T0 + timedelta(days=9), T0 + timedelta(days=2)
    sink.write_sync(
        [
            MilestoneRecord(milestone("expert", later), source(1)),
            MilestoneRecord(milestone("specialist", earlier), source(2)),
            MilestoneRecord(milestone("expert", later, who="lrn_someoneelse"), source(3)),
            ProfileRecord(LEARNER, snapshot(later, 7), source(4, "learner.profiles")),
            ProfileRecord(LEARNER, snapshot(earlier, 3), source(5, "learner.profiles")),
        ]
    )
    await sink.close()
    front = front_settings(settings).model_copy(update={"database_url": database_url})
    app = create_app(front, publisher=NoKafka())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", auth=(USERNAME, PASSWORD)
    ) as c:
        yield c


async def test_profile_is_the_newest_snapshot(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/learners/{LEARNER}/profile")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["learner"] == LEARNER
    assert body["statements"] == 7
    assert body["skills"][0]["skill"] == "python"
    assert ProfileSnapshot.model_validate_json(response.content).as_of == T0 + timedelta(days=9)


async def test_unknown_learner_profile_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/learners/lrn_nobody/profile")
    assert response.status_code == 404
    assert "lrn_nobody" in response.json()["error"]


async def test_milestones_by_achieved_at(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/learners/{LEARNER}/milestones")
    assert response.status_code == 200, response.text
    events = [MilestoneEvent.model_validate_json(orjson.dumps(e)) for e in response.json()]
    assert [e.data.level for e in events] == ["specialist", "expert"]
    assert {e.data.learner for e in events} == {LEARNER}


async def test_unknown_learner_has_no_milestones(client: httpx.AsyncClient) -> None:
    response = await client.get("/learners/lrn_nobody/milestones")
    assert response.json() == []


async def test_queries_need_the_credential(client: httpx.AsyncClient) -> None:
    client.auth = httpx.BasicAuth(USERNAME, "wrong")
    assert (await client.get(f"/learners/{LEARNER}/profile")).status_code == 401


async def test_unreachable_database_is_503_naming_it(settings: Settings) -> None:
    url = "postgresql+psycopg://reader:secret@127.0.0.1:1/nowhere"
    front = front_settings(settings).model_copy(update={"database_url": url})
    app = create_app(front, publisher=NoKafka())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t", auth=(USERNAME, PASSWORD)
    ) as c:
        response = await c.get(f"/learners/{LEARNER}/profile")
        health = await c.get("/healthz")
    assert response.status_code == 503
    assert "127.0.0.1:1/nowhere" in response.json()["error"]
    assert "secret" not in response.text
    assert health.status_code == 503
    assert health.json()["database"]["ok"] is False


async def test_query_by_agent_answers_as_by_key(
    client: httpx.AsyncClient, settings: Settings, database_url: str
) -> None:
    """The key is hashed from the agent with the configured secret, as the pipeline does."""
    mbox = "mailto:ada@example.com"
    key = learner_keys({"mbox": mbox}, settings.learner_secret_bytes)[0]
    sink = SqlSink(database_url)
    sink.write_sync(
        [
            MilestoneRecord(milestone("expert", T0 + timedelta(days=3), who=key), source(10)),
            ProfileRecord(
                key, snapshot(T0 + timedelta(days=3), 4, who=key), source(11, "learner.profiles")
            ),
        ]
    )
    await sink.close()
    sha1 = hashlib.sha1(mbox.encode()).hexdigest()
    for agent in ({"mbox": mbox}, {"objectType": "Agent", "mbox_sha1sum": sha1}):
        params = {"agent": orjson.dumps(agent).decode()}
        for query in ("profile", "milestones"):
            by_agent = await client.get(f"/learners/{query}", params=params)
            by_key = await client.get(f"/learners/{key}/{query}")
            assert by_agent.status_code == 200, by_agent.text
            assert by_agent.json()
            assert by_agent.json() == by_key.json()
        profile = (await client.get("/learners/profile", params=params)).json()
        assert (profile["learner"], profile["statements"]) == (key, 4)

    bad = await client.get("/learners/milestones", params={"agent": '{"mbox": "ada@example.com"}'})
    assert bad.status_code == 400
    assert bad.json()["problems"][0]["path"] == "$.mbox"
    assert "ada@" not in bad.text

    client.auth = None  # type: ignore[assignment]
    for query in ("profile", "milestones"):
        refused = await client.get(
            f"/learners/{query}", params={"agent": orjson.dumps({"mbox": mbox}).decode()}
        )
        assert refused.status_code == 401
        assert "ada@" not in refused.text
