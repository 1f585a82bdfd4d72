"""prefs: sign-up requests awaiting their job

Revision ID: 0010_prefs
Revises: 0009_consent
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keepfaith.db.types

revision = "0010_prefs"
down_revision = "0009_consent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signup_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("user_agent_sha256", sa.String(length=64), nullable=True),
        sa.Column("sealed_address", sa.LargeBinary(), nullable=True),
        sa.Column(
            "choices",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("form_id", sa.String(length=100), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "web_form",
                "email_link",
                "api",
                "import",
                "gpc",
                "staff",
                "system",
                name="consentsource",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("gpc", sa.Boolean(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_signup_request_subject_id_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signup_request")),
    )
    with op.batch_alter_table("signup_request", schema=None) as batch_op:
        batch_op.create_index(
            "ix_signup_request_address_key_created_at", ["address_key", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_signup_request_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            "ix_signup_request_ip_prefix_created_at", ["ip_prefix", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_signup_request_subject_id"), ["subject_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("signup_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signup_request_subject_id"))
        batch_op.drop_index("ix_signup_request_ip_prefix_created_at")
        batch_op.drop_index(batch_op.f("ix_signup_request_created_at"))
        batch_op.drop_index("ix_signup_request_address_key_created_at")

    op.drop_table("signup_request")
