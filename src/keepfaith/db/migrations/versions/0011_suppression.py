"""suppression: the suppression list, and requests for an unsubscribe link

Revision ID: 0011_suppression
Revises: 0010_prefs
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keepfaith.db.types

revision = "0011_suppression"
down_revision = "0010_prefs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppression",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("index_version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "unsubscribed",
                "hard_bounce",
                "erased",
                "staff",
                name="suppressionreason",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("created_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "channel", "scope", "index_version", "digest", name=op.f("pk_suppression")
        ),
    )
    op.create_table(
        "unsubscribe_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("sealed_address", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unsubscribe_request")),
    )
    with op.batch_alter_table("unsubscribe_request", schema=None) as batch_op:
        batch_op.create_index(
            "ix_unsubscribe_request_address_key_created_at",
            ["address_key", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_unsubscribe_request_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            "ix_unsubscribe_request_ip_prefix_created_at", ["ip_prefix", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("unsubscribe_request", schema=None) as batch_op:
        batch_op.drop_index("ix_unsubscribe_request_ip_prefix_created_at")
        batch_op.drop_index(batch_op.f("ix_unsubscribe_request_created_at"))
        batch_op.drop_index("ix_unsubscribe_request_address_key_created_at")

    op.drop_table("unsubscribe_request")
    op.drop_table("suppression")
