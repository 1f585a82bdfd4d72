"""Fresh, migrated databases for tests, on SQLite and on a real PostgreSQL server.

Every test gets a database that is really committed to (no rolled-back outer transaction):
the code under test opens its own transactions, several connections and sometimes several
processes, exactly as in production.

* SQLite: the schema is migrated once into a template file; each test copies it (a millisecond).
* PostgreSQL: each pytest-xdist worker migrates its own database once; each test empties every
  table with one TRUNCATE before it starts.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from keepfaith.db import migrate
from keepfaith.db.engine import Database
from keepfaith.db.models import metadata

SQLITE = "sqlite"
POSTGRES = "postgresql"
BACKENDS = (SQLITE, POSTGRES)


class TemplateDatabases:
    def __init__(self, root: Path, pg_admin_url: str, worker: str, checkout: Path) -> None:
        self.root = root
        self.pg_admin_url = pg_admin_url
        # Several checkouts (and xdist workers) may test against one server at once.
        self.worker = f"{hashlib.sha256(str(checkout).encode()).hexdigest()[:8]}_{worker}"
        self._sqlite_template: Path | None = None
        self._pg_url: str | None = None

    def sqlite_template(self) -> Path:
        if self._sqlite_template is None:
            path = self.root / "template.db"
            db = Database(f"sqlite:///{path}")
            migrate.upgrade(db)
            db.dispose()  # the last connection closing checkpoints the WAL into the file
            self._sqlite_template = path
        return self._sqlite_template

    def postgres_url(self) -> str:
        if self._pg_url is None:
            name = f"keepfaith_test_{self.worker}"
            admin = create_engine(
                make_url(self.pg_admin_url).set(drivername="postgresql+psycopg"),
                isolation_level="AUTOCOMMIT",
            )
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = (
                make_url(self.pg_admin_url).set(database=name).render_as_string(hide_password=False)
            )
            db = Database(url)
            migrate.upgrade(db)
            db.dispose()
            self._pg_url = url
        return self._pg_url

    def fresh(self, backend: str, folder: Path) -> Database:
        if backend == SQLITE:
            target = folder / "keepfaith.db"
            shutil.copyfile(self.sqlite_template(), target)
            return Database(f"sqlite:///{target}")
        db = Database(self.postgres_url())
        empty_all_tables(db)
        return db


def empty_all_tables(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with db.write_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
