"""Every SQL statement of the README and docs/sinks.md runs, verbatim, on SQLite and PostgreSQL.

A statement whose comment names one database runs on that one; ``(both)`` on each. The
tables are filled by the SQL sink itself, with times relative to the database's own clock,
so "the last 7 days" means the same thing to the query and to the test.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sink_factories import m_record, milestone, p_record, snapshot
from sqlalchemy import Engine, text

from schemas.milestones import MilestoneKind
from sinks.database import make_engine, upgrade
from sinks.sql import SqlSink

ROOT = Path(__file__).resolve().parents[3]
DOCUMENTS = (ROOT / "README.md", ROOT / "docs" / "sinks.md")
DIALECTS = {"SQLite": "sqlite", "PostgreSQL": "postgresql", "both": None}


def readme_statements() -> list[tuple[str, str | None, str]]:
    """(first comment line, dialect or None for both, statement) for each documented statement."""
    blocks = [
        block
        for document in DOCUMENTS
        for block in re.findall(r"```sql\n(.*?)```", document.read_text("utf-8"), flags=re.S)
    ]
    found = []
    for block in blocks:
        for chunk in block.split(";"):
            lines = [line for line in chunk.strip().splitlines() if line.strip()]
            comments = [line for line in lines if line.lstrip().startswith("--")]
            code = "\n".join(line for line in lines if not line.lstrip().startswith("--"))
            if not code.strip():
                continue
            label = re.search(r"\((?:[^)]*, )?(SQLite|PostgreSQL|both)[^)]*\)\s*$", comments[0])
            assert label, f"say which database runs it: {comments[0]!r}"
            found.append((comments[0], DIALECTS[label.group(1)], code))
    return found


STATEMENTS = readme_statements()


def database_now(engine: Engine) -> datetime:
    with engine.connect() as conn:
        value = conn.execute(text("SELECT CURRENT_TIMESTAMP")).scalar_one()
    if isinstance(value, str):  # SQLite: UTC text
        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


@pytest.fixture
async def filled(database_url: str) -> Any:
    """Role-ready 2 days ago (lrn_recent) and 30 days ago (lrn_old); streaks 5 and 9."""
    upgrade(database_url)
    engine = make_engine(database_url)
    now = database_now(engine)
    sink = SqlSink(database_url)
    await sink.start()
    role = MilestoneKind.ROLE_READY
    await sink.write(
        [
            m_record(
                milestone(
                    "lrn_recent",
                    kind=role,
                    skill="data/analyst",
                    level="analyst",
                    at=now - timedelta(days=2),
                ),
                1,
            ),
            m_record(
                milestone(
                    "lrn_old",
                    kind=role,
                    skill="data/analyst",
                    level="analyst",
                    at=now - timedelta(days=30),
                ),
                2,
            ),
            m_record(milestone("lrn_old", level="expert", at=now - timedelta(days=40)), 3),
            p_record(
                "lrn_recent", snapshot("lrn_recent", now).model_copy(update={"weekly_streak": 5}), 4
            ),
            p_record(
                "lrn_old", snapshot("lrn_old", now).model_copy(update={"weekly_streak": 9}), 5
            ),
        ]
    )
    await sink.close()
    yield engine
    engine.dispose()


def run(engine: Engine, statement: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(statement))]


def test_the_readme_has_statements_for_both_databases() -> None:
    dialects = {dialect for _, dialect, _ in STATEMENTS}
    assert dialects == {"sqlite", "postgresql", None}


@pytest.mark.parametrize(
    ("title", "dialect", "statement"), STATEMENTS, ids=[s[0] for s in STATEMENTS]
)
def test_each_readme_statement_runs_verbatim(
    title: str, dialect: str | None, statement: str, filled: Engine
) -> None:
    if dialect is not None and filled.dialect.name != dialect:
        pytest.skip(f"{title!r} is for {dialect}")
    rows = run(filled, statement)
    if "role-ready in the last 7 days" in title:
        assert [r[0] for r in rows] == ["lrn_recent"]
        assert all(r[1] == "data/analyst" for r in rows)
    elif "per kind" in title:
        assert rows == [("role_ready", 2), ("skill_level_reached", 1)]
    elif "streaks" in title:
        assert rows == [("lrn_old", 9), ("lrn_recent", 5)]
    else:
        pytest.fail(f"no expectation for the README statement {title!r}: add one here")
