"""campaigns: campaigns, message templates, and the campaign of a message

Revision ID: 0012_campaigns
Revises: 0011_suppression
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keepfaith.db.types

revision = "0012_campaigns"
down_revision = "0011_suppression"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("text_template", sa.Text(), nullable=False),
        sa.Column("html_template", sa.Text(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "scheduled",
                "sending",
                "sent",
                "cancelled",
                name="campaignstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("scheduled_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_by", sa.String(length=80), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column(
            "audience",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("queued_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign")),
    )
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_state_created_at", ["state", "created_at"], unique=False)

    op.create_table(
        "message_template",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("text_template", sa.Text(), nullable=False),
        sa.Column("html_template", sa.Text(), nullable=True),
        sa.Column("promotional", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_message_template")),
    )
    with op.batch_alter_table("mail_message", schema=None) as batch_op:
        # A message's campaign, if any (its new `cancelled` state needs no change: the column
        # is a plain VARCHAR, as for every enum).
        batch_op.add_column(sa.Column("campaign_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            "ix_mail_message_campaign_id_state", ["campaign_id", "state"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_mail_message_campaign_id_campaign"), "campaign", ["campaign_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_message", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_mail_message_campaign_id_campaign"), type_="foreignkey"
        )
        batch_op.drop_index("ix_mail_message_campaign_id_state")
        batch_op.drop_column("campaign_id")

    op.drop_table("message_template")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_state_created_at")

    op.drop_table("campaign")
