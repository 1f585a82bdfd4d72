"""account: passwordless sign-in requests and subject sessions

Revision ID: 0008_account
Revises: 0007_mail
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keepfaith.db.types

revision = "0008_account"
down_revision = "0007_mail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("client", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_account_session_subject_id_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_session")),
    )
    with op.batch_alter_table("account_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_session_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_account_session_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "account_sign_in",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("sealed_address", sa.LargeBinary(), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("link_hash", sa.String(length=64), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("failed_codes", sa.Integer(), nullable=False),
        sa.Column("used_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("burned_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_account_sign_in_subject_id_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_sign_in")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_account_sign_in_link_hash")),
    )
    with op.batch_alter_table("account_sign_in", schema=None) as batch_op:
        batch_op.create_index(
            "ix_account_sign_in_address_key_created_at", ["address_key", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_account_sign_in_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            "ix_account_sign_in_ip_prefix_created_at", ["ip_prefix", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_account_sign_in_subject_id"), ["subject_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("account_sign_in", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_sign_in_subject_id"))
        batch_op.drop_index("ix_account_sign_in_ip_prefix_created_at")
        batch_op.drop_index(batch_op.f("ix_account_sign_in_created_at"))
        batch_op.drop_index("ix_account_sign_in_address_key_created_at")

    op.drop_table("account_sign_in")
    with op.batch_alter_table("account_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_session_subject_id"))
        batch_op.drop_index(batch_op.f("ix_account_session_expires_at"))

    op.drop_table("account_session")
