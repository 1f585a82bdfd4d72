"""tables of the staff feature

Revision ID: 0003_staff
Revises: 0002_policy
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import keepfaith.db.types

revision = "0003_staff"
down_revision = "0002_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_member",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column(
            "password_changed_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("totp_secret", sa.LargeBinary(length=256), nullable=True),
        sa.Column("totp_enabled_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("disabled_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_member")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_member_email")),
    )
    op.create_table(
        "staff_sign_in_failure",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("identifier_key", sa.String(length=64), nullable=False),
        sa.Column("ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sign_in_failure")),
    )
    with op.batch_alter_table("staff_sign_in_failure", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_sign_in_failure_ip_prefix"), ["ip_prefix"], unique=False
        )
        batch_op.create_index(
            "ix_staff_sign_in_failure_key_at", ["identifier_key", "at"], unique=False
        )

    op.create_table(
        "api_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prefix", sa.String(length=24), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff_member.id"],
            name=op.f("fk_api_key_created_by_staff_member"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_key_prefix")),
    )
    op.create_table(
        "staff_recovery_code",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_member.id"],
            name=op.f("fk_staff_recovery_code_staff_id_staff_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_recovery_code")),
    )
    with op.batch_alter_table("staff_recovery_code", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_recovery_code_staff_id"), ["staff_id"], unique=False
        )

    op.create_table(
        "staff_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("second_factor_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("client", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_member.id"],
            name=op.f("fk_staff_session_staff_id_staff_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_session")),
    )
    with op.batch_alter_table("staff_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_session_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_session_staff_id"))

    op.drop_table("staff_session")
    with op.batch_alter_table("staff_recovery_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_recovery_code_staff_id"))

    op.drop_table("staff_recovery_code")
    op.drop_table("api_key")
    with op.batch_alter_table("staff_sign_in_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_sign_in_failure_key_at")
        batch_op.drop_index(batch_op.f("ix_staff_sign_in_failure_ip_prefix"))

    op.drop_table("staff_sign_in_failure")
    op.drop_table("staff_member")
