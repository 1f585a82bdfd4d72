"""vault: subjects, keys, personal data, blind indexes, data events

Revision ID: 0006_subjects
Revises: 0005_audit
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import keepfaith.db.types

revision = "0006_subjects"
down_revision = "0005_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "customer",
                "member",
                "subscriber",
                "visitor",
                "contact",
                "other",
                name="subjectkind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "active", "restricted", "erased", name="subjectstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("created_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("erased_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("erasure_reason", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject")),
    )
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            "ix_subject_status_created_at", ["status", "created_at"], unique=False
        )

    op.create_table(
        "data_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=128), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "collected",
                "corrected",
                "confirmed",
                "deleted",
                name="dataaction",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "form",
                "import",
                "api",
                "staff",
                "connected_store",
                "subject",
                name="datasource",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_data_event_subject_id_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_event")),
    )
    with op.batch_alter_table("data_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_event_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "personal_datum",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=128), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "form",
                "import",
                "api",
                "staff",
                "connected_store",
                "subject",
                name="datasource",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "purposes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("collected_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_personal_datum_subject_id_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_id", "category", name=op.f("pk_personal_datum")),
    )
    op.create_table(
        "subject_index",
        sa.Column(
            "kind",
            sa.Enum("email", "phone", name="indexkind", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_subject_index_subject_id_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("kind", "version", "digest", name=op.f("pk_subject_index")),
    )
    with op.batch_alter_table("subject_index", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_index_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "subject_key",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("master_key_id", sa.Integer(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(length=96), nullable=False),
        sa.Column("wrapped_at", keepfaith.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_subject_key_subject_id_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_subject_key")),
    )
    with op.batch_alter_table("subject_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_key_master_key_id"), ["master_key_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subject_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_key_master_key_id"))

    op.drop_table("subject_key")
    with op.batch_alter_table("subject_index", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_index_subject_id"))

    op.drop_table("subject_index")
    op.drop_table("personal_datum")
    with op.batch_alter_table("data_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_event_subject_id"))

    op.drop_table("data_event")
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.drop_index("ix_subject_status_created_at")
        batch_op.drop_index(batch_op.f("ix_subject_created_at"))

    op.drop_table("subject")
