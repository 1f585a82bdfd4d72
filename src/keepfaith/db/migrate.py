"""Schema migrations, shipped inside the package and run programmatically.

`serve`, `demo` and `worker` upgrade on start, so several processes may try at once: on SQLite
the migration runs inside a BEGIN IMMEDIATE transaction (one process waits for the other), on
PostgreSQL under a transaction-level advisory lock.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from keepfaith.db.engine import Database
from keepfaith.db.revision import current_revision, head_revision, is_up_to_date

__all__ = ["current_revision", "downgrade", "head_revision", "is_up_to_date", "upgrade"]

# An arbitrary constant: the advisory lock key keepfaith's migrations hold on PostgreSQL.
_PG_MIGRATION_LOCK = 7_315_420_611


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "keepfaith.db:migrations")
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    if revision == "head" and is_up_to_date(db):
        return
    cfg = alembic_config()
    with db.write_engine.begin() as conn:
        if not db.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(db: Database, revision: str) -> None:
    cfg = alembic_config()
    with db.write_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
