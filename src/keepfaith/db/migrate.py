"""Schema migrations, shipped inside the package and run programmatically.

`serve`, `demo` and `worker` upgrade on start, so several processes may try at once: on SQLite
the migration runs inside a BEGIN IMMEDIATE transaction (one process waits for the other), on
PostgreSQL under a transaction-level advisory lock.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from keepfaith.db.engine import Database

# An arbitrary constant: the advisory lock key keepfaith's migrations hold on PostgreSQL.
_PG_MIGRATION_LOCK = 7_315_420_611


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "keepfaith.db:migrations")
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    with db.write_engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
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


def is_up_to_date(db: Database) -> bool:
    return current_revision(db) == head_revision()
