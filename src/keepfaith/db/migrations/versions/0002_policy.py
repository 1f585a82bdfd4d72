"""policy: published policy versions

Revision ID: 0002_policy
Revises: 0001_core
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keepfaith.db.types

revision = "0002_policy"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("effective_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.Column("material", sa.Boolean(), nullable=False),
        sa.Column(
            "changes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_version")),
        sa.UniqueConstraint("number", name=op.f("uq_policy_version_number")),
    )
    with op.batch_alter_table("policy_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_version_sha256"), ["sha256"], unique=False)
        batch_op.create_index(
            "ix_policy_version_effective_number", ["effective_at", "number"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("policy_version", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_version_effective_number")
        batch_op.drop_index(batch_op.f("ix_policy_version_sha256"))
    op.drop_table("policy_version")
