"""audit trail and chain checkpoints

Revision ID: 0005_audit
Revises: 0004_jobs
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keepfaith.db.types
from keepfaith.db.appendonly import append_only, drop_append_only

revision = "0005_audit"
down_revision = "0004_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("stream", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column(
            "categories",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("purpose", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("stream", "seq", name=op.f("uq_audit_event_stream")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "chain_checkpoint",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("upto_id", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_checkpoint")),
    )
    with op.batch_alter_table("chain_checkpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_checkpoint_chain"), ["chain"], unique=False)

    op.create_table(
        "chain_checkpoint_entry",
        sa.Column(
            "checkpoint_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("stream", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["chain_checkpoint.id"],
            name=op.f("fk_chain_checkpoint_entry_checkpoint_id_chain_checkpoint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("checkpoint_id", "stream", name=op.f("pk_chain_checkpoint_entry")),
    )

    append_only("audit_event")
    append_only("chain_checkpoint")
    append_only("chain_checkpoint_entry")


def downgrade() -> None:
    for table in ("audit_event", "chain_checkpoint", "chain_checkpoint_entry"):
        drop_append_only(table)
    op.drop_table("chain_checkpoint_entry")
    with op.batch_alter_table("chain_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_checkpoint_chain"))

    op.drop_table("chain_checkpoint")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_subject_id"))

    op.drop_table("audit_event")
