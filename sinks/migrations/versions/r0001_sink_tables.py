"""The SQL sink's first schema: milestones, learner_profiles, erased_learners.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _when(name: str, comment: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, comment=comment)


def upgrade() -> None:
    op.create_table(
        "milestones",
        sa.Column(
            "id", sa.String(), primary_key=True, comment="Milestone id (UUIDv5 of the achievement)."
        ),
        sa.Column("learner", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("skill", sa.String(), nullable=True),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        _when("achieved_at", "Event time."),
        sa.Column("evidence", _JSON, nullable=False, comment="Statement ids, a JSON array."),
        sa.Column("event", _JSON, nullable=False, comment="The whole CloudEvent."),
        sa.Column("source_partition", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        _when("published_at", "Kafka record time."),
        _when("received_at", "When the sink wrote the row."),
    )
    op.create_index("ix_milestones_learner_achieved_at", "milestones", ["learner", "achieved_at"])
    op.create_index("ix_milestones_kind_skill", "milestones", ["kind", "skill"])
    op.create_table(
        "learner_profiles",
        sa.Column("learner", sa.String(), primary_key=True),
        _when("as_of", "Newest event time in the profile."),
        _when("first_activity"),
        sa.Column("statements", sa.Integer(), nullable=False),
        sa.Column("courses_completed", sa.Integer(), nullable=False),
        sa.Column("events_attended", sa.Integer(), nullable=False),
        sa.Column("assessments", sa.Integer(), nullable=False),
        sa.Column("certifications", sa.Integer(), nullable=False),
        sa.Column("weekly_streak", sa.Integer(), nullable=False),
        sa.Column("longest_streak", sa.Integer(), nullable=False),
        sa.Column(
            "skills", sa.Integer(), nullable=False, comment="Number of skills in the snapshot."
        ),
        sa.Column(
            "milestones", sa.Integer(), nullable=False, comment="Number of milestones achieved."
        ),
        sa.Column("snapshot", _JSON, nullable=False, comment="The whole profile snapshot."),
        sa.Column("source_partition", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        _when("published_at", "Kafka record time."),
        _when("updated_at", "When the sink wrote the row."),
    )
    op.create_index("ix_learner_profiles_as_of", "learner_profiles", ["as_of"])
    op.create_table(
        "erased_learners",
        sa.Column("learner", sa.String(), primary_key=True),
        _when("erased_at", "Rows published up to this instant are gone and stay gone on replay."),
    )


def downgrade() -> None:
    op.drop_table("erased_learners")
    op.drop_index("ix_learner_profiles_as_of", table_name="learner_profiles")
    op.drop_table("learner_profiles")
    op.drop_index("ix_milestones_kind_skill", table_name="milestones")
    op.drop_index("ix_milestones_learner_achieved_at", table_name="milestones")
    op.drop_table("milestones")
