"""jobs: tables of the jobs feature

Revision ID: 0004_jobs
Revises: 0003_staff
Create Date: 2026-11-23
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keepfaith.db.types

revision = "0004_jobs"
down_revision = "0003_staff"
branch_labels = None
depends_on = None

_UNFINISHED = "state IN ('queued', 'running')"


def _job_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", _job_id(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "dead",
                "cancelled",
                name="jobstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=200), nullable=True),
        sa.Column("locked_until", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_finished_at", ["finished_at"], unique=False)
        batch_op.create_index("ix_job_state_run_at", ["state", "run_at", "id"], unique=False)
        batch_op.create_index(
            "uq_job_dedupe_key_unfinished",
            ["dedupe_key"],
            unique=True,
            sqlite_where=sa.text(_UNFINISHED),
            postgresql_where=sa.text(_UNFINISHED),
        )

    op.create_table(
        "job_schedule",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_job_id", _job_id(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_schedule")),
    )


def downgrade() -> None:
    op.drop_table("job_schedule")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("uq_job_dedupe_key_unfinished")
        batch_op.drop_index("ix_job_state_run_at")
        batch_op.drop_index("ix_job_finished_at")
    op.drop_table("job")
