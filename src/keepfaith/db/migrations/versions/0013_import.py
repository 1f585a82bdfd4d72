"""import: one data event per action, naming its categories

A person created with five values was five data events; now it is one, with the categories
listed (an import of 100,000 people writes 400,000 fewer rows). Existing events each become an
event of their one category.

Revision ID: 0013_import
Revises: 0012_campaigns
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013_import"
down_revision = "0012_campaigns"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table("data_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("categories", JSON, nullable=True))
    listed = "jsonb_build_array(category)" if _postgresql() else "json_array(category)"
    op.execute(f"UPDATE data_event SET categories = {listed}")
    with op.batch_alter_table("data_event", schema=None) as batch_op:
        batch_op.alter_column("categories", existing_type=JSON, nullable=False)
        batch_op.drop_column("category")


def downgrade() -> None:
    """An event of several categories becomes one event per category, as it was before."""
    with op.batch_alter_table("data_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category", sa.String(length=128), nullable=True))
    columns = "subject_id, action, actor, source, at, reason, categories"
    if _postgresql():
        op.execute(
            f"INSERT INTO data_event ({columns}, category)"
            f" SELECT {columns}, c.value FROM data_event,"
            " jsonb_array_elements_text(categories) WITH ORDINALITY AS c(value, n)"
            " WHERE c.n > 1"
        )
        op.execute("UPDATE data_event SET category = categories->>0 WHERE category IS NULL")
    else:
        op.execute(
            f"INSERT INTO data_event ({columns}, category)"
            f" SELECT {columns}, c.value FROM data_event, json_each(data_event.categories) AS c"
            " WHERE c.key > 0"
        )
        op.execute(
            "UPDATE data_event SET category = json_extract(categories, '$[0]')"
            " WHERE category IS NULL"
        )
    with op.batch_alter_table("data_event", schema=None) as batch_op:
        batch_op.alter_column("category", existing_type=sa.String(length=128), nullable=False)
        batch_op.drop_column("categories")
