"""core: installation facts

Revision ID: 0001_core
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keepfaith_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_keepfaith_meta")),
    )


def downgrade() -> None:
    op.drop_table("keepfaith_meta")
