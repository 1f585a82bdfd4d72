"""Alembic environment: always run programmatically with a connection from keepfaith.db.migrate."""

from __future__ import annotations

from alembic import context

from keepfaith.db.models import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `keepfaith db upgrade`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
