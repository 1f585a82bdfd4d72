"""consent ledger and state

Revision ID: 0009_consent
Revises: 0008_account
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keepfaith.db.types
from keepfaith.db.appendonly import append_only, drop_append_only

revision = "0009_consent"
down_revision = "0008_account"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("stream", sa.String(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "given",
                "renewed",
                "requested",
                "withdrawn",
                "objected",
                "gpc-signal",
                "expired",
                "soft-opt-in",
                name="consentaction",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=True),
        sa.Column("explicit", sa.Boolean(), nullable=False),
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
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("form_id", sa.String(length=100), nullable=True),
        sa.Column("ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("user_agent_sha256", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_consent_event_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_event")),
        sa.UniqueConstraint("stream", "seq", name=op.f("uq_consent_event_stream")),
    )
    op.create_table(
        "consent_state",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "given",
                "requested",
                "withdrawn",
                "objected",
                "gpc",
                "expired",
                "soft_opt_in",
                name="consentstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("since", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gpc_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_consent_state_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("subject_id", "purpose", name=op.f("pk_consent_state")),
    )
    with op.batch_alter_table("consent_state", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_state_purpose_status", ["purpose", "status"], unique=False
        )

    append_only("consent_event")


def downgrade() -> None:
    drop_append_only("consent_event")
    with op.batch_alter_table("consent_state", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_state_purpose_status")

    op.drop_table("consent_state")
    op.drop_table("consent_event")
